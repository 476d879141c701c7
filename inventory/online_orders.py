"""Online orders: record a routed order and hold its units, in one transaction.

The routing decision is made by the caller's router (``tools.route_order``, which reads the
pool); this module writes: the order row, one line per (order line, node), and a channel
reservation per line through ``inventory.reservations`` (the single stock writer checks ATP in
the same statement). When a concurrent order took the units a plan counted on, the savepoint
is rolled back and the router asked again without that (node, SKU), a bounded number of times.

Idempotent per channel on the channel's own order id: the same order again returns the first
answer; the same id with a different order is a conflict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from inventory import movements, reservations
from inventory.clock import as_utc
from inventory.db import begin_write
from inventory.models import (
    ChannelReservation,
    OnlineNodeLoad,
    OnlineOrder,
    OnlineOrderLine,
    OnlineOrderStatus,
    ReservationStatus,
    Sku,
    StockMovement,
    StockPosition,
)
from inventory.refusals import PoolRefusal
from inventory.reservations import ReservationError, ReservationRequest
from inventory.upsert import dialect_insert

_LOAD = OnlineNodeLoad.__table__.c  # type: ignore[attr-defined]

#: How often a placement re-plans after a concurrent order took the units it counted on.
REPLANS = 4


class OrderError(PoolRefusal):
    """The pool refused an online order (``kind``: which HTTP answer it deserves)."""


@dataclass(frozen=True)
class OrderSpec:
    """What a channel asked for: its order id, lines, where to and by when."""

    channel: str
    channel_order_id: str
    lines: tuple[tuple[str, int], ...]  # (SKU, qty) per order line
    destination_city: str
    address: str
    promised_by: dt.datetime
    oms_ref: str | None = None
    #: The promise as the channel said it ("48h", or a time), when it was relative: a retry
    #: a minute later is the same order although ``promised_by`` moved with the clock.
    promise_asked: str | None = None

    def digest(self) -> str:
        asked = {
            "lines": [list(line) for line in self.lines],
            "city": self.destination_city,
            "address": self.address,
            "promise": self.promise_asked or as_utc(self.promised_by).isoformat(),
            "oms_ref": self.oms_ref,
        }
        return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RoutedPart:
    line_no: int
    sku: str
    qty: int
    node: str
    lead_time_hours: float


@dataclass(frozen=True)
class Routing:
    """A router's answer: the parts to reserve, or why the order cannot be shipped."""

    routable: bool
    reason: str | None
    destination_city: str
    destination_region: str
    parts: tuple[RoutedPart, ...] = ()
    delivery_cost: float = 0.0
    eta: dt.datetime | None = None
    decision: dict = field(default_factory=dict)
    #: Node → the most orders it may ship (part of) today, this one included (stores: their
    #: capacity and share cap); checked and counted atomically when the order is written.
    slots: dict[str, int] = field(default_factory=dict)


#: (session, (node, SKU) pairs to leave out) → a routing decision made on that session.
Router = Callable[[Session, frozenset[tuple[str, str]]], Routing]


#: Called in the placing savepoint with (session, spec, order, parts, reference, routing, now).
AfterWrite = Callable[
    [Session, "OrderSpec", OnlineOrder, Sequence["RoutedPart"], str, "Routing", dt.datetime], None
]


def _existing(session: Session, spec: OrderSpec) -> OnlineOrder | None:
    stmt = (
        select(OnlineOrder)
        .where(
            OnlineOrder.channel == spec.channel,
            OnlineOrder.channel_order_id == spec.channel_order_id,
        )
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).first()


def _replay(row: OnlineOrder, spec: OrderSpec) -> OnlineOrder:
    if row.request_hash != spec.digest():
        raise OrderError(
            "conflict",
            f"order id {spec.channel_order_id!r} was already used by channel {spec.channel!r} "
            f"for a different order ({row.id}); refusing a different order under the same id",
            field="order_id",
        )
    return row


