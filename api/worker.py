"""The background worker: runs admitted alert runs and takes over runs whose process died.

Claiming is one conditional UPDATE on the run row (admitted, or running with a lapsed lease), so
several worker processes on one Postgres pool never start the same run twice. Because every
superstep is checkpointed, a taken-over run continues from its last checkpoint instead of
starting again.
"""

from __future__ import annotations

import logging
import threading
import uuid

import sqlalchemy as sa
from sqlmodel import Session, select

from api import run_store
from api.auth import Principal, Role
from api.decisions import service_clock, sweep_expired
from api.langgraph_compat.runner import GraphRunner
from inventory import reservations
from inventory.db import session_scope
from inventory.models import Run, RunStatus

log = logging.getLogger(__name__)

#: Who proposals of alert runs are requested by (so any human approver is "another person").
WORKER_PRINCIPAL = Principal(name="stockpilot-worker", roles=[])


class Worker:
    def __init__(
        self,
        runner: GraphRunner,
        *,
        wake: threading.Event | None = None,
        poll_s: float = 2.0,
        owner: str | None = None,
    ) -> None:
        self.runner = runner
        self.engine = runner.engine
        self.wake = wake or threading.Event()
        self.poll_s = poll_s
        self.owner = owner or f"{run_store.PROCESS_ID}:worker-{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stockpilot-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:
                log.exception("worker pass failed; retrying after %.1f s", self.poll_s)
            try:
                sweep_expired(self.runner)
            except Exception:
                log.exception("expiry sweep failed; retrying after %.1f s", self.poll_s)
            try:
                self.expire_reservations()
            except Exception:
                log.exception("reservation sweep failed; retrying after %.1f s", self.poll_s)
            self.wake.wait(self.poll_s)
            self.wake.clear()

    def expire_reservations(self) -> int:
        """Give back channel holds whose TTL passed unconfirmed (DESIGN §2)."""
        with session_scope(self.engine) as session:
            return reservations.sweep_expired(session, now=service_clock(self.runner)())

    def run_pending(self) -> int:
        """Run every claimable run once; returns how many this worker ran."""
        done = 0
        for run_id in self._candidates():
            if self._stop.is_set():
                break
            if self._claim(run_id):
                self._run(run_id)
                done += 1
        return done

    def _candidates(self) -> list[str]:
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.exec(
                select(Run.id).where(_claimable()).order_by(Run.created_at).limit(50)  # type: ignore[arg-type]
            ).all()
        return list(rows)

    def _claim(self, run_id: str) -> bool:
        now = run_store.utcnow()
        with Session(self.engine) as session:
            result = session.execute(
                sa.update(Run)
                .where(Run.id == run_id, _claimable())  # type: ignore[arg-type]
                .values(
                    status=str(RunStatus.RUNNING),
                    lease_owner=self.owner,
                    lease_expires_at=now + run_store.LEASE,
                    updated_at=now,
                )
            )
            session.commit()
        return result.rowcount == 1

    def _run(self, run_id: str) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            run = session.get(Run, run_id)
        assert run is not None
        try:
            graph = self.runner.graph(run.assistant_id)
            state = graph.get_state({"configurable": {"thread_id": run.thread_id}})
            if state.interrupts:  # it reached its approval before the process died
                run_store.set_run_status(self.engine, run_id, RunStatus.INTERRUPTED)
                run_store.release_thread(self.engine, run.thread_id, "interrupted")
                return
            resuming = bool(state.next)
            ticket = self.runner.admit(
                thread_id=run.thread_id,
                assistant_id=run.assistant_id,
                principal=_recorded_principal(run) if resuming else WORKER_PRINCIPAL,
                graph_input=None if resuming else _graph_input(run),
                trigger=run.trigger,
                run_id=run_id,
                takeover=True,
                lease_owner=self.owner,
            )
        except Exception as exc:
            log.exception("could not start run %s", run_id)
            run_store.set_run_status(self.engine, run_id, RunStatus.FAILED, error=str(exc))
            return
        log.info(
            "%s run %s (thread %s)", "resuming" if resuming else "starting", run_id, run.thread_id
        )
        outcome = self.runner.run_to_end(ticket)
        log.info("run %s ended %s", run_id, outcome.status)


def _claimable() -> sa.ColumnElement[bool]:
    """Admitted alert runs, and running runs whose process died: their lease lapsed, or they
    never took one (a run row is written just before its lease, so give it a lease's length)."""
    now = run_store.utcnow()
    return sa.or_(
        sa.and_(Run.status == str(RunStatus.ADMITTED), Run.trigger == "alert"),
        sa.and_(
            Run.status == str(RunStatus.RUNNING),
            sa.or_(
                Run.lease_expires_at < now,  # type: ignore[operator]
                sa.and_(
                    Run.lease_expires_at.is_(None),  # type: ignore[union-attr]
                    Run.updated_at < now - run_store.LEASE,  # type: ignore[operator]
                ),
            ),
        ),
    )


def _graph_input(run: Run) -> dict | None:
    """Alert runs store the graph input itself; API runs store their request beside it."""
    if run.trigger == "alert":
        return run.input
    return (run.input or {}).get("input")


def _recorded_principal(run: Run) -> Principal:
    """Who a taken-over run decides as: the authenticated caller the API recorded with its
    resume (so a decision interrupted by a crash is applied as that person), else the worker,
    which may decide nothing."""
    resume = ((run.input or {}).get("command") or {}).get("resume")
    who = resume.get("principal") if isinstance(resume, dict) else None
    if isinstance(who, dict) and isinstance(who.get("name"), str):
        roles = [Role(r) for r in who.get("roles") or [] if r in Role._value2member_map_]
        return Principal(name=who["name"], roles=roles)
    return WORKER_PRINCIPAL
