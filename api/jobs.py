"""The service's background jobs: building the demo world on first start, fitting forecasters.

Slow work never blocks start-up or a request: a job runs on one background thread (jobs run one
after another — on two cores, two fits at once only slow each other down), reports how far it
has come, and is listed at ``/v1/jobs``. Once the pool is ready (after the demo world's first
build has put it in place) the runner is attached to a ``JobStore``: every job is recorded in the
pool's ``job`` table, so a restarted or a second process still lists it. A job whose process died
is marked failed ("interrupted") by the next process that attaches. What jobs produce (the pool,
stored forecasters) is durable, so a restart simply skips finished work.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from inventory.clock import wall_clock
from inventory.models import JobRecord

log = logging.getLogger(__name__)

JobKind = Literal["demo_world", "forecast_fit"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
#: Told how far a job has come: the fraction done (0..1) and what it is doing now.
Progress = Callable[[float, str], None]
#: A job's work: takes its progress callback, returns a small JSON-able result.
Work = Callable[[Progress], dict[str, Any] | None]
#: What a job id looks like (``job-`` and 12 hex digits).
JOB_ID = re.compile(r"job-[0-9a-f]{12}")
#: Progress is written to the pool at most this often per job (status changes at once).
PERSIST_EVERY_S = 1.0
#: How many stored jobs ``/v1/jobs`` lists at most (newest first).
LIST_LIMIT = 100


class JobView(BaseModel):
    """A job as ``/v1/jobs`` shows it. Times are wall-clock UTC (real elapsed time)."""

    id: str
    kind: JobKind
    title: str
    status: JobStatus
    progress: float = Field(ge=0.0, le=1.0, description="Fraction done, 0..1.")
    message: str = Field(description="What the job is doing now, or how it ended.")
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    elapsed_s: float | None = Field(default=None, description="Seconds running (or ran).")
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


class JobStore:
    """Job records in the pool (table ``job``), written by the process that runs them."""

    def __init__(self, engine: Engine) -> None:
        from agents.lease import new_holder  # host:pid:nonce, as the run leases name holders

        self.engine = engine
        self.owner = new_holder("jobs")

    def save(self, job: JobView) -> None:
        fields = job.model_dump(exclude={"elapsed_s"})
        with Session(self.engine) as session:
            row = session.get(JobRecord, job.id)
            if row is None:
                row = JobRecord(**fields, owner=self.owner, updated_at=wall_clock())
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.updated_at = wall_clock()
            session.add(row)
            session.commit()

    def get(self, job_id: str) -> JobView | None:
        with Session(self.engine) as session:
            row = session.get(JobRecord, job_id)
            return None if row is None else _view(row)

    def list(self, limit: int = LIST_LIMIT) -> list[JobView]:
        """Newest first."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(JobRecord).order_by(col(JobRecord.created_at).desc()).limit(limit)
            ).all()
            return [_view(row) for row in rows]

    def interrupt_orphans(self) -> list[str]:
        """Mark failed the unfinished jobs of processes of this host that no longer exist (a
        crash or a restart); returns their ids. Jobs of other hosts are left as they are."""
        from agents.lease import holder_alive

        now = wall_clock()
        with Session(self.engine) as session:
            rows = session.exec(
                select(JobRecord).where(col(JobRecord.status).in_(("queued", "running")))
            ).all()
            orphans = [row for row in rows if not holder_alive(row.owner)]
            for row in orphans:
                row.status, row.finished_at, row.updated_at = "failed", now, now
                row.error = "interrupted: the process that ran it stopped before it finished"
                row.message = f"failed: {row.error}"
                session.add(row)
            session.commit()
            return [row.id for row in orphans]


def _view(row: JobRecord) -> JobView:
    fields = row.model_dump(exclude={"owner", "updated_at"})
    for name in ("created_at", "started_at", "finished_at"):  # SQLite returns naive UTC
        moment = fields[name]
        if moment is not None and moment.tzinfo is None:
            fields[name] = moment.replace(tzinfo=dt.UTC)
    return JobRunner.with_elapsed(JobView.model_validate(fields))