def place(
    session: Session,
    spec: OrderSpec,
    router: Router,
    *,
    actor: str,
    now: dt.datetime,
    ttl_s: int,
    routing_day: dt.date,
    after_write: AfterWrite | None = None,
) -> tuple[OnlineOrder, bool]:
    """Route and hold ``spec``; returns the order and whether it is new. The caller commits.

    ``after_write`` runs inside the placing savepoint once the order's rows are written: the
    executor adds the parcels' outbox rows there, so a re-plan's rollback takes them along (this
    layer knows nothing of the outbox)."""
    begin_write(session)
    if (existing := _existing(session, spec)) is not None:
        return _replay(existing, spec), False
    now = as_utc(now)
    skus = sorted({sku for sku, _ in spec.lines})
    # Lapsed holds on these SKUs give their units back before routing counts them.
    reservations.sweep_expired(session, now=now, skus=skus)
    _lock_styles(session, skus)
    exclude: set[tuple[str, str]] = set()
    last_refusal = ""
    for _ in range(REPLANS):
        routing = router(session, frozenset(exclude))
        if not routing.routable:
            raise OrderError(
                "refused", routing.reason or "no node can ship this order", field="lines"
            )
        order_id = f"ord-{uuid.uuid4().hex[:20]}"
        try:
            with session.begin_nested():
                row = _write(
                    session,
                    spec,
                    routing,
                    order_id,
                    actor=actor,
                    now=now,
                    ttl_s=ttl_s,
                    day=routing_day,
                    after_write=after_write,
                )
            return row, True
        except _Refused as refused:
            exclude.update(refused.pairs)
            last_refusal = refused.message
        except IntegrityError:
            # A concurrent post of the same order id (PostgreSQL) committed first.
            if (existing := _existing(session, spec)) is None:
                raise
            return _replay(existing, spec), False
    raise OrderError(
        "refused",
        f"stock kept changing while routing (concurrent orders); last refusal: {last_refusal}",
        field="lines",
    )


def _lock_styles(session: Session, skus: Sequence[str]) -> None:
    """PostgreSQL: lock every position of the order's styles before routing reads them.

    The stock writer's guard keeps ATP; but what a store may give also depends on its other
    sizes (the core size run) and its display minimum, which two concurrent orders could each
    count on. Orders touching the same styles therefore route one after the other (SQLite's
    writer lock already serialises whole transactions).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    styles = sa.select(Sku.style_code).where(Sku.code.in_(list(skus)))  # type: ignore[attr-defined]
    pairs = session.execute(
        sa.select(StockPosition.location_code, StockPosition.sku_code)
        .join(Sku, Sku.code == StockPosition.sku_code)  # type: ignore[arg-type]
        .where(Sku.style_code.in_(styles))  # type: ignore[attr-defined]
    ).all()
    movements.lock_positions(session, [(loc, sku) for loc, sku in pairs])


class _Refused(Exception):
    def __init__(self, pairs: Sequence[tuple[str, str]], message: str) -> None:
        super().__init__(message)
        self.pairs = tuple(pairs)
        self.message = message


def _take_slot(session: Session, day: dt.date, node: str, allowed: int) -> bool:
    """Count one more order for ``node`` on ``day`` unless it has ``allowed`` already.

    The guarded UPDATE locks the counter row, so the check and the increment are one step on
    both databases (a concurrent order waits, then sees the new count).
    """
    session.execute(
        dialect_insert(session, OnlineNodeLoad.__table__)  # type: ignore[arg-type]
        .values(day=day, node_code=node, orders=0)
        .on_conflict_do_nothing(index_elements=["day", "node_code"])
    )
    taken = session.execute(
        sa.update(OnlineNodeLoad.__table__)  # type: ignore[arg-type]
        .where(_LOAD.day == day, _LOAD.node_code == node, _LOAD.orders < allowed)
        .values(orders=_LOAD.orders + 1)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def give_slots(session: Session, day: dt.date, nodes: Sequence[str]) -> None:
    """A cancelled order's slots go back (only nodes that were counted have a row)."""
    session.execute(
        sa.update(OnlineNodeLoad.__table__)  # type: ignore[arg-type]
        .where(_LOAD.day == day, _LOAD.node_code.in_(sorted(set(nodes))), _LOAD.orders > 0)
        .values(orders=_LOAD.orders - 1)
    )


