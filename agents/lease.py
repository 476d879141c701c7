"""One writer per thread: a lease on the thread's runs, so two workers never fork a thread.

The check and the grab happen in one transaction that is serialised per thread: by a
transaction-scoped advisory lock on Postgres, by SQLite's single writer lock on SQLite (the
first statement is a write, so the lock is taken before anything is read). Leases expire, so a
worker that died (SIGKILL) does not hold its thread forever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.models import Run


class LeaseHeld(RuntimeError):
    """Another worker is running this thread right now."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def acquire_lease(
    engine: Engine,
    *,
    run_id: str,
    thread_id: str,
    owner: str,
    ttl_s: float = 300.0,
    now: dt.datetime | None = None,
) -> dt.datetime:
    """Give ``run_id`` the thread's lease; raise LeaseHeld naming the holder when taken."""
    now = now or _utcnow()
    expires = now + dt.timedelta(seconds=ttl_s)
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:thread))"), {"thread": thread_id}
            )
        else:
            session.execute(update(Run).where(Run.id == run_id).values(updated_at=now))
        holder = session.exec(
            select(Run).where(
                Run.thread_id == thread_id,
                Run.lease_owner.is_not(None),  # type: ignore[union-attr]
                Run.lease_owner != owner,
                Run.lease_expires_at > now,  # type: ignore[operator]
            )
        ).first()
        if holder is not None:
            session.rollback()
            raise LeaseHeld(
                f"thread {thread_id} is being run by {holder.lease_owner} (run {holder.id}) "
                f"until {holder.lease_expires_at:%Y-%m-%d %H:%M:%S %Z}"
            )
        taken = session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(lease_owner=owner, lease_expires_at=expires, updated_at=now)
        )
        if taken.rowcount != 1:
            session.rollback()
            raise LookupError(f"run {run_id} does not exist")
        session.commit()
    return expires


def release_lease(engine: Engine, *, run_id: str, owner: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        session.commit()


@contextmanager
def thread_lease(
    engine: Engine, *, run_id: str, thread_id: str, owner: str, ttl_s: float = 300.0
) -> Iterator[dt.datetime]:
    """Hold the thread's lease for the duration of the block."""
    expires = acquire_lease(engine, run_id=run_id, thread_id=thread_id, owner=owner, ttl_s=ttl_s)
    try:
        yield expires
    finally:
        release_lease(engine, run_id=run_id, owner=owner)
