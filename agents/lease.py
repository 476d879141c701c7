"""One writer per thread: the lease a run holds on its thread, renewed while it runs, fenced.

A run takes its thread's lease in one transaction serialised per thread (a transaction-scoped
advisory lock on PostgreSQL, SQLite's writer lock on SQLite). The lease is short and renewed by a
heartbeat while the run executes, so a holder that died is noticed quickly: at once when its
process is gone (same host), within one lease length otherwise. A taken-over lease gets a new
holder token; every fenced write (the run's status, outbox rows, approval decisions, order and
markdown status steps) checks the token in its own transaction, so a stale holder that wakes up
after a takeover cannot write any more. Graph checkpoints live outside the pool's transactions
(their own connection); they are checked just before each write (``verify_current``, see
``agents.persistence.fenced``). Every takeover writes an audit row.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor.audit import record_event
from inventory.db import begin_write
from inventory.models import AgentThread, Run, RunStatus

log = logging.getLogger(__name__)

#: How long a lease lasts without a heartbeat; the heartbeat renews it every third of that.
DEFAULT_TTL_S = 30.0
HOST = socket.gethostname()


class LeaseHeld(RuntimeError):
    """Another live holder is running this thread right now."""


class LeaseLost(RuntimeError):
    """This holder's lease was taken over: its writes are refused (fencing)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def new_holder(role: str = "run") -> str:
    """A holder token: ``host:pid:role-nonce``; unique per acquisition, so it doubles as the
    fencing token, and names the process so a dead holder on this host is recognised."""
    return f"{HOST}:{os.getpid()}:{role}-{uuid.uuid4().hex[:8]}"


def holder_alive(holder: str) -> bool:
    """False only when the holder is a process of this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != HOST or not pid_text.isdigit():
        return True  # another machine (or a foreign token): only its lease's expiry can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lapse_reason(run: Run, now: dt.datetime) -> str | None:
    """Why ``run``'s lease may be taken over (``expired`` | ``holder_gone``), None while live."""
    if run.lease_owner is None:
        return "expired"
    expires = _aware(run.lease_expires_at)
    if expires is None or expires <= now:
        return "expired"
    if not holder_alive(run.lease_owner):
        return "holder_gone"
    return None


def _serialise_per_thread(session: Session, thread_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:thread))"), {"thread": thread_id}
        )
    else:
        begin_write(session)