def _write(
    session: Session,
    spec: OrderSpec,
    routing: Routing,
    order_id: str,
    *,
    actor: str,
    now: dt.datetime,
    ttl_s: int,
    day: dt.date,
    after_write: AfterWrite | None,
) -> OnlineOrder:
    assert routing.eta is not None
    row = OnlineOrder(
        id=order_id,
        channel=spec.channel,
        channel_order_id=spec.channel_order_id,
        oms_ref=spec.oms_ref,
        destination_city=routing.destination_city,
        destination_region=routing.destination_region,
        address=spec.address,
        promised_by=as_utc(spec.promised_by),
        status=OnlineOrderStatus.ROUTED,
        request_hash=spec.digest(),
        routing_day=day,
        shipments=len({part.node for part in routing.parts}),
        units=sum(part.qty for part in routing.parts),
        delivery_cost=round(routing.delivery_cost, 2),
        eta=as_utc(routing.eta),
        decision=routing.decision,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()  # a concurrent same-id order waits (or fails) here, before any stock moves
    parts = sorted(routing.parts, key=lambda p: (p.node, p.sku, p.line_no))
    for node in sorted({p.node for p in parts} & set(routing.slots)):
        if not _take_slot(session, day, node, routing.slots[node]):
            raise _Refused(
                [(p.node, p.sku) for p in parts if p.node == node],
                f"{node} reached its orders for today ({routing.slots[node]}) meanwhile",
            )
    movements.lock_positions(session, [(p.node, p.sku) for p in parts])
    reference = spec.oms_ref or order_id
    for part in parts:
        request = ReservationRequest(
            channel=spec.channel,
            sku=part.sku,
            qty=part.qty,
            idempotency_key=f"order:{order_id}:{part.line_no}:{part.node}",
            ttl_s=ttl_s,
            location=part.node,
        )
        try:
            held, _ = reservations.create(session, request, actor=actor, now=now)
        except ReservationError as error:
            if error.kind != "refused":
                raise
            raise _Refused([(part.node, part.sku)], error.message) from error
        session.add(
            OnlineOrderLine(
                order_id=order_id,
                line_no=part.line_no,
                sku_code=part.sku,
                qty=part.qty,
                node_code=part.node,
                shipment_ref=f"{reference}/{part.node}",
                reservation_id=held.id,
                lead_time_hours=part.lead_time_hours,
            )
        )
    session.flush()
    if after_write is not None:
        after_write(session, spec, row, parts, reference, routing, now)
    return row


def lines_of(session: Session, order_id: str) -> list[OnlineOrderLine]:
    stmt = (
        select(OnlineOrderLine)
        .where(OnlineOrderLine.order_id == order_id)
        .order_by(OnlineOrderLine.line_no, OnlineOrderLine.node_code)  # type: ignore[arg-type]
    )
    return list(session.exec(stmt))


def hold_states(session: Session, lines: Sequence[OnlineOrderLine]) -> dict[str, str]:
    """Reservation id → its state (open, confirmed = shipped, released, expired by its TTL)."""
    ids = [line.reservation_id for line in lines]
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ChannelReservation.id, ChannelReservation.status).where(
            ChannelReservation.id.in_(ids)  # type: ignore[attr-defined]
        )
    ).all()
    return {rid: status for rid, status in rows}


def get(session: Session, order_id: str, *, channel: str | None) -> OnlineOrder:
    row = session.get(OnlineOrder, order_id, populate_existing=True)
    if row is None:
        raise OrderError("not_found", f"no online order with id {order_id!r}")
    if channel is not None and row.channel != channel:
        raise OrderError(
            "forbidden", f"order {order_id} belongs to channel {row.channel!r}, not {channel!r}"
        )
    return row


