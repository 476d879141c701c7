"""Transfer order lifecycle: proposed → pending_approval → approved → dispatched → received, or
rejected / cancelled / expired (DESIGN §2).

Every function works inside the caller's transaction and never commits: an approval's
reservation and its outbox row commit together or not at all. Each step is one guarded UPDATE
(see ``transitions``) plus an audit row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from agents.executor import outbox
from agents.executor.audit import record_event
from agents.executor.decided import require_decided
from agents.executor.errors import InvalidTransition
from agents.executor.models import TransferOrderView
from agents.executor.timing import as_utc, as_utc_or_none
from agents.executor.transactions import atomic_step
from agents.executor.transitions import load, transition
from connectors.models import WmsLine, WmsTransferOrder
from inventory import movements
from inventory.models import Location, OrderStatus, Sku, TransferLine, TransferOrder
from tools.plan_transfers.models import Shipment

SUBJECT = "transfer_order"
WMS_TARGET = "wms"
WMS_ACTION = "create_transfer_order"
UNDECIDED = (OrderStatus.PROPOSED, OrderStatus.PENDING_APPROVAL)


def wms_idempotency_key(order_id: str) -> str:
    return f"wms:transfer_order:{order_id}"


def new_order_id() -> str:
    return f"TO-{uuid.uuid4().hex[:12].upper()}"


def _validate_shipment(session: Session, shipment: Shipment) -> None:
    if shipment.source == shipment.dest:
        raise ValueError(f"shipment source and dest are both {shipment.source!r}")
    for field, code in (("source", shipment.source), ("dest", shipment.dest)):
        if session.get(Location, code) is None:
            raise ValueError(f"shipment {field}: unknown location {code!r}")
    if not shipment.lines:
        raise ValueError(f"shipment {shipment.source} → {shipment.dest} has no lines")
    seen: set[str] = set()
    for index, line in enumerate(shipment.lines):
        if line.qty <= 0:
            raise ValueError(f"shipment lines[{index}].qty must be positive, got {line.qty}")
        if line.sku in seen:
            raise ValueError(f"shipment lines[{index}].sku {line.sku!r} appears twice")
        seen.add(line.sku)
        if session.get(Sku, line.sku) is None:
            raise ValueError(f"shipment lines[{index}].sku: unknown SKU {line.sku!r}")


def create_transfer_order(
    session: Session,
    shipment: Shipment,
    *,
    at: datetime,
    run_id: str | None = None,
    requested_by: str = "system",
    status: OrderStatus = OrderStatus.PROPOSED,
    reason: str = "",
    expires_at: datetime | None = None,
    order_id: str | None = None,
) -> TransferOrder:
    """Store a planned shipment as an order awaiting a decision (nothing is reserved yet).

    Raises:
        ValueError: the status is not an undecided one, or the shipment names unknown
            locations/SKUs, non-positive or repeated lines.
    """
    at = as_utc(at)
    expires_at = as_utc_or_none(expires_at)
    if status not in UNDECIDED:
        raise ValueError(f"status: a new order is proposed or pending_approval, got {status!r}")
    with atomic_step(session):
        _validate_shipment(session, shipment)
        order = TransferOrder(
            id=order_id or new_order_id(),
            source_code=shipment.source,
            dest_code=shipment.dest,
            status=status,
            reason=reason
            or f"{shipment.units} units, expected value {shipment.expected_value:.2f}, "
            f"cost {shipment.cost:.2f}",
            expected_value=shipment.expected_value,
            cost=shipment.cost,
            lead_time_hours=shipment.lead_time_hours,
            run_id=run_id,
            requested_by=requested_by,
            created_at=at,
            updated_at=at,
            expires_at=expires_at,
        )
        session.add(order)
        session.flush()
        session.add_all(
            TransferLine(
                order_id=order.id,
                sku_code=line.sku,
                qty=line.qty,
                expected_units_saved=line.reason.expected_units_saved,
                expected_value=line.reason.expected_value,
                cost=line.reason.cost,
                explanation=line.reason.model_dump(mode="json"),
            )
            for line in shipment.lines
        )
        record_event(
            session,
            kind=f"{SUBJECT}.{status}",
            actor=requested_by,
            at=at,
            subject_type=SUBJECT,
            subject_id=order.id,
            run_id=run_id,
            payload={
                "source": shipment.source,
                "dest": shipment.dest,
                "units": shipment.units,
                "expected_value": shipment.expected_value,
                "cost": shipment.cost,
            },
        )
        session.flush()
    return order


def order_lines(session: Session, order_id: str) -> list[TransferLine]:
    stmt = select(TransferLine).where(TransferLine.order_id == order_id)
    return list(session.exec(stmt.order_by(col(TransferLine.id))).all())


def request_approval(
    session: Session, order_id: str, *, at: datetime, expires_at: datetime | None = None
) -> TransferOrder:
    """proposed → pending_approval: a human must decide before ``expires_at``."""
    at = as_utc(at)
    expires_at = as_utc_or_none(expires_at)
    with atomic_step(session):
        values = {"expires_at": expires_at} if expires_at is not None else {}
        order = _move(
            session,
            order_id,
            allowed_from=[OrderStatus.PROPOSED],
            to=OrderStatus.PENDING_APPROVAL,
            at=at,
            values=values,
            actor=load(session, TransferOrder, order_id).requested_by,
            expires_at=expires_at,
        )
    return order


def approve_transfer_order(
    session: Session, order_id: str, *, decided_by: str, at: datetime
) -> TransferOrder:
    """Approve: reserve every line at the source and enqueue the WMS order, in one transaction.

    Only a decided Approval row (or the policy's auto-approval on the order's own numbers) lets
    an order through; that row is checked here, in the transaction that writes the outbox row.

    Raises:
        NotDecided: no human decision (or valid auto-approval) is recorded for the order.
        InvalidTransition: not proposed / pending_approval.
        inventory.movements.MovementRefused: the source no longer has the ATP for a line
            (nothing of this step is kept).
    """
    at = as_utc(at)
    with atomic_step(session):
        require_decided(
            session, SUBJECT, order_id, load(session, TransferOrder, order_id).requested_by
        )
        order = _move(
            session,
            order_id,
            allowed_from=UNDECIDED,
            to=OrderStatus.APPROVED,
            at=at,
            actor=decided_by,
        )
        lines = order_lines(session, order_id)
        for line in lines:
            movements.reserve(
                session,
                order.source_code,
                line.sku_code,
                line.qty,
                ref=order.id,
                idempotency_key=f"{order.id}:reserve:{line.id}",
                actor=decided_by,
                reason=f"transfer {order.source_code} → {order.dest_code} approved",
                at=at,
            )
        request = WmsTransferOrder(
            order_id=order.id,
            source=order.source_code,
            dest=order.dest_code,
            lines=[WmsLine(sku=line.sku_code, qty=line.qty) for line in lines],
            reason=order.reason,
            requested_by=decided_by,
        )
        outbox.enqueue(
            session,
            target=WMS_TARGET,
            action=WMS_ACTION,
            subject_id=order.id,
            payload=request,
            idempotency_key=wms_idempotency_key(order.id),
            at=at,
        )
    return order


def reject_transfer_order(
    session: Session, order_id: str, *, decided_by: str, at: datetime, comment: str | None = None
) -> TransferOrder:
    at = as_utc(at)
    with atomic_step(session):
        order = _move(
            session,
            order_id,
            allowed_from=UNDECIDED,
            to=OrderStatus.REJECTED,
            at=at,
            actor=decided_by,
            comment=comment,
        )
    return order


def expire_transfer_order(
    session: Session, order_id: str, *, at: datetime, actor: str = "system"
) -> TransferOrder:
    """Nobody decided in time: the order lapses (nothing was reserved yet)."""
    at = as_utc(at)
    with atomic_step(session):
        order = _move(
            session,
            order_id,
            allowed_from=UNDECIDED,
            to=OrderStatus.EXPIRED,
            at=at,
            actor=actor,
        )
    return order


def expire_due_orders(session: Session, *, at: datetime) -> list[str]:
    """Expire every undecided order whose ``expires_at`` has passed; return their ids."""
    at = as_utc(at)
    stmt = select(TransferOrder.id).where(
        col(TransferOrder.status).in_([str(status) for status in UNDECIDED]),
        col(TransferOrder.expires_at).is_not(None),
        col(TransferOrder.expires_at) <= at,
    )
    expired: list[str] = []
    for order_id in session.exec(stmt.order_by(col(TransferOrder.id))).all():
        try:
            expire_transfer_order(session, order_id, at=at)
        except InvalidTransition:
            continue  # decided meanwhile by someone else
        expired.append(order_id)
    return expired


def cancel_transfer_order(
    session: Session, order_id: str, *, decided_by: str, at: datetime, comment: str | None = None
) -> TransferOrder:
    """Withdraw an order before it ships.

    An approved order can be cancelled only while its WMS message was never attempted: the
    reservation is released and the message withdrawn. Once a send was attempted the WMS may
    hold the order, so this refuses rather than leave two systems disagreeing.
    """
    at = as_utc(at)
    with atomic_step(session):
        was = load(session, TransferOrder, order_id).status
        if was == OrderStatus.APPROVED:
            withdrawn = outbox.cancel_unsent(
                session, subject_id=order_id, target=WMS_TARGET, action=WMS_ACTION, now=at
            )
            if not withdrawn:
                raise InvalidTransition(
                    SUBJECT,
                    order_id,
                    was,
                    OrderStatus.CANCELLED,
                    "it was already sent (or is being sent) to the WMS; cancel it there",
                )
        order = _move(
            session,
            order_id,
            allowed_from=[OrderStatus.APPROVED] if was == OrderStatus.APPROVED else UNDECIDED,
            to=OrderStatus.CANCELLED,
            at=at,
            actor=decided_by,
            comment=comment,
            was=was,
        )
        if was == OrderStatus.APPROVED:
            for line in order_lines(session, order_id):
                movements.release(
                    session,
                    order.source_code,
                    line.sku_code,
                    line.qty,
                    ref=order.id,
                    idempotency_key=f"{order.id}:release:{line.id}",
                    actor=decided_by,
                    reason="transfer cancelled",
                    at=at,
                )
    return order


def mark_dispatched(
    session: Session, order_id: str, *, external_ref: str, at: datetime, actor: str
) -> TransferOrder:
    """The WMS accepted the order: stock leaves the source and is in transit (dispatcher only)."""
    at = as_utc(at)
    with atomic_step(session):
        order = _move(
            session,
            order_id,
            allowed_from=[OrderStatus.APPROVED],
            to=OrderStatus.DISPATCHED,
            at=at,
            actor=actor,
            values={"external_ref": external_ref},
            external_ref=external_ref,
        )
        for line in order_lines(session, order_id):
            movements.dispatch_transfer(
                session,
                order.source_code,
                order.dest_code,
                line.sku_code,
                line.qty,
                ref=order.id,
                idempotency_key=f"{order.id}:dispatch:{line.id}",
                actor=actor,
                at=at,
            )
    return order


def receive_transfer_order(
    session: Session, order_id: str, *, at: datetime, actor: str = "wms"
) -> TransferOrder:
    """The destination booked the shipment in: dispatched → received."""
    at = as_utc(at)
    with atomic_step(session):
        order = _move(
            session,
            order_id,
            allowed_from=[OrderStatus.DISPATCHED],
            to=OrderStatus.RECEIVED,
            at=at,
            actor=actor,
        )
        for line in order_lines(session, order_id):
            movements.receive_transfer(
                session,
                order.source_code,
                order.dest_code,
                line.sku_code,
                line.qty,
                ref=order.id,
                idempotency_key=f"{order.id}:receive:{line.id}",
                actor=actor,
                at=at,
            )
    return order


def _move(
    session: Session,
    order_id: str,
    *,
    allowed_from: list[OrderStatus] | tuple[OrderStatus, ...],
    to: OrderStatus,
    at: datetime,
    actor: str,
    values: dict[str, object] | None = None,
    **audit: object,
) -> TransferOrder:
    """One lifecycle step: the guarded status change and its audit row."""
    order = transition(
        session,
        TransferOrder,
        order_id,
        allowed_from=allowed_from,
        to=to,
        at=at,
        values=values,
    )
    _audit(session, order, actor=actor, at=at, **audit)
    return order


def transfer_order_view(session: Session, order_id: str) -> TransferOrderView:
    order = load(session, TransferOrder, order_id)
    return TransferOrderView.build(
        order, order_lines(session, order_id), outbox.messages_for(session, order_id)
    )


def _audit(
    session: Session, order: TransferOrder, *, actor: str, at: datetime, **extra: object
) -> None:
    payload = {key: _jsonable(value) for key, value in extra.items() if value is not None}
    record_event(
        session,
        kind=f"{SUBJECT}.{order.status}",
        actor=actor,
        at=at,
        subject_type=SUBJECT,
        subject_id=order.id,
        run_id=order.run_id,
        payload=payload,
    )


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else str(value)
