"""The outbox: side effects decided in our transaction, waiting to be confirmed by a system.

Rows are claimed with a guarded UPDATE that pushes ``next_attempt_at`` out by a lease, so two
dispatchers never send one row at the same time, and a dispatcher that dies mid-send only
delays the row until the lease ends; the resend reuses the row's idempotency key.

A row written inside a run is fenced by the run's lease (``agents.lease.fence``): a run that
lost its thread to a takeover cannot add side effects. Committing a new row wakes this process's
dispatchers, so small orders go out at once without anyone draining the outbox inline.
"""

from __future__ import annotations

import threading
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, col, select

from agents.executor.timing import as_utc
from agents.lease import fence
from connectors.models import Notification
from inventory.models import OutboxMessage, OutboxStatus

_T = OutboxMessage.__table__.c  # type: ignore[attr-defined]

#: Set when a transaction that added outbox rows commits; dispatcher loops wait on it.
NEW_ROWS = threading.Event()


def _wake_dispatchers(_session: Session) -> None:
    NEW_ROWS.set()


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
    fence(session)
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
    sa.event.listen(session, "after_commit", _wake_dispatchers, once=True)
    return message


#: The outbox target of notifications (the notify connector).
NOTIFY_TARGET = "notify"


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
        target=NOTIFY_TARGET,
        action="send",
        subject_id=subject_id,
        payload=notification,
        idempotency_key=key,
        at=at,
    )


def messages_for(session: Session, subject_id: str) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.subject_id == subject_id)
    return list(session.exec(stmt.order_by(col(OutboxMessage.id))).all())


def any_pending(session: Session, *, subject_id: str, target: str, action: str) -> bool:
    """Whether a row of this kind for ``subject_id`` still waits to be delivered (read from the
    table, not the session: the guarded UPDATEs here bypass the identity map)."""
    stmt = sa.select(sa.func.count()).where(
        _T.subject_id == subject_id,
        _T.target == target,
        _T.action == action,
        _T.status == OutboxStatus.PENDING,
    )
    return bool(session.execute(stmt).scalar_one())


def due_ids(
    session: Session, *, now: datetime, limit: int, subject_ids: list[str] | None = None
) -> list[int]:
    """Pending rows whose next attempt is due (only those of ``subject_ids`` when given)."""
    stmt = (
        sa.select(_T.id)
        .where(
            _T.status == OutboxStatus.PENDING,
            sa.or_(_T.next_attempt_at.is_(None), _T.next_attempt_at <= now),
        )
        .order_by(_T.id)
        .limit(limit)
    )
    if subject_ids is not None:
        stmt = stmt.where(_T.subject_id.in_(subject_ids))
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
    session: Session,
    message_id: int,
    *,
    error: str,
    next_attempt_at: datetime,
    now: datetime,
    external_ref: str | None = None,
) -> bool:
    """Try again later; ``external_ref`` keeps what the system answered when only the booking
    here failed (the resend under the same key gets the same reference back)."""
    values: dict[str, object] = {
        "last_error": error,
        "next_attempt_at": next_attempt_at,
        "updated_at": now,
    }
    if external_ref is not None:
        values["external_ref"] = external_ref
    return _set_if_pending(session, message_id, **values)


#: Rows no dispatcher sends again on its own: refused or unfit (``failed``), or not delivered
#: within their route's retry bound (``dead``). Only a person re-sends or cancels them.
NEEDS_A_PERSON = (OutboxStatus.FAILED, OutboxStatus.DEAD)


def is_alerting(message: OutboxMessage, alert_after_attempts: int) -> bool:
    """A row still failing after ``alert_after_attempts`` sends, failed or dead-lettered, is an
    operational alert."""
    return (
        message.status == OutboxStatus.PENDING
        and message.last_error is not None
        and message.attempts >= alert_after_attempts
    ) or message.status in NEEDS_A_PERSON


def alerting_filter(alert_after_attempts: int) -> sa.ColumnElement[bool]:
    """``is_alerting`` as SQL, for listings."""
    return sa.or_(
        sa.and_(
            _T.status == OutboxStatus.PENDING,
            _T.last_error.is_not(None),
            _T.attempts >= alert_after_attempts,
        ),
        _T.status.in_(NEEDS_A_PERSON),
    )


def requeue(session: Session, message_id: int, *, now: datetime) -> bool:
    """A person asks for another send now: a failed, dead-lettered or waiting row becomes due at
    once.

    The idempotency key and the attempt count are kept (the count says a send was tried, which
    ``withdraw_untried`` relies on), so a requeued dead letter that fails again is dead-lettered
    again at once: a person's retry is one more send, not a new retry budget.
    """
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(_T.id == message_id, _T.status.in_([OutboxStatus.PENDING, *NEEDS_A_PERSON]))
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, updated_at=now)
    )
    return session.execute(stmt).rowcount == 1


def cancel(session: Session, message_id: int, *, now: datetime, reason: str) -> bool:
    """A person gives up on a row that was not delivered (pending, failed or dead-lettered)."""
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(_T.id == message_id, _T.status.in_([OutboxStatus.PENDING, *NEEDS_A_PERSON]))
        .values(
            status=OutboxStatus.CANCELLED, next_attempt_at=None, last_error=reason, updated_at=now
        )
    )
    return session.execute(stmt).rowcount == 1


def mark_failed(
    session: Session,
    message_id: int,
    *,
    error: str,
    now: datetime,
    external_ref: str | None = None,
    dead_letter: bool = False,
) -> bool:
    """Give up on the row: a human must look (the error says what happened). ``dead_letter``:
    not refused but never delivered within its route's retry bound (status ``dead``)."""
    return _set_if_pending(
        session,
        message_id,
        status=OutboxStatus.DEAD if dead_letter else OutboxStatus.FAILED,
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


def withdraw_untried(session: Session, message_id: int, *, now: datetime) -> bool:
    """Withdraw one pending row no dispatcher has tried (a guarded UPDATE: a concurrent claim
    either saw it first, and this answers False, or finds it withdrawn)."""
    stmt = (
        sa.update(OutboxMessage.__table__)  # type: ignore[attr-defined]
        .where(_T.id == message_id, _T.status == OutboxStatus.PENDING, _T.attempts == 0)
        .values(status=OutboxStatus.CANCELLED, next_attempt_at=None, updated_at=now)
    )
    return session.execute(stmt).rowcount == 1