def cancel(
    session: Session,
    order_id: str,
    *,
    channel: str | None,
    actor: str,
    now: dt.datetime,
    keep_nodes: frozenset[str] = frozenset(),
) -> OnlineOrder:
    """Release the order's open holds; a shipped (confirmed) part cannot be cancelled here.

    ``keep_nodes``: nodes whose parcel the OMS may already hold. Their holds stay and the order
    is ``cancelling`` until the OMS confirms (``withdrawal_confirmed``) or refuses
    (``withdrawal_refused``); without any, the order is cancelled at once. Asking again while
    cancelling or cancelled changes nothing.
    """
    begin_write(session)
    row = get(session, order_id, channel=channel)
    if row.status in (OnlineOrderStatus.CANCELLED, OnlineOrderStatus.CANCELLING):
        return row
    order_lines = lines_of(session, order_id)
    statuses = {
        line.reservation_id: _hold(session, line.reservation_id).status  # type: ignore[union-attr]
        for line in order_lines
    }
    shipped = any(status == ReservationStatus.CONFIRMED for status in statuses.values())
    if shipped or _sold_any(session, order_lines):
        raise OrderError(
            "conflict",
            f"order {order_id} has shipped parts; it cannot be cancelled",
            field="status",
        )
    for line in order_lines:
        if line.node_code in keep_nodes:
            continue
        if statuses[line.reservation_id] == ReservationStatus.OPEN:
            reservations.release(session, line.reservation_id, channel=None, actor=actor, now=now)
    row.updated_at = as_utc(now)
    if keep_nodes & {line.node_code for line in order_lines}:
        row.status = OnlineOrderStatus.CANCELLING
        session.add(row)
    else:
        _cancelled(session, row, order_lines)
    session.flush()
    return row


def _sold_any(session: Session, order_lines: Sequence[OnlineOrderLine]) -> bool:
    """Whether a unit of these lines was booked as sold without its hold (a short pick that
    shipped part, or a parcel that shipped after its hold lapsed: ``online_fulfilment``)."""
    keys = [f"online:{line.reservation_id}:shipped" for line in order_lines]
    if not keys:
        return False
    found = session.execute(
        sa.select(sa.func.count())
        .select_from(StockMovement.__table__)  # type: ignore[arg-type]
        .where(StockMovement.idempotency_key.in_(keys))  # type: ignore[union-attr]
    ).scalar_one()
    return bool(found)


def _hold(session: Session, reservation_id: str) -> ChannelReservation | None:
    return session.get(ChannelReservation, reservation_id, populate_existing=True)


def _cancelled(session: Session, row: OnlineOrder, order_lines: Sequence[OnlineOrderLine]) -> None:
    row.status = OnlineOrderStatus.CANCELLED
    session.add(row)
    give_slots(session, row.routing_day, [line.node_code for line in order_lines])


def close_if_nothing_left(session: Session, row: OnlineOrder, now: dt.datetime) -> bool:
    """Cancel the order (and give its slots back) when no part of it holds or shipped stock:
    every hold released or lapsed and no unit booked as sold. True when it was cancelled."""
    if row.status == OnlineOrderStatus.CANCELLED:
        return False
    order_lines = lines_of(session, row.id)
    live = {ReservationStatus.OPEN, ReservationStatus.CONFIRMED}
    for line in order_lines:
        hold = _hold(session, line.reservation_id)
        if hold is not None and hold.status in live:
            return False
    if _sold_any(session, order_lines):
        return False
    row.updated_at = as_utc(now)
    _cancelled(session, row, order_lines)
    session.flush()
    return True


def withdrawal_confirmed(
    session: Session, order_id: str, node: str, *, actor: str, now: dt.datetime
) -> OnlineOrder | None:
    """The OMS will not ship ``node``'s parcel: its open holds go back; a cancelling order with
    nothing else left is cancelled."""
    begin_write(session)
    row = session.get(OnlineOrder, order_id, populate_existing=True)
    if row is None:
        return None
    for line in lines_of(session, order_id):
        hold = _hold(session, line.reservation_id)
        if line.node_code == node and hold is not None and hold.status == ReservationStatus.OPEN:
            reservations.release(session, line.reservation_id, channel=None, actor=actor, now=now)
    after_withdrawal(session, row, now)
    return row


def after_withdrawal(session: Session, row: OnlineOrder, now: dt.datetime) -> None:
    """A parcel was withdrawn: cancel the order when nothing is left; a cancelling order none of
    whose parcels still waits on the OMS goes on with what shipped (``routed``)."""
    if close_if_nothing_left(session, row, now):
        return
    if row.status == OnlineOrderStatus.CANCELLING and not _still_asked(session, row):
        _set_status(session, row, OnlineOrderStatus.ROUTED, now)