class JobRunner:
    """Runs submitted jobs in order on one daemon thread and keeps their state for listing;
    once attached to a ``JobStore``, also records them in the pool."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobView] = {}
        self._work: dict[str, Work] = {}
        self._finished: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._store: JobStore | None = None
        self._persisted_at: dict[str, float] = {}

    def attach(self, store: JobStore) -> None:
        """Record jobs in the pool from now on (the ones so far too), after marking the jobs
        that a dead process left unfinished as interrupted."""
        try:
            interrupted = store.interrupt_orphans()
        except Exception:  # a pool the jobs cannot be recorded in still serves
            log.warning("job records unavailable in this pool; jobs stay in memory", exc_info=True)
            return
        if interrupted:
            log.warning("jobs interrupted by a stopped process: %s", ", ".join(interrupted))
        with self._lock:
            self._store = store
            jobs = list(self._jobs.values())
        for job in jobs:
            self._persist(job, force=True)

    def submit(self, kind: JobKind, title: str, work: Work) -> JobView:
        job = JobView(
            id=f"job-{uuid.uuid4().hex[:12]}",
            kind=kind,
            title=title,
            status="queued",
            progress=0.0,
            message="waiting for the jobs before it",
            created_at=wall_clock(),
        )
        with self._lock:
            self._jobs[job.id] = job
            self._work[job.id] = work
            self._finished[job.id] = threading.Event()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run_all, name="stockpilot-jobs", daemon=True
                )
                self._thread.start()
        self._persist(job, force=True)
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> JobView | None:
        """This process's job, else one recorded in the pool (another process's, or older)."""
        with self._lock:
            job = self._jobs.get(job_id)
            store = self._store
        if job is not None:
            return self.with_elapsed(job)
        if store is None or not JOB_ID.fullmatch(job_id):  # never query the pool with junk
            return None
        return store.get(job_id)

    def list(self) -> list[JobView]:
        """Newest first: this process's jobs, and the pool's records of the others."""
        with self._lock:
            jobs = {job.id: self.with_elapsed(job) for job in self._jobs.values()}
            store = self._store
        if store is not None:
            for job in store.list():
                jobs.setdefault(job.id, job)
        return sorted(jobs.values(), key=lambda j: j.created_at, reverse=True)[:LIST_LIMIT]

    def active(self, kind: JobKind) -> JobView | None:
        """The queued or running job of ``kind``, if any."""
        return next((j for j in self.list() if j.kind == kind and not j.done), None)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job has finished (tests, the CLI); returns its final state."""
        event = self._finished[job_id]
        if not event.wait(timeout):
            raise TimeoutError(f"job {job_id} still running after {timeout} s")
        job = self.get(job_id)
        assert job is not None
        return job

    def stop(self) -> None:
        """Take no more jobs; a running one ends on its daemon thread or with the process."""
        self._queue.put(None)

    # -- the worker thread -----------------------------------------------------------------

    def _run_all(self) -> None:
        while (job_id := self._queue.get()) is not None:
            self._run(job_id)

    def _run(self, job_id: str) -> None:
        work = self._work.pop(job_id)
        self._update(job_id, status="running", started_at=wall_clock(), message="started")

        def progress(fraction: float, message: str) -> None:
            self._update(job_id, progress=min(max(fraction, 0.0), 1.0), message=message)

        try:
            result = work(progress)
        except Exception as exc:  # a job's failure is its state, never the thread's death
            log.exception("job %s failed", job_id)
            self._update(
                job_id,
                status="failed",
                finished_at=wall_clock(),
                error=f"{type(exc).__name__}: {exc}",
                message=f"failed: {exc}",
            )
        else:
            job = self.get(job_id)
            self._update(
                job_id,
                status="succeeded",
                progress=1.0,
                finished_at=wall_clock(),
                result=result,
                message=job.message if job and job.message != "started" else "done",
            )
        finally:
            self._finished[job_id].set()

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs[job_id] = self._jobs[job_id].model_copy(update=changes)
        self._persist(job, force="status" in changes)

    def _persist(self, job: JobView, *, force: bool) -> None:
        """Write the job to the pool (progress at most every PERSIST_EVERY_S); a failed write
        is logged, never the job's failure."""
        store = self._store
        if store is None:
            return
        now = time.monotonic()
        if not force and now - self._persisted_at.get(job.id, 0.0) < PERSIST_EVERY_S:
            return
        self._persisted_at[job.id] = now
        try:
            store.save(job)
        except Exception:
            log.warning("could not record job %s in the pool", job.id, exc_info=True)

    @staticmethod
    def with_elapsed(job: JobView) -> JobView:
        if job.started_at is None:
            return job
        elapsed = ((job.finished_at or wall_clock()) - job.started_at).total_seconds()
        return job.model_copy(update={"elapsed_s": round(elapsed, 1)})


def started_early(work: Work) -> Work:
    """Start ``work`` now on its own thread and return a ``Work`` for the job runner that joins
    it: the progress so far is replayed, later progress forwarded, and the result returned (or
    the error raised). ``serve`` starts the demo world's first build this way while the service's
    modules are still importing; on two cores both go on at once."""
    lock = threading.Lock()
    latest: list[tuple[float, str]] = []
    forward: list[Progress] = []
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(fraction: float, message: str) -> None:
        with lock:
            latest[:] = [(fraction, message)]
            targets = list(forward)
        for target in targets:
            target(fraction, message)

    def run() -> None:
        try:
            outcome["result"] = work(progress)
        except BaseException as exc:  # handed to the job, which records it as its failure
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="stockpilot-prepare", daemon=True).start()

    def joined(report: Progress) -> dict[str, Any] | None:
        with lock:
            forward.append(report)
            so_far = list(latest)
        for fraction, message in so_far:
            report(fraction, message)
        done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    return joined
