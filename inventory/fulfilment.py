"""Realised fulfilment: the WMS/OMS events (shipped, delivered, cost, cancelled) and their outcome.

A fulfilling system (the WMS for transfer orders, the OMS or a store for online orders) tells us
what happened to an order it fulfils, under its own reference. Each event is stored as received
(idempotent per sender on ``event_id``: the same body again is a duplicate, another body under a
known id a conflict) and folded into the order's outcome row, keyed on ``(system, order_ref,
line)``. Events may arrive in any order: each sets only its own fields, and every event names the
order's node and lane, so the first one to arrive creates the outcome.

What the rows mean, for the learning in ``inventory.fulfilment_stats``:

- ``released_at`` (from ``shipped``): when the order was handed to the node; lead time is
  ``delivered_at - released_at``, the same span a lane's configured ``lead_time_hours`` promises.
- ``qty_shipped < qty_ordered`` on a line (from ``shipped``): the node picked short.
- ``cost`` / ``trips`` / ``units`` (from ``cost``): what the order cost, for how many trips and
  units, to compare with the lane's ``cost_per_shipment × trips + cost_per_unit × units``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from inventory import online_fulfilment
from inventory.clock import as_utc
from inventory.db import begin_write
from inventory.models import (
    FulfilmentEvent,
    FulfilmentOutcome,
    Location,
    OnlineOrder,
    OnlineOrderLine,
)
from inventory.models.fulfilment import ORDER_LINE
from inventory.reservations import ReservationError
from inventory.upsert import dialect_insert

logger = logging.getLogger(__name__)

_OUTCOME = FulfilmentOutcome.__table__.c  # type: ignore[attr-defined]
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(
        min_length=1, max_length=128, description="The sender's id; a retry reuses it."
    )
    system: str = Field(
        default="wms",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="The fulfilling system whose reference `order_ref` is (wms, oms, ...).",
    )
    order_ref: str = Field(pattern=_CODE, description="The system's own reference of the order.")
    client_ref: str | None = Field(
        default=None, pattern=_CODE, description="Our id of the order (TO-… for transfers)."
    )
    order_kind: Literal["transfer", "online", "other"] = "transfer"
    origin: str = Field(pattern=_CODE, description="The node (location code) that fulfils.")
    destination: str = Field(
        pattern=_CODE, description="The receiving location, or a delivery zone for online orders."
    )
    occurred_at: AwareDatetime = Field(description="When it happened, as the system saw it.")


class ShippedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: str = Field(pattern=_CODE, description="The line's id within the order.")
    sku: str = Field(min_length=1, max_length=64)
    qty_ordered: int = Field(gt=0, le=1_000_000)
    qty_shipped: int = Field(ge=0, le=1_000_000, description="Below qty_ordered: picked short.")

    @model_validator(mode="after")
    def _not_more_than_ordered(self) -> ShippedLine:
        if self.qty_shipped > self.qty_ordered:
            raise ValueError(
                f"line {self.line}: qty_shipped {self.qty_shipped} exceeds qty_ordered "
                f"{self.qty_ordered}"
            )
        return self


class Shipped(_Event):
    """The node picked, packed and handed the order to the carrier (``occurred_at``)."""

    type: Literal["shipped"] = "shipped"
    released_at: AwareDatetime = Field(description="When the order was handed to the node.")
    lines: list[ShippedLine] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _released_first(self) -> Shipped:
        if self.released_at > self.occurred_at:
            raise ValueError("released_at is after occurred_at (the shipping time)")
        if len({line.line for line in self.lines}) != len(self.lines):
            raise ValueError("a line id appears twice")
        return self


class Delivered(_Event):
    """The destination (or the customer) received the order at ``occurred_at``."""

    type: Literal["delivered"] = "delivered"


class Cost(_Event):
    """What the order cost to fulfil: freight and handling, for ``trips`` trips and ``units``."""

    type: Literal["cost"] = "cost"
    amount: float = Field(ge=0, le=10_000_000, description="CNY.")
    currency: Literal["CNY"] = "CNY"
    trips: int = Field(default=1, ge=1, le=1000)
    units: int = Field(ge=0, le=1_000_000)


class Cancelled(_Event):
    """The order will not be fulfilled (``reason`` says why)."""

    type: Literal["cancelled"] = "cancelled"
    reason: str = Field(default="", max_length=500)


FulfilmentEventIn = Annotated[Shipped | Delivered | Cost | Cancelled, Field(discriminator="type")]
EVENT_TYPES = ("shipped", "delivered", "cost", "cancelled")


class FulfilmentRefused(ValueError):
    """An event the pool cannot take; ``kind`` is ``conflict`` (409) or ``invalid`` (422)."""

    def __init__(self, kind: str, message: str, *, field: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


@dataclass(frozen=True)
class Recorded:
    event: FulfilmentEvent
    duplicate: bool


def record_event(
    session: Session,
    sender: str,
    event: Shipped | Delivered | Cost | Cancelled,
    *,
    now: dt.datetime,
) -> Recorded:
    """Store ``event`` once and fold it into its order's outcome, in the caller's transaction.

    Raises:
        FulfilmentRefused: the id was used for another body (conflict), the order was recorded
            on another lane (conflict), or the node is not one of the pool's locations.
    """
    begin_write(session)
    payload = event.model_dump(mode="json")
    if (first := _existing(session, sender, event.event_id)) is not None:
        return Recorded(_same_body(first, payload), duplicate=True)
    _check_nodes(session, event)
    try:
        with session.begin_nested():
            row = FulfilmentEvent(
                sender=sender,
                event_id=event.event_id,
                type=event.type,
                system=event.system,
                order_ref=event.order_ref,
                payload=payload,
                occurred_at=event.occurred_at,
                received_at=as_utc(now),
            )
            session.add(row)
            session.flush()
            _apply(session, event, as_utc(now))
            if event.order_kind == "online":
                _book_online(session, sender, event, as_utc(now))
    except IntegrityError:
        # The same event arrived concurrently (PostgreSQL) and committed first.
        if (first := _existing(session, sender, event.event_id)) is None:
            raise
        return Recorded(_same_body(first, payload), duplicate=True)
    return Recorded(row, duplicate=False)


def _existing(session: Session, sender: str, event_id: str) -> FulfilmentEvent | None:
    stmt = select(FulfilmentEvent).where(
        FulfilmentEvent.sender == sender, FulfilmentEvent.event_id == event_id
    )
    return session.exec(stmt).first()


def _same_body(first: FulfilmentEvent, payload: dict) -> FulfilmentEvent:
    if first.payload != payload:
        changed = sorted(
            k for k in set(first.payload) | set(payload) if first.payload.get(k) != payload.get(k)
        )
        raise FulfilmentRefused(
            "conflict",
            f"event {first.event_id!r} from {first.sender!r} was already received with a "
            f"different body (differs in: {', '.join(changed)}); send a new event id for a new "
            "event",
            field="event_id",
        )
    return first


def _check_nodes(session: Session, event: _Event) -> None:
    if session.get(Location, event.origin) is None:
        raise FulfilmentRefused(
            "invalid", f"unknown origin node {event.origin!r} (not a location)", field="origin"
        )
    if event.order_kind == "transfer" and session.get(Location, event.destination) is None:
        raise FulfilmentRefused(
            "invalid",
            f"unknown destination {event.destination!r}: a transfer goes to a location",
            field="destination",
        )


def _outcome(session: Session, event: _Event, line: str, now: dt.datetime) -> FulfilmentOutcome:
    """The outcome row for ``line`` of the event's order, created on the first event."""
    insert = (
        dialect_insert(session, FulfilmentOutcome.__table__)  # type: ignore[arg-type]
        .values(
            system=event.system,
            order_ref=event.order_ref,
            line=line,
            order_kind=event.order_kind,
            client_ref=event.client_ref,
            origin=event.origin,
            destination=event.destination,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["system", "order_ref", "line"])
    )
    session.execute(insert)
    row = session.exec(
        select(FulfilmentOutcome)
        .where(
            FulfilmentOutcome.system == event.system,
            FulfilmentOutcome.order_ref == event.order_ref,
            FulfilmentOutcome.line == line,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if (row.origin, row.destination) != (event.origin, event.destination):
        raise FulfilmentRefused(
            "conflict",
            f"{event.system} order {event.order_ref} was recorded as {row.origin} → "
            f"{row.destination}; this event says {event.origin} → {event.destination}",
            field="origin",
        )
    if event.client_ref and not row.client_ref:
        row.client_ref = event.client_ref
    row.updated_at = now
    return row


def _apply(session: Session, event: _Event, now: dt.datetime) -> None:
    order = _outcome(session, event, ORDER_LINE, now)
    if isinstance(event, Shipped):
        order.released_at = event.released_at
        order.shipped_at = event.occurred_at
        for item in sorted(event.lines, key=lambda item: item.line):  # one lock order
            line = _outcome(session, event, item.line, now)
            line.sku, line.qty_ordered, line.qty_shipped = (
                item.sku,
                item.qty_ordered,
                item.qty_shipped,
            )
            line.released_at, line.shipped_at = event.released_at, event.occurred_at
    elif isinstance(event, Delivered):
        order.delivered_at = event.occurred_at
    elif isinstance(event, Cost):
        order.cost, order.trips, order.units = event.amount, event.trips, event.units
    elif isinstance(event, Cancelled):
        order.cancelled_at = event.occurred_at
    session.flush()


def _book_online(
    session: Session, sender: str, event: Shipped | Delivered | Cost | Cancelled, now: dt.datetime
) -> None:
    """Settle the parcel's holds through the stock writer (``inventory.online_fulfilment``);
    an event about an order this pool did not route books nothing."""
    order, lines = online_fulfilment.parcel_lines(
        session, client_ref=event.client_ref, order_ref=event.order_ref, node=event.origin
    )
    if order is None or not lines:
        return
    actor = f"{online_fulfilment.ACTOR_PREFIX}:{sender}"
    try:
        _settle(session, event, order, lines, actor, now)
    except ReservationError as error:
        # The stock writer refused (the position changed behind the pool's back): the event
        # is kept, the holds stay as they are for ops to see.
        logger.error("online order %s: event %s not booked: %s", order.id, event.event_id, error)


def _settle(
    session: Session,
    event: Shipped | Delivered | Cost | Cancelled,
    order: OnlineOrder,
    lines: list[OnlineOrderLine],
    actor: str,
    now: dt.datetime,
) -> None:
    if isinstance(event, Shipped):
        shipped = {item.line: item.qty_shipped for item in event.lines}
        shipped |= {item.sku: item.qty_shipped for item in event.lines if item.sku not in shipped}
        online_fulfilment.on_shipped(session, order, lines, shipped, actor=actor, now=now)
    elif isinstance(event, Delivered):
        online_fulfilment.on_delivered(session, lines, actor=actor, now=now)
    elif isinstance(event, Cancelled):
        online_fulfilment.on_cancelled(session, order, lines, actor=actor, now=now)


def outcomes_query(
    *, system: str | None = None, order_ref: str | None = None, origin: str | None = None
) -> sa.Select:
    """Order-level outcomes newest first, narrowed by the filters given."""
    stmt = (
        select(FulfilmentOutcome)
        .where(FulfilmentOutcome.line == ORDER_LINE)
        .order_by(FulfilmentOutcome.updated_at.desc(), FulfilmentOutcome.id.desc())  # type: ignore[attr-defined]
    )
    if system is not None:
        stmt = stmt.where(FulfilmentOutcome.system == system)
    if order_ref is not None:
        stmt = stmt.where(FulfilmentOutcome.order_ref == order_ref)
    if origin is not None:
        stmt = stmt.where(FulfilmentOutcome.origin == origin)
    return stmt
