"""Lifecycle steps as one guarded UPDATE, so two deciders racing on a subject cannot both win.

Every step is fenced (``agents.lease.fence``): inside a run that lost its thread's lease, the
transaction is refused before the status changes; outside runs (REST, the worker's sweeps, the
dispatcher) the guard on the current status is what keeps steps single."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from agents.executor.errors import InvalidTransition, OrderNotFound
from agents.lease import fence

SubjectT = TypeVar("SubjectT", bound=SQLModel)


def transition(
    session: Session,
    model: type[SubjectT],
    subject_id: str,
    *,
    allowed_from: Iterable[str],
    to: str,
    at: datetime,
    values: dict[str, Any] | None = None,
    why_refused: str = "",
) -> SubjectT:
    """Move ``subject_id`` to ``to`` if it is in ``allowed_from``; return it reloaded.

    Raises:
        OrderNotFound: no such subject.
        InvalidTransition: it exists but its status does not allow the step (a concurrent
            decision may have moved it first).
    """
    fence(session)
    table = model.__table__  # type: ignore[attr-defined]
    allowed = [str(status) for status in allowed_from]
    stmt = (
        sa.update(table)
        .where(table.c.id == subject_id, table.c.status.in_(allowed))
        .values(status=str(to), updated_at=at, **(values or {}))
    )
    result = session.execute(stmt)
    subject_type = table.name
    if result.rowcount != 1:
        current = session.execute(
            sa.select(table.c.status).where(table.c.id == subject_id)
        ).scalar_one_or_none()
        if current is None:
            raise OrderNotFound(subject_type, subject_id)
        why = why_refused or f"allowed only from {', '.join(allowed)}"
        raise InvalidTransition(subject_type, subject_id, current, str(to), why)
    subject = session.get(model, subject_id, populate_existing=True)
    assert subject is not None
    return subject


def load(session: Session, model: type[SubjectT], subject_id: str) -> SubjectT:
    subject = session.get(model, subject_id, populate_existing=True)
    if subject is None:
        raise OrderNotFound(model.__tablename__, subject_id)  # type: ignore[attr-defined]
    return subject
