"""Public views of fulfilment feedback: received events, outcomes, learnt lane and node figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from inventory.fulfilment_stats import Figures, LaneFigures, NodeFigures
from inventory.models import FulfilmentEvent, FulfilmentOutcome


class EventAccepted(BaseModel):
    event_id: str
    sender: str
    type: str
    system: str
    order_ref: str
    duplicate: bool = Field(description="The event id was received before with this body.")


class FulfilmentEventView(BaseModel):
    event_id: str
    sender: str
    type: str
    system: str
    order_ref: str
    payload: dict[str, Any]
    occurred_at: dt.datetime
    received_at: dt.datetime

    @classmethod
    def from_row(cls, row: FulfilmentEvent) -> FulfilmentEventView:
        return cls(
            event_id=row.event_id,
            sender=row.sender,
            type=row.type,
            system=row.system,
            order_ref=row.order_ref,
            payload=row.payload,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
        )


class OutcomeView(BaseModel):
    """An order's realised outcome (order level: times and cost)."""

    system: str
    order_ref: str
    order_kind: str
    client_ref: str | None
    origin: str
    destination: str
    released_at: dt.datetime | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cost: float | None
    trips: int | None
    units: int | None

    @classmethod
    def from_row(cls, row: FulfilmentOutcome) -> OutcomeView:
        return cls.model_validate(row, from_attributes=True)


class FiguresView(BaseModel):
    lead_time_hours: float
    cost_per_unit: float
    cost_per_shipment: float

    @classmethod
    def of(cls, figures: Figures | None) -> FiguresView | None:
        if figures is None:
            return None
        return cls(
            lead_time_hours=round(figures.lead_time_hours, 2),
            cost_per_unit=round(figures.cost_per_unit, 4),
            cost_per_shipment=round(figures.cost_per_shipment, 2),
        )


class LearntView(BaseModel):
    deliveries: int = Field(description="Delivered, not cancelled, with a release time.")
    lead_time_hours: float | None = Field(description="Mean realised release → delivery.")
    costed: int
    cost_ratio: float | None = Field(description="Realised ÷ configured cost (ratio of sums).")
    cost_per_trip: float | None
    cost_per_unit: float | None
    lines: int
    picked_short: int
    cancelled: int


class LaneFiguresView(BaseModel):
    """A lane's configured (prior), learnt and effective figures; planning uses `effective`."""

    origin: str
    destination: str
    configured: FiguresView | None
    learnt: LearntView
    effective: FiguresView | None
    pick_short_rate: float = Field(description="Effective (shrunk) share of lines picked short.")
    weights: dict[str, float] = Field(description="Credibility Z = n / (n + k) of each figure.")
    deviations: list[str] = Field(description="Material differences from the configured figures.")

    @classmethod
    def of(cls, item: LaneFigures) -> LaneFiguresView:
        learnt = item.learnt
        return cls(
            origin=item.origin,
            destination=item.destination,
            configured=FiguresView.of(item.configured),
            learnt=LearntView(
                deliveries=learnt.deliveries,
                lead_time_hours=_round(learnt.lead_time_hours, 2),
                costed=learnt.costed,
                cost_ratio=_round(learnt.cost_ratio, 4),
                cost_per_trip=_round(learnt.cost_per_trip, 2),
                cost_per_unit=_round(learnt.cost_per_unit, 4),
                lines=learnt.lines,
                picked_short=learnt.picked_short,
                cancelled=learnt.cancelled,
            ),
            effective=FiguresView.of(item.effective),
            pick_short_rate=round(item.pick_short_rate, 4),
            weights={name: round(z, 4) for name, z in item.weights.items()},
            deviations=list(item.deviations),
        )


class NodeFiguresView(BaseModel):
    node: str
    orders: int
    lines: int
    picked_short: int
    pick_short_rate: float = Field(description="Effective (shrunk) share of lines picked short.")
    handling_hours: float | None = Field(description="Mean release → shipped.")
    cancelled: int

    @classmethod
    def of(cls, item: NodeFigures) -> NodeFiguresView:
        return cls(
            node=item.node,
            orders=item.orders,
            lines=item.lines,
            picked_short=item.picked_short,
            pick_short_rate=round(item.pick_short_rate, 4),
            handling_hours=_round(item.handling_hours, 2),
            cancelled=item.cancelled,
        )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
