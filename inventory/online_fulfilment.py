"""Close the loop of an online order: what the OMS/WMS reports moves the order's held stock.

A routed order holds its units (``inventory.online_orders``, one channel reservation per line
and node). The fulfilling node's events then settle those holds through the single stock
writer (``inventory.reservations`` / ``inventory.movements``):

- ``shipped``: a line shipped in full confirms its hold (on-hand and reserved drop together);
  a line picked short releases the hold, sells what left and writes the missing units off
  on-hand (the node did not have them, so routing must not count on them again).
- ``delivered`` with the parcel's holds still open (the ``shipped`` event is late or lost):
  delivery proves the parcel left in full, so the holds are confirmed.
- ``cancelled``: the parcel's open holds are released; when no line of the order is left
  holding or shipped, the order is cancelled.

It runs inside ``inventory.fulfilment.record_event``'s savepoint, after the event is stored:
a replayed event never gets here (the event id is a duplicate), and every movement carries an
idempotency key of the hold, so two different events saying the same thing book it once.

An event finds its parcel by our order id (``client_ref``) or the OMS reference of the order
(``order_ref``) and its node (``origin``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

from sqlmodel import Session, select

from inventory import movements, online_orders, reservations
from inventory.models import (
    ChannelReservation,
    OnlineOrder,
    OnlineOrderLine,
    ReservationStatus,
)
from inventory.movement_core import MovementRefused
from inventory.reservations import ReservationError

log = logging.getLogger(__name__)

ACTOR_PREFIX = "fulfilment"


def delivery_zone(city: str) -> str:
    """The destination an online parcel's events name: the customer's city as a zone code.

    The OMS's events and routing's learnt parcel figures meet on it (``zone-Shanghai``); a name
    outside the code alphabet keeps its letters as ``_`` (routing gives the pool's city names).
    """
    return "zone-" + re.sub(r"[^A-Za-z0-9_.:\-]", "_", city)[:58]


def _order(session: Session, client_ref: str | None, order_ref: str) -> OnlineOrder | None:
    if client_ref:
        row = session.get(OnlineOrder, client_ref, populate_existing=True)
        if row is not None:
            return row
    for column, value in ((OnlineOrder.oms_ref, order_ref), (OnlineOrder.id, order_ref)):
        row = session.exec(select(OnlineOrder).where(column == value)).first()
        if row is not None:
            return row
    return None


def parcel_lines(
    session: Session, *, client_ref: str | None, order_ref: str, node: str
) -> tuple[OnlineOrder | None, list[OnlineOrderLine]]:
    """The order an online event is about and its lines shipped from ``node``."""
    order = _order(session, client_ref, order_ref)
    if order is None:
        return None, []
    lines = session.exec(
        select(OnlineOrderLine)
        .where(OnlineOrderLine.order_id == order.id, OnlineOrderLine.node_code == node)
        .order_by(OnlineOrderLine.line_no)  # type: ignore[arg-type]
    ).all()
    return order, list(lines)


def _status(session: Session, line: OnlineOrderLine, now: dt.datetime | None = None) -> str:
    """The hold's state; with ``now``, a hold past its TTL is expired first (as any read of it
    would), so the event books against what the hold really is."""
    if now is not None:
        try:
            return reservations.get(session, line.reservation_id, channel=None, now=now).status
        except ReservationError:
            return ReservationStatus.RELEASED
    row = session.get(ChannelReservation, line.reservation_id, populate_existing=True)
    return row.status if row is not None else ReservationStatus.RELEASED


def _confirm(session: Session, line: OnlineOrderLine, *, actor: str, now: dt.datetime) -> None:
    status = _status(session, line, now)
    if status == ReservationStatus.OPEN:
        reservations.confirm(session, line.reservation_id, channel=None, actor=actor, now=now)
    elif status != ReservationStatus.CONFIRMED:
        # The hold lapsed (TTL) or was released, yet the parcel left: book the sale from
        # unreserved stock, once (the key is the hold's).
        _sell(session, line, line.qty, actor=actor, now=now, why=f"shipped after hold {status}")


def _sell(
    session: Session, line: OnlineOrderLine, qty: int, *, actor: str, now: dt.datetime, why: str
) -> None:
    if qty <= 0:
        return
    try:
        movements.record_sale(
            session,
            line.node_code,
            line.sku_code,
            qty,
            ref=line.order_id,
            idempotency_key=f"online:{line.reservation_id}:shipped",
            actor=actor,
            reason=f"online order {line.order_id} line {line.line_no}: {why}",
            at=now,
        )
    except MovementRefused as refused:
        log.error("online order %s: cannot book %d shipped: %s", line.order_id, qty, refused)


def _picked_short(
    session: Session, line: OnlineOrderLine, shipped: int, *, actor: str, now: dt.datetime
) -> None:
    """Release the hold, sell what left, write the missing units off on-hand."""
    if _status(session, line, now) == ReservationStatus.OPEN:
        reservations.release(session, line.reservation_id, channel=None, actor=actor, now=now)
    _sell(session, line, shipped, actor=actor, now=now, why=f"picked short ({shipped} shipped)")
    missing = line.qty - shipped
    try:
        movements.adjust(
            session,
            line.node_code,
            line.sku_code,
            -missing,
            reason=f"picked short on online order {line.order_id}: {missing} not on the shelf",
            ref=line.order_id,
            idempotency_key=f"online:{line.reservation_id}:short",
            actor=actor,
            at=now,
        )
    except MovementRefused as refused:
        # Everything left there is promised to others: the count is left to a stock take.
        log.warning("online order %s: short units not written off: %s", line.order_id, refused)


def on_shipped(
    session: Session,
    order: OnlineOrder,
    lines: Sequence[OnlineOrderLine],
    shipped: dict[str, int],
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """``shipped``: line id (its number, or its SKU) → units that left.

    Picked short is not re-routed: the missing units are cancelled on the order (the channel
    refunds them). When nothing of the order is left holding or shipped, the order is cancelled
    and its store-day slots go back (``online_orders.close_if_nothing_left``)."""
    for line in lines:
        qty = shipped.get(str(line.line_no), shipped.get(line.sku_code))
        if qty is None:
            continue  # not in this event (a parcel may be reported in parts)
        if qty >= line.qty:
            _confirm(session, line, actor=actor, now=now)
        else:
            _picked_short(session, line, qty, actor=actor, now=now)
    session.flush()
    online_orders.close_if_nothing_left(session, order, now)


def on_delivered(
    session: Session, lines: Sequence[OnlineOrderLine], *, actor: str, now: dt.datetime
) -> None:
    for line in lines:
        # Released means cancelled or picked short: that parcel's story is already booked.
        if _status(session, line, now) in (ReservationStatus.OPEN, ReservationStatus.EXPIRED):
            _confirm(session, line, actor=actor, now=now)


def on_cancelled(
    session: Session,
    order: OnlineOrder,
    lines: Sequence[OnlineOrderLine],
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """The node will not ship its parcel: its open holds go back (the same as the OMS
    confirming a withdrawal we asked for)."""
    for line in lines:
        if _status(session, line, now) == ReservationStatus.OPEN:
            try:
                reservations.release(
                    session, line.reservation_id, channel=None, actor=actor, now=now
                )
            except ReservationError as error:  # changed concurrently: the event still counts
                log.warning("online order %s: hold not released: %s", order.id, error)
    session.flush()
    online_orders.after_withdrawal(session, order, now)
