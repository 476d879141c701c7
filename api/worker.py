"""The background worker: runs admitted alert runs and takes over runs whose holder died.

A run is claimed by taking its thread's lease on the one run path (``agents.runs``): admitted
alert runs, and running runs whose lease lapsed or whose holder process is gone (at once, not
after a lease length). Several worker processes on one Postgres pool never run one thread at
once; because every superstep is checkpointed, a taken-over run continues from its last
checkpoint, and the takeover is audited. Each pass also resumes, once, every thread still
interrupted on an approval settled meanwhile (expired, withdrawn, or decided through the API by
a request that died before its resume ran: ``api.decisions.sweep_expired``), and finishes
resumes that failed with an ordinary error after their decision was recorded
(``api.decisions.recover_failed``, a few attempts per thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, select

from agents.lease import lapse_reason, utcnow
from agents.runs import LeaseHeld
from api.auth import Principal, Role
from api.decisions import recover_failed, service_clock, sweep_expired
from api.langgraph_compat.runner import GraphRunner
from inventory import reservations
from inventory.db import session_scope
from inventory.models import AgentThread, Run, RunStatus

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
        hold_alerts: Callable[[], str | None] | None = None,
    ) -> None:
        """``hold_alerts``: why new alert runs should wait for now (None: they need not);
        asked only when one is waiting. Runs already started are never held."""
        self.runner = runner
        self.engine = runner.engine
        self.wake = wake or threading.Event()
        self.poll_s = poll_s
        self.hold_alerts = hold_alerts
        self._held_for: str | None = None
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
                recover_failed(self.runner)
            except Exception:
                log.exception(
                    "recovering failed resumes failed; retrying after %.1f s", self.poll_s
                )
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
        for run in self._candidates():
            if self._stop.is_set():
                break
            if self._run(run):
                done += 1
        return done

    def _candidates(self) -> list[Run]:
        """Admitted alert runs, and running runs whose holder is gone or whose lease lapsed.

        Only runs on the service's threads: a CLI run that died is taken over by whoever runs
        its thread next (``agents.lease``), not by the service.
        """
        now = utcnow()
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.exec(
                select(Run)
                .join(AgentThread, AgentThread.id == Run.thread_id)  # type: ignore[arg-type]
                .where(
                    sa.or_(
                        sa.and_(Run.status == str(RunStatus.ADMITTED), Run.trigger == "alert"),
                        Run.status == str(RunStatus.RUNNING),
                    )
                )
                .order_by(Run.created_at)  # type: ignore[arg-type]
                .limit(200)
            ).all()
        runs = [
            r for r in rows if r.status == RunStatus.ADMITTED or lapse_reason(r, now) is not None
        ][:50]
        waiting = any(r.status == RunStatus.ADMITTED for r in runs)
        held = self.hold_alerts() if waiting and self.hold_alerts is not None else None
        if held is not None and self._held_for is None:  # said once, not at every poll
            log.info("new alert runs wait: %s", held)
        elif held is None and self._held_for is not None:
            log.info("new alert runs go on")
        self._held_for = held
        if held is not None:
            runs = [r for r in runs if r.status != RunStatus.ADMITTED]
        return runs

    def _run(self, run: Run) -> bool:
        try:
            graph = self.runner.graph(run.assistant_id)
            ticket = self.runner.admit(
                thread_id=run.thread_id,
                assistant_id=run.assistant_id,
                principal=WORKER_PRINCIPAL,
                graph_input=None,
                trigger=run.trigger,
                run_id=run.id,
                claim_from=(RunStatus.ADMITTED, RunStatus.RUNNING),
            )
        except Exception as exc:  # busy (another worker got it first) or unknown assistant
            if not _is_busy(exc):
                log.warning("could not take run %s: %s", run.id, exc)
            return False
        state = graph.get_state({"configurable": {"thread_id": run.thread_id}})
        if state.interrupts:  # it reached its approval before its holder died
            ticket.admitted.lease.close(RunStatus.INTERRUPTED)
            return True
        resuming = bool(state.next)
        graph_input = None if resuming else _graph_input(run)
        if resuming:  # decide as whoever the interrupted run was deciding for
            who = _recorded_principal(run)
            ticket.admitted.configurable["principal"] = who.as_resume_principal()
            ticket.admitted.configurable["requested_by"] = who.name
        ticket = type(ticket)(
            admitted=ticket.admitted,
            principal=ticket.principal,
            graph_input=graph_input,
            stream_modes=ticket.stream_modes,
        )
        log.info(
            "%s run %s (thread %s)", "resuming" if resuming else "starting", run.id, run.thread_id
        )
        outcome = self.runner.run_to_end(ticket)
        log.info("run %s ended %s", run.id, outcome.status)
        return True


def _is_busy(exc: Exception) -> bool:
    return isinstance(exc, LeaseHeld) or getattr(exc, "status_code", None) == 409


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
