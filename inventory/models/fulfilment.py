"""Realised fulfilment (DESIGN §2): what the WMS/OMS say happened to an order, and the raw events.

Outcomes are keyed on the fulfilling system's own reference, ``(system, order_ref, line)``, and
carry the node and lane (origin → destination) as plain codes, so a transfer order, a routed
online order or anything else a node fulfils is recorded the same way, without a foreign key
into another stream's tables. ``line == ""`` is the order (one trip): its timestamps and cost;
the other rows are its lines: what was asked and what was picked.
"""

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

#: The order-level row of an outcome (times and cost); lines use their own id.
ORDER_LINE = ""


class FulfilmentEvent(SQLModel, table=True):
    """One signed webhook event as received; idempotent per sender on ``event_id``."""

    __tablename__ = "fulfilment_event"
    __table_args__ = (UniqueConstraint("sender", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    type: str = Field(max_length=16, description="shipped | delivered | cost | cancelled")
    system: str = Field(max_length=32, index=True)
    order_ref: str = Field(max_length=64, index=True)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime
    received_at: datetime


class FulfilmentOutcome(SQLModel, table=True):
    """The realised outcome of one order (``line == ""``) or one of its lines."""

    __tablename__ = "fulfilment_outcome"
    __table_args__ = (UniqueConstraint("system", "order_ref", "line"),)

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=32)
    order_ref: str = Field(max_length=64)
    line: str = Field(default=ORDER_LINE, max_length=64)
    order_kind: str = Field(max_length=16, description="transfer | online | other")
    client_ref: str | None = Field(
        default=None, max_length=64, description="Our id for the order (e.g. TO-…), if sent."
    )
    origin: str = Field(max_length=64, index=True, description="The node that fulfils.")
    destination: str = Field(max_length=64, index=True, description="Location or delivery zone.")
    sku: str | None = Field(default=None, max_length=64)
    qty_ordered: int | None = None
    qty_shipped: int | None = None
    released_at: datetime | None = Field(default=None, description="Handed to the node.")
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cost: float | None = Field(default=None, description="Realised cost of the order, CNY.")
    trips: int | None = None
    units: int | None = Field(default=None, description="Units the cost paid for.")
    updated_at: datetime
