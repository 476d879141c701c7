"""What a person does with the outbox: see what waits or keeps failing, re-send it, cancel it.

The API (``/v1/outbox``) and the CLI (``stockpilot outbox``) both call these, so each action is
checked, applied and audited the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from agents.executor import orders, outbox, parcels
from agents.executor.audit import record_event
from agents.executor.dispatcher import DispatchSettings
from agents.executor.errors import InvalidTransition
from agents.executor.timing import as_utc
from agents.executor.transactions import atomic_step
from inventory.db import session_scope
from inventory.models import OrderStatus, OutboxMessage, OutboxStatus, TransferOrder
from inventory.online_orders import OrderError


class OutboxEntry(BaseModel):
    """One outbox row as an operator sees it."""

    id: int
    idempotency_key: str
    target: str
    action: str
    subject_id: str
    status: Literal["pending", "sent", "failed", "dead", "cancelled"]
    attempts: int
    next_attempt_at: datetime | None
    external_ref: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    alerting: bool = Field(
        description="Still not delivered after repeated attempts, refused (failed) or "
        "dead-lettered (dead): a person should look."
    )

    @classmethod
    def of(cls, row: OutboxMessage, settings: DispatchSettings) -> OutboxEntry:
        return cls(
            **row.model_dump(exclude={"payload"}),
            alerting=outbox.is_alerting(row, settings.alert_after_attempts),
        )


class OutboxNotFound(LookupError):
    pass


class OutboxConflict(ValueError):
    """The row is in a status the action does not apply to."""


def entries_query(
    settings: DispatchSettings,
    *,
    status: OutboxStatus | None = None,
    alerting: bool | None = None,
) -> Select:
    """Outbox rows newest first, optionally only one status or only (not) alerting ones."""
    stmt = select(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if alerting is not None:
        condition = outbox.alerting_filter(settings.alert_after_attempts)
        stmt = stmt.where(condition if alerting else sa.not_(condition))
    return stmt.order_by(col(OutboxMessage.id).desc())


def _load(session: Session, message_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, message_id, populate_existing=True)
    if row is None:
        raise OutboxNotFound(f"no outbox row with id {message_id}")
    return row


def requeue_message(
    engine: Engine, message_id: int, *, by: str, at: datetime, settings: DispatchSettings
) -> OutboxEntry:
    """Make a failed, dead-lettered or waiting row due now (same idempotency key); audited.

    A parcel cancellation's online order waits on it again (``parcels.withdrawal_requeued``):
    refused, with nothing changed, once that order moved on (cancelled, parcel shipped or
    withdrawn)."""
    at = as_utc(at)
    with session_scope(engine) as session, atomic_step(session):
        row = _load(session, message_id)
        was, attempts = row.status, row.attempts
        if not outbox.requeue(session, message_id, now=at):
            raise OutboxConflict(
                f"outbox row {message_id} is {row.status}; only pending or failed (or dead) rows "
                "are re-sent"
            )
        if (row.target, row.action) == (parcels.SHIPMENT_TARGET, parcels.CANCEL_ACTION):
            try:
                parcels.withdrawal_requeued(session, row, by=by, at=at)
            except OrderError as exc:
                raise OutboxConflict(
                    f"outbox row {message_id} is not re-sent: {exc.message}; to clear it, cancel "
                    f"it (POST /v1/outbox/{message_id}/cancel)"
                ) from exc
        _audit(session, row, "outbox.requeued", by, at, was=was, attempts=attempts)
        session.flush()
        row = _load(session, message_id)
    outbox.NEW_ROWS.set()
    return OutboxEntry.of(row, settings)


def cancel_message(
    engine: Engine,
    message_id: int,
    *,
    by: str,
    reason: str,
    at: datetime,
    settings: DispatchSettings,
) -> OutboxEntry:
    """Give up on a row that was not delivered; an approved transfer order it carried is
    cancelled and its reservation released, and an online order waiting on the parcel
    cancellation it carried goes on (``parcels.withdrawal_abandoned``). Audited; refused once the
    row was sent."""
    at = as_utc(at)
    with session_scope(engine) as session, atomic_step(session):
        row = _load(session, message_id)
        was = row.status
        if not outbox.cancel(session, message_id, now=at, reason=f"cancelled by {by}: {reason}"):
            raise OutboxConflict(
                f"outbox row {message_id} is {row.status}; only pending or failed (or dead) rows "
                "can be cancelled"
            )
        if (row.target, row.action) == (orders.WMS_TARGET, orders.WMS_ACTION):
            order = session.get(TransferOrder, row.subject_id)
            if order is not None and order.status == OrderStatus.APPROVED:
                try:
                    orders.cancel_transfer_order(
                        session,
                        row.subject_id,
                        decided_by=by,
                        at=at,
                        comment=reason,
                        message_withdrawn=True,
                    )
                except InvalidTransition as exc:
                    raise OutboxConflict(str(exc)) from exc
        elif (row.target, row.action) == (parcels.SHIPMENT_TARGET, parcels.CANCEL_ACTION):
            parcels.withdrawal_abandoned(session, row, by=by, reason=reason, at=at)
        _audit(
            session,
            row,
            "outbox.cancelled",
            by,
            at,
            was=was,
            attempts=row.attempts,
            reason=reason,
            # an earlier attempt may have reached the system: say so, with the key to look for
            maybe_delivered=row.attempts > 0,
        )
        session.flush()
        row = _load(session, message_id)
    return OutboxEntry.of(row, settings)


def _audit(
    session: Session, row: OutboxMessage, kind: str, by: str, at: datetime, **payload: object
) -> None:
    record_event(
        session,
        kind=kind,
        actor=by,
        at=at,
        subject_type="outbox",
        subject_id=row.subject_id,
        payload={
            "outbox_id": row.id,
            "idempotency_key": row.idempotency_key,
            "target": row.target,
            "action": row.action,
            **payload,
        },
    )


__all__ = [
    "OutboxConflict",
    "OutboxEntry",
    "OutboxNotFound",
    "OutboxStatus",
    "cancel_message",
    "entries_query",
    "requeue_message",
]
