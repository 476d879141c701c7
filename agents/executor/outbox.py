"""The outbox: side effects decided in our transaction, waiting to be confirmed by a system.

Rows are claimed with a guarded UPDATE that pushes ``next_attempt_at`` out by a lease, so two
dispatchers never send one row at the same time, and a dispatcher that dies mid-send only
delays the row until the lease ends; the resend reuses the row's idempotency key.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, select

from agents.executor.timing import as_utc
from connectors.models import Notification
from inventory.models import OutboxMessage, OutboxStatus

_T = OutboxMessage.__table__.c  # type: ignore[attr-defined]


def enqueue(
    session: Session,
    *,
    target: str,
    action: str,
    subject_id: str,
    payload: BaseModel,
    idempotency_key: str,
    at: datetime,
) -> OutboxMessage:
    """Add a pending side effect; a repeated key returns the row already there."""
    at = as_utc(at)
    existing = session.exec(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        if (existing.target, existing.action, existing.subject_id) != (target, action, subject_id):
            raise ValueError(
                f"outbox idempotency key {idempotency_key!r} already belongs to "
                f"{existing.target}.{existing.action} for {existing.subject_id}"
            )
        return existing
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        target=target,
        action=action,
        subject_id=subject_id,
        payload=payload.model_dump(mode="json"),
        status=OutboxStatus.PENDING,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    session.flush()
    return message


def enqueue_notification(
    session: Session,
    notification: Notification,
    *,
    subject_id: str,
    at: datetime,
    idempotency_key: str | None = None,
) -> OutboxMessage:
    """Tell a person about a decision, sent by the dispatcher like any other side effect."""
    key = idempotency_key or f"notify:{subject_id}:{notification.recipient}:{at.isoformat()}"
    return enqueue(
        session,
        target="notify",
        action="send",
        subject_id=subject_id,
        payload=notification,
        idempotency_key=key,
        at=at,
    )


def messages_for(session: Session, subject_id: str) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.subject_id == subject_id)
    return list(session.exec(stmt.order_by(col(OutboxMessage.id))).all())


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    stmt = (
        sa.select(_T.id)
        .where(
            _T.status == OutboxStatus.PENDING,
            sa.or_(_T.next_attempt_at.is_(None), _T.next_attempt_at <= now),
        )
        .order_by(_T.id)
        .limit(limit)
    )
    return [row[0] for row in session.execute(stmt)]


def claim(session: Session, message_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Take the row for one send attempt; False when another dispatcher holds or finished it."""
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(
            _T.id == message_id,
            _T.status == OutboxStatus.PENDING,
            sa.or_(_T.next_attempt_at.is_(None), _T.next_attempt_at <= now),
        )
        .values(attempts=_T.attempts + 1, next_attempt_at=lease_until, updated_at=now)
    )
    return session.execute(stmt).rowcount == 1


def _set_if_pending(session: Session, message_id: int, **values: object) -> bool:
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(_T.id == message_id, _T.status == OutboxStatus.PENDING)
        .values(**values)
    )
    return session.execute(stmt).rowcount == 1


def mark_sent(session: Session, message_id: int, *, external_ref: str, now: datetime) -> bool:
    """Record the system's reference; False when another dispatcher recorded it first."""
    return _set_if_pending(
        session,
        message_id,
        status=OutboxStatus.SENT,
        external_ref=external_ref,
        last_error=None,
        next_attempt_at=None,
        updated_at=now,
    )


def reschedule(
    session: Session, message_id: int, *, error: str, next_attempt_at: datetime, now: datetime
) -> bool:
    return _set_if_pending(
        session, message_id, last_error=error, next_attempt_at=next_attempt_at, updated_at=now
    )


def mark_failed(
    session: Session,
    message_id: int,
    *,
    error: str,
    now: datetime,
    external_ref: str | None = None,
) -> bool:
    """Give up on the row: a human must look (the error says what happened)."""
    return _set_if_pending(
        session,
        message_id,
        status=OutboxStatus.FAILED,
        last_error=error,
        external_ref=external_ref,
        next_attempt_at=None,
        updated_at=now,
    )


def cancel_unsent(
    session: Session, *, subject_id: str, target: str, action: str, now: datetime
) -> bool:
    """Withdraw a pending row no dispatcher ever tried to send; False otherwise."""
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(
            _T.subject_id == subject_id,
            _T.target == target,
            _T.action == action,
            _T.status == OutboxStatus.PENDING,
            _T.attempts == 0,
        )
        .values(status=OutboxStatus.CANCELLED, next_attempt_at=None, updated_at=now)
    )
    return session.execute(stmt).rowcount == 1
