"""Threads of the LangGraph-compatible API in the pool. Runs on them (their row, the thread's
lease and status) go through the one run path, ``agents.runs``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from api.errors import not_found
from inventory.models import AgentThread


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
