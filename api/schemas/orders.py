"""Request and response models of ``/v1/orders`` (online orders routed over the one pool)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.auth import CHANNEL_CODE
from inventory.models import OnlineOrder, OnlineOrderLine
from tools.route_order.models import Exclusion, RoutingOption

_CHANNEL = f"^{CHANNEL_CODE.pattern}$"
DEFAULT_PROMISE_HOURS = 48.0


class OrderLineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64, examples=["RB001-BLK-38"])
    qty: int = Field(ge=1, le=100)


class Destination(BaseModel):
    city: str = Field(min_length=1, max_length=64, description="City, English or 中文.")
    address: str = Field(default="", max_length=200, description="Street address (kept as is).")


class OrderCreate(BaseModel):
    """An online order to route; the channel's own ``order_id`` makes a retry safe."""

    order_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="The channel's order id: the same id again answers with the first routing.",
    )
    lines: list[OrderLineIn] = Field(min_length=1, max_length=50)
    destination: Destination
    promised_by: dt.datetime | None = Field(
        default=None, description="Promised delivery (ISO 8601; UTC when no offset is given)."
    )
    promise_hours: float | None = Field(
        default=None,
        gt=0,
        le=336,
        description=f"Or: delivery within this many hours (default {DEFAULT_PROMISE_HOURS:g}).",
    )
    oms_ref: str | None = Field(
        default=None, min_length=1, max_length=64, description="The OMS's own order reference."
    )
    channel: str | None = Field(
        default=None,
        pattern=_CHANNEL,
        description="Only for ops/admin acting for a channel; a channel key orders for itself.",
    )

    @model_validator(mode="after")
    def _one_promise(self) -> OrderCreate:
        if self.promised_by is not None and self.promise_hours is not None:
            raise ValueError("give promised_by or promise_hours, not both")
        return self


class OrderLineView(BaseModel):
    line_no: int
    sku: str
    qty: int
    node: str = Field(description="The node that ships it (DC, online pool or store).")
    shipment_ref: str = Field(description="The parcel's reference at the OMS.")
    reservation_id: str
    hold: Literal["open", "confirmed", "released", "expired"] = Field(
        description="The reservation's state: confirmed = shipped; expired = its TTL lapsed."
    )
    lead_time_hours: float


class ParcelView(BaseModel):
    """One parcel as the OMS knows it: sent or not, and any cancellation asked of it."""

    node: str
    shipment_ref: str
    oms: Literal["pending", "sent", "failed", "withdrawn"] = Field(
        description="pending: not yet accepted by the OMS; sent: the OMS holds it (oms_ref); "
        "failed: the OMS refused it; withdrawn: cancelled before it was sent."
    )
    oms_ref: str | None = None
    cancellation: (
        Literal["requested", "confirmed", "refused", "undelivered", "abandoned"] | None
    ) = Field(
        default=None,
        description="A cancellation asked of the OMS: requested (waiting for its answer), "
        "confirmed (it will not ship), refused (it had already shipped; `detail` says when), "
        "undelivered (the OMS stayed unreachable past the outbox's retry bound: dead-lettered, "
        "the order goes on; ops may re-send it), abandoned (a person cancelled the request's "
        "outbox row before it was delivered; the order goes on, `detail` says who and why).",
    )
    detail: str | None = None


class RoutingView(BaseModel):
    chosen: RoutingOption | None
    runners_up: list[RoutingOption]
    excluded: list[Exclusion]


class OrderView(BaseModel):
    id: str
    channel: str
    order_id: str
    oms_ref: str | None
    status: Literal["routed", "cancelling", "cancelled"] = Field(
        description="cancelling: the OMS was asked to withdraw parcels it holds; their holds "
        "stay until it confirms (→ cancelled), refuses because they shipped (→ routed), or a "
        "person gives up on the request in the outbox (→ routed)."
    )
    destination_city: str
    destination_region: str
    address: str
    promised_by: dt.datetime
    eta: dt.datetime
    on_time: bool
    shipments: int
    units: int
    delivery_cost: float
    lines: list[OrderLineView]
    parcels: list[ParcelView] = Field(default_factory=list)
    routing: RoutingView
    created_by: str
    created_at: dt.datetime

    @classmethod
    def from_rows(
        cls,
        row: OnlineOrder,
        lines: list[OnlineOrderLine],
        holds: dict[str, str],
        parcels: list[ParcelView] | None = None,
    ) -> OrderView:
        decision = row.decision or {}
        return cls(
            id=row.id,
            channel=row.channel,
            order_id=row.channel_order_id,
            oms_ref=row.oms_ref,
            status=row.status,  # type: ignore[arg-type]
            destination_city=row.destination_city,
            destination_region=row.destination_region,
            address=row.address,
            promised_by=row.promised_by,
            eta=row.eta,
            on_time=row.eta <= row.promised_by,
            shipments=row.shipments,
            units=row.units,
            delivery_cost=row.delivery_cost,
            lines=[
                OrderLineView(
                    line_no=line.line_no,
                    sku=line.sku_code,
                    qty=line.qty,
                    node=line.node_code,
                    shipment_ref=line.shipment_ref,
                    reservation_id=line.reservation_id,
                    hold=holds.get(line.reservation_id, "open"),  # type: ignore[arg-type]
                    lead_time_hours=line.lead_time_hours,
                )
                for line in lines
            ],
            parcels=parcels or [],
            routing=RoutingView(
                chosen=decision.get("chosen"),
                runners_up=decision.get("runners_up", []),
                excluded=decision.get("excluded", []),
            ),
            created_by=row.created_by,
            created_at=row.created_at,
        )
