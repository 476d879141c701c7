"""The service's background jobs: building the demo world on first start, fitting forecasters.

Slow work never blocks start-up or a request: a job runs on one background thread (jobs run one
after another — on two cores, two fits at once only slow each other down), reports how far it
has come, and is listed at ``/v1/jobs``. Jobs live in the process that runs them; what they
produce (the pool, stored forecasters) is durable, so a restart simply skips finished work.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from inventory.clock import wall_clock

log = logging.getLogger(__name__)

JobKind = Literal["demo_world", "forecast_fit"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
#: Told how far a job has come: the fraction done (0..1) and what it is doing now.
Progress = Callable[[float, str], None]
#: A job's work: takes its progress callback, returns a small JSON-able result.
Work = Callable[[Progress], dict[str, Any] | None]


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


class JobRunner:
    """Runs submitted jobs in order on one daemon thread and keeps their state for listing."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobView] = {}
        self._work: dict[str, Work] = {}
        self._finished: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

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
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else self._with_elapsed(job)

    def list(self) -> list[JobView]:
        """Newest first."""
        with self._lock:
            jobs = [self._with_elapsed(job) for job in self._jobs.values()]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

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
            self._jobs[job_id] = self._jobs[job_id].model_copy(update=changes)

    @staticmethod
    def _with_elapsed(job: JobView) -> JobView:
        if job.started_at is None:
            return job
        elapsed = ((job.finished_at or wall_clock()) - job.started_at).total_seconds()
        return job.model_copy(update={"elapsed_s": round(elapsed, 1)})
