"""Threads of the LangGraph-compatible API in the pool. Runs on them (their row, the thread's
lease and status) go through the one run path, ``agents.runs``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from api.errors import not_found
from inventory.models import AgentThread


def utcnow() -> datetime:
    return datetime.now(UTC)


def get_thread(session: Session, thread_id: str) -> AgentThread:
    thread = session.get(AgentThread, thread_id)
    if thread is None:
        raise not_found("thread", thread_id, field="thread_id")
    return thread
