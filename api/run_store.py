"""Runs and threads in the pool: admission, the per-thread busy flag, and final status.

A thread runs one thing at a time. The busy flag is taken with one conditional UPDATE, so it
holds across several API and worker processes on Postgres as well as on SQLite.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor.audit import record_event
from api.errors import ApiError, conflict, not_found
from inventory.models import AgentThread, Run, RunStatus

#: How long a run's lease lasts. A run whose lease has lapsed belongs to a process that died;
#: the worker takes it over, and a thread busy for longer than this may be taken too.
LEASE = timedelta(minutes=10)


#: Who holds leases taken by this process.
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def create_thread(
    session: Session,
    *,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_by: str,
    assistant_id: str | None = None,
) -> AgentThread:
    now = utcnow()
    thread = AgentThread(
        id=thread_id or new_id(),
        assistant_id=assistant_id,
        status="idle",
        created_by=created_by,
        thread_metadata=metadata or {},
        created_at=now,
        updated_at=now,
    )
    session.add(thread)
    return thread


def get_thread(session: Session, thread_id: str) -> AgentThread:
    thread = session.get(AgentThread, thread_id)
    if thread is None:
        raise not_found("thread", thread_id, field="thread_id")
    return thread


def claim_thread(
    engine: Engine, thread_id: str, assistant_id: str, *, takeover: bool = False
) -> None:
    """Mark the thread busy for one run, or raise 409 when another run holds it.

    ``takeover`` is for the worker resuming a run whose lease lapsed: its process died while
    the thread was busy with that very run.
    """
    now = utcnow()
    table = AgentThread.__table__
    free = sa.or_(table.c.status != "busy", table.c.updated_at < now - LEASE)
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(table)
            .where(table.c.id == thread_id)
            .where(sa.true() if takeover else free)
            .values(status="busy", updated_at=now, assistant_id=assistant_id)
        )
    if result.rowcount != 1:
        raise conflict(
            f"thread {thread_id!r} is busy with another run; wait for it to finish",
            field="thread_id",
            value=thread_id,
        )


def release_thread(engine: Engine, thread_id: str, status: str) -> None:
    table = AgentThread.__table__
    with engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.id == thread_id)
            .values(status=status, updated_at=utcnow())
        )


def record_run(
    session: Session,
    *,
    thread_id: str,
    assistant_id: str,
    trigger: str,
    status: RunStatus,
    run_input: dict[str, Any],
    actor: str,
    run_id: str | None = None,
) -> Run:
    now = utcnow()
    run = Run(
        id=run_id or new_id(),
        assistant_id=assistant_id,
        thread_id=thread_id,
        trigger=trigger,
        status=str(status),
        input=run_input,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    record_event(
        session,
        at=now,
        actor=actor,
        kind=f"run.{status}",
        subject_type="run",
        subject_id=run.id,
        run_id=run.id,
        payload={"assistant_id": assistant_id, "thread_id": thread_id, "trigger": trigger},
    )
    return run


def set_run_status(
    engine: Engine,
    run_id: str,
    status: RunStatus,
    error: str | None = None,
    *,
    lease_owner: str | None = None,
) -> None:
    """Move the run to ``status``; a running run holds a lease, any other status drops it."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise ApiError(404, f"no run with id {run_id!r}", field="run_id", value=run_id)
        run.status = str(status)
        run.error = error
        run.updated_at = now
        running = status == RunStatus.RUNNING
        run.lease_owner = (lease_owner or run.lease_owner or PROCESS_ID) if running else None
        run.lease_expires_at = now + LEASE if running else None
        session.add(run)
        session.commit()