def withdrawal_refused(session: Session, order_id: str, *, now: dt.datetime) -> OnlineOrder | None:
    """No withdrawal is asked of the OMS any more and the order is not cancelled: the OMS refused
    (it shipped), the request was given up or dead-lettered, or the last one confirmed while
    another parcel's was refused. The order goes on (``routed``); the holds of the parcels the
    OMS keeps stay, for the ``shipped`` event to confirm."""
    begin_write(session)
    row = session.get(OnlineOrder, order_id, populate_existing=True)
    if row is None:
        return None
    if row.status == OnlineOrderStatus.CANCELLING:
        _set_status(session, row, OnlineOrderStatus.ROUTED, now)
    return row


def _set_status(session: Session, row: OnlineOrder, status: str, now: dt.datetime) -> None:
    row.status = status
    row.updated_at = as_utc(now)
    session.add(row)
    session.flush()


def withdrawal_asked_again(
    session: Session, order_id: str, node: str, *, now: dt.datetime
) -> str | None:
    """A person re-sends the withdrawal of ``node``'s parcel that the OMS refused or never heard
    (ops' requeue of its outbox row): the order waits on it again (``cancelling``), so the OMS's
    confirmation cancels it as a first request would have. Returns the order's status before
    (None: no such order, nothing to move).

    Refused (a conflict) once the order moved on: it is cancelled, or that parcel shipped (a
    hold confirmed, or units booked as sold) or was withdrawn already (every hold released) —
    the OMS would be asked for what it did already or can no longer do. The order row is locked
    (PostgreSQL), so a concurrent answer about it is booked before or after, never beside."""
    begin_write(session)
    row = session.get(OnlineOrder, order_id, populate_existing=True, with_for_update=True)
    if row is None:
        return None
    if row.status == OnlineOrderStatus.CANCELLED:
        raise OrderError("conflict", f"order {order_id} is cancelled already", field="status")
    parcel = [line for line in lines_of(session, order_id) if line.node_code == node]
    holds = [_hold(session, line.reservation_id) for line in parcel]
    states = {hold.status for hold in holds if hold is not None}
    if ReservationStatus.CONFIRMED in states or _sold_any(session, parcel):
        raise OrderError(
            "conflict", f"order {order_id}'s parcel from {node} has shipped", field="status"
        )
    if not states & {ReservationStatus.OPEN, ReservationStatus.EXPIRED}:
        raise OrderError(
            "conflict",
            f"order {order_id}'s parcel from {node} was withdrawn already (its holds released)",
            field="status",
        )
    was = row.status
    if row.status == OnlineOrderStatus.ROUTED:
        _set_status(session, row, OnlineOrderStatus.CANCELLING, now)
    return was


def _still_asked(session: Session, row: OnlineOrder) -> bool:
    """Whether some part still holds stock waiting on the OMS's answer (open holds)."""
    for line in lines_of(session, row.id):
        hold = _hold(session, line.reservation_id)
        if hold is not None and hold.status == ReservationStatus.OPEN:
            return True
    return False


def query_for(
    *, channel: str | None, status: OnlineOrderStatus | None, node: str | None
) -> SelectOfScalar[OnlineOrder]:
    """Orders newest first, narrowed to one channel's and the filters."""
    stmt = select(OnlineOrder).order_by(
        OnlineOrder.created_at.desc(),  # type: ignore[attr-defined]
        OnlineOrder.id,
    )
    if channel is not None:
        stmt = stmt.where(OnlineOrder.channel == channel)
    if status is not None:
        stmt = stmt.where(OnlineOrder.status == status)
    if node is not None:
        stmt = stmt.where(
            OnlineOrder.id.in_(  # type: ignore[attr-defined]
                select(OnlineOrderLine.order_id).where(OnlineOrderLine.node_code == node)
            )
        )
    return stmt


def reserved_parts(session: Session, order_ids: Sequence[str]) -> dict[str, list[OnlineOrderLine]]:
    rows = session.exec(
        select(OnlineOrderLine).where(OnlineOrderLine.order_id.in_(list(order_ids)))  # type: ignore[attr-defined]
    )
    found: dict[str, list[OnlineOrderLine]] = {}
    for line in rows:
        found.setdefault(line.order_id, []).append(line)
    return found
