"""Status changes of an order or markdown, routed to the executor by kind.

Each step first looks at the subject's current status, so a node that runs again after a crash
does not ask the executor for a transition it already made.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from agents.executor import orders as executor_orders
from agents.executor import promos as executor_promos
from inventory.models import OrderStatus, PromoProposal, PromoStatus, TransferOrder


def current_status(session: Session, kind: str, subject_id: str) -> str:
    model = TransferOrder if kind == "transfer_order" else PromoProposal
    row = session.get(model, subject_id)
    if row is None:
        raise LookupError(f"{kind} {subject_id!r} does not exist")
    return row.status


def _open(status: str) -> bool:
    return status in {OrderStatus.PROPOSED, OrderStatus.PENDING_APPROVAL}


def request(
    session: Session, kind: str, subject_id: str, *, at: dt.datetime, expires_at: dt.datetime | None
) -> None:
    if (
        kind == "transfer_order"
        and current_status(session, kind, subject_id) == OrderStatus.PROPOSED
    ):
        executor_orders.request_approval(session, subject_id, at=at, expires_at=expires_at)


def approve(session: Session, kind: str, subject_id: str, *, by: str, at: dt.datetime) -> None:
    if not _open(current_status(session, kind, subject_id)):
        return
    if kind == "transfer_order":
        executor_orders.approve_transfer_order(session, subject_id, decided_by=by, at=at)
    else:
        executor_promos.approve_promo_proposal(session, subject_id, decided_by=by, at=at)


def reject(
    session: Session, kind: str, subject_id: str, *, by: str, at: dt.datetime, comment: str | None
) -> None:
    if not _open(current_status(session, kind, subject_id)):
        return
    if kind == "transfer_order":
        executor_orders.reject_transfer_order(
            session, subject_id, decided_by=by, at=at, comment=comment
        )
    else:
        executor_promos.reject_promo_proposal(
            session, subject_id, decided_by=by, at=at, comment=comment
        )


def withdraw(
    session: Session, kind: str, subject_id: str, *, by: str, at: dt.datetime, comment: str | None
) -> None:
    """Taken back before a decision: an order is cancelled, a markdown rejected."""
    if not _open(current_status(session, kind, subject_id)):
        return
    if kind == "transfer_order":
        executor_orders.cancel_transfer_order(
            session, subject_id, decided_by=by, at=at, comment=comment
        )
    else:
        executor_promos.reject_promo_proposal(
            session, subject_id, decided_by=by, at=at, comment=comment
        )


def expire(session: Session, kind: str, subject_id: str, *, at: dt.datetime) -> None:
    if not _open(current_status(session, kind, subject_id)):
        return
    if kind == "transfer_order":
        executor_orders.expire_transfer_order(session, subject_id, at=at)
    else:
        executor_promos.expire_promo_proposal(session, subject_id, at=at)


def settled_outcome(session: Session, kind: str, subject_id: str) -> tuple[str, str | None]:
    """After dispatch: (dispatched | applied | queued | <status>, external reference)."""
    model = TransferOrder if kind == "transfer_order" else PromoProposal
    row = session.get(model, subject_id)
    assert row is not None
    if row.status in {OrderStatus.DISPATCHED, OrderStatus.RECEIVED, PromoStatus.APPLIED}:
        return str(row.status), row.external_ref
    if row.status == OrderStatus.APPROVED:
        return "queued", None
    return str(row.status), row.external_ref