@dataclass
class Lease:
    """A run's hold on its thread. ``token`` is the fencing token."""

    engine: Engine
    run_id: str
    thread_id: str
    token: str
    ttl_s: float
    lost: threading.Event = field(default_factory=threading.Event)

    def renew(self, now: dt.datetime | None = None) -> bool:
        """Push the expiry out; False (and ``lost`` set) when another holder took over."""
        now = now or utcnow()
        with Session(self.engine) as session:
            renewed = session.execute(
                sa.update(Run)
                .where(Run.id == self.run_id, Run.lease_owner == self.token)  # type: ignore[arg-type]
                .values(lease_expires_at=now + dt.timedelta(seconds=self.ttl_s))
            ).rowcount
            session.commit()
        if renewed != 1:
            self.lost.set()
        return renewed == 1

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"run {self.run_id} lost its lease on thread {self.thread_id}")

    def fence(self, session: Session) -> None:
        """Refuse this transaction's writes unless this holder still holds the lease.

        On PostgreSQL the run row is share-locked, so a takeover waits for this transaction and
        the check holds until it commits; SQLite has one writer at a time anyway.
        """
        stmt = select(Run.id).where(Run.id == self.run_id, Run.lease_owner == self.token)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(read=True)
        if session.exec(stmt).first() is None:
            self.lost.set()
            raise LeaseLost(
                f"run {self.run_id} no longer holds thread {self.thread_id}: write refused"
            )

    def verify(self) -> None:
        """Refuse unless this holder still holds the lease, read from the pool now.

        For writes that cannot share the pool's transaction (graph checkpoints): the check and
        the write are two transactions, so a takeover that lands between them is not caught
        (a window of one checkpoint write); the next write, or ``fence``, refuses.
        """
        self.check()
        with Session(self.engine) as session:
            held = session.exec(
                select(Run.id).where(Run.id == self.run_id, Run.lease_owner == self.token)
            ).first()
        if held is None:
            self.lost.set()
            raise LeaseLost(
                f"run {self.run_id} no longer holds thread {self.thread_id}: checkpoint refused"
            )

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease every third of its length while the block runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl_s / 3):
                try:
                    if not self.renew():
                        log.error("run %s: lease taken over; stopping", self.run_id)
                        return
                except Exception:  # a database hiccup: try again at the next beat
                    log.exception("run %s: heartbeat failed", self.run_id)

        beater = threading.Thread(target=beat, name=f"lease-{self.run_id}", daemon=True)
        beater.start()
        try:
            yield
        finally:
            stop.set()
            beater.join(timeout=5)

    def close(self, status: RunStatus, *, error: str | None = None) -> bool:
        """Record the run's end and free the thread; refused (False) after a takeover."""
        now = utcnow()
        thread_status = {
            RunStatus.INTERRUPTED: "interrupted",
            RunStatus.SUCCEEDED: "idle",
        }.get(status, "error")
        with Session(self.engine) as session:
            closed = session.execute(
                sa.update(Run)
                .where(Run.id == self.run_id, Run.lease_owner == self.token)  # type: ignore[arg-type]
                .values(
                    status=str(status),
                    error=error,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            ).rowcount
            if closed == 1:
                session.execute(
                    sa.update(AgentThread)
                    .where(AgentThread.id == self.thread_id)  # type: ignore[arg-type]
                    .values(status=thread_status, updated_at=now)
                )
            session.commit()
        if closed != 1:
            self.lost.set()
            log.warning(
                "run %s: lease lost before it ended; its status was not written", self.run_id
            )
        return closed == 1


def acquire_lease(
    engine: Engine,
    *,
    run_id: str,
    thread_id: str,
    owner: str | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    now: dt.datetime | None = None,
    actor: str = "stockpilot",
    new_run: Callable[[Session], object] | None = None,
    claim_from: tuple[str, ...] | None = None,
) -> Lease:
    """Give ``run_id`` its thread's lease, taking over holders that died (with an audit row).

    ``new_run`` adds the run's row in the same transaction, so a refused run leaves nothing.
    Raises LeaseHeld naming the live holder, LookupError when the run does not exist.
    """
    token = owner or new_holder()
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        _serialise_per_thread(session, thread_id)
        holders = session.exec(
            select(Run).where(
                Run.thread_id == thread_id,
                Run.lease_owner.is_not(None),  # type: ignore[union-attr]
                Run.lease_owner != token,
            )
        ).all()
        for holder in holders:
            reason = lapse_reason(holder, now)
            if reason is None:
                # Worded before the rollback: it expires the holder, and reading it again could
                # find its lease already released (expiry None) by a run that just ended.
                held = LeaseHeld(
                    f"thread {thread_id} is being run by {holder.lease_owner} (run {holder.id}) "
                    f"until {_aware(holder.lease_expires_at):%Y-%m-%d %H:%M:%S %Z}"
                )
                session.rollback()
                raise held
            _take_over(
                session, holder, by_run=run_id, by_holder=token, reason=reason, now=now, actor=actor
            )
        if new_run is not None:
            new_run(session)
            session.flush()
        run = session.get(Run, run_id)
        if run is None:
            session.rollback()
            raise LookupError(f"run {run_id} does not exist")
        if claim_from is not None and run.status not in claim_from:
            session.rollback()
            raise LeaseHeld(f"run {run_id} is already {run.status}")
        run.status = str(RunStatus.RUNNING)
        run.lease_owner = token
        run.lease_expires_at = now + dt.timedelta(seconds=ttl_s)
        run.updated_at = now
        session.add(run)
        thread = session.get(AgentThread, thread_id)
        if thread is not None:
            thread.status, thread.updated_at = "busy", now
            session.add(thread)
        session.commit()
    return Lease(engine=engine, run_id=run_id, thread_id=thread_id, token=token, ttl_s=ttl_s)


def _take_over(
    session: Session,
    holder: Run,
    *,
    by_run: str,
    by_holder: str,
    reason: str,
    now: dt.datetime,
    actor: str,
) -> None:
    """Strip a dead holder of its lease; its run, when not the one carried on, ends failed."""
    record_event(
        session,
        kind="run.lease_taken_over",
        actor=actor,
        at=now,
        subject_type="run",
        subject_id=holder.id,
        run_id=holder.id,
        payload={
            "thread_id": holder.thread_id,
            "previous_holder": holder.lease_owner,
            "previous_expiry": (_aware(holder.lease_expires_at) or now).isoformat(),
            "reason": reason,
            "taken_by_run": by_run,
            "new_holder": by_holder,
        },
    )
    if holder.id != by_run:
        holder.status = str(RunStatus.FAILED)
        holder.error = f"abandoned ({reason}): thread taken over by run {by_run}"
    holder.lease_owner, holder.lease_expires_at, holder.updated_at = None, None, now
    session.add(holder)


#: The lease of the run executing in this context; fenced writes check it.
_CURRENT: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "stockpilot_lease", default=None
)


@contextmanager
def holding(lease: Lease) -> Iterator[Lease]:
    """Make ``lease`` the one fenced writes in this context check, and keep it alive."""
    reset = _CURRENT.set(lease)
    try:
        with lease.heartbeat():
            yield lease
    finally:
        try:
            _CURRENT.reset(reset)
        except ValueError:  # a generator closed from another context: just clear it
            _CURRENT.set(None)


def fence(session: Session) -> None:
    """Refuse the transaction when the run executing here lost its lease (no-op outside runs)."""
    lease = _CURRENT.get()
    if lease is not None:
        lease.fence(session)


def verify_current() -> None:
    """``Lease.verify`` for the run executing here (no-op outside runs): checkpoint writes."""
    lease = _CURRENT.get()
    if lease is not None:
        lease.verify()
