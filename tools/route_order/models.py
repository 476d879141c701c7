"""I/O of route_order (and the two read tools beside it); the input schemas are what an LLM sees."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Strategy = Literal["score", "regional_dc"]
NodeKind = Literal["dc", "online", "store"]
_CHANNEL = r"^[a-z][a-z0-9_-]{0,31}$"


class OrderLineInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description="SKU code, e.g. RB001-BLK-38.")
    qty: int = Field(ge=1, le=100, description="Units ordered.")


class RouteOrderInput(BaseModel):
    """Where would this online order ship from, and why? A dry run: nothing is reserved."""

    lines: list[OrderLineInput] = Field(min_length=1, max_length=50)
    destination_city: str = Field(
        min_length=1, max_length=64, description="Customer's city (English or 中文), e.g. 上海."
    )
    channel: str = Field(
        default="online", pattern=_CHANNEL, description="Sales channel whose entitlements apply."
    )
    promise_hours: float = Field(
        default=48, gt=0, le=336, description="Delivery promised within this many hours."
    )
    strategy: Strategy = Field(
        default="score",
        description="score: the routing score over every entitled node; regional_dc: the "
        "destination region's DC only (the baseline routing is compared with).",
    )
    ship_from_store: bool = Field(default=True, description="False: DCs and the online pool only.")


class ScoreParts(BaseModel):
    """A plan's score in CNY; the lowest total wins."""

    delivery_cost: float = Field(description="Pick/pack + parcel freight from the lanes.")
    late_penalty: float = Field(description="Per hour the expected delivery passes the promise.")
    stock_health: float = Field(
        description="Negative: units from overstocked / slow-selling stock; positive: lean stock."
    )
    split_penalty: float = Field(description="Per parcel beyond the first.")
    total: float


class ParcelLine(BaseModel):
    line_no: int
    sku: str
    qty: int


class Parcel(BaseModel):
    node: str
    node_kind: NodeKind
    node_name: str
    node_city: str
    lines: list[ParcelLine]
    lead_time_hours: float = Field(description="Handling at the node + the lane's lead time.")
    eta: dt.datetime
    on_time: bool
    cost: float = Field(description="Pick/pack + freight of this parcel, CNY.")
    stock_health: float
    figures_basis: str = Field(description="Where lead time and cost come from.")


class RoutingOption(BaseModel):
    nodes: list[str]
    parcels: list[Parcel]
    parts: ScoreParts


class Exclusion(BaseModel):
    node: str
    reason: str


class RouteOrderOutput(BaseModel):
    as_of: dt.datetime
    channel: str
    destination_city: str
    destination_region: str
    promised_by: dt.datetime
    strategy: Strategy
    routable: bool
    reason: str | None = Field(default=None, description="Why no node can ship it, when none.")
    chosen: RoutingOption | None
    runners_up: list[RoutingOption] = Field(description="The next two options, best first.")
    excluded: list[Exclusion] = Field(description="Nodes held back and why (first 20).")
    candidates: int = Field(description="Nodes that could ship at least one line.")


class ShipNodesInput(BaseModel):
    """Which nodes may ship online orders to a city (stores first), with today's load."""

    city: str = Field(min_length=1, max_length=64, description="City, English or 中文.")
    channel: str = Field(default="online", pattern=_CHANNEL)
    kind: Literal["store", "any"] = Field(default="store", description="store: stores only.")


class ShipNode(BaseModel):
    node: str
    name_en: str
    name_zh: str
    kind: NodeKind
    city: str
    tier: str
    atp_units: int = Field(description="Units the channel may sell there now (ATP, entitled).")
    orders_today: int
    capacity_per_day: int | None = Field(description="Pick/pack capacity (stores only).")
    lead_time_hours: float | None = Field(description="Handling + lane to the city.")
    parcel_cost: float | None = Field(description="Pick/pack + freight of a one-unit parcel.")


class ShipNodesOutput(BaseModel):
    city: str
    channel: str
    ship_from_store: bool = Field(description="Whether the routing policy lets stores ship.")
    nodes: list[ShipNode]
    note: str


class ExplainOrderInput(BaseModel):
    """Why was an online order routed where it was? By our order id, the channel's id or OMS ref."""

    order: str = Field(min_length=1, max_length=128, description="e.g. ord-…, TM-1001, OMS-…")
    node: str | None = Field(
        default=None, max_length=64, description="Ask about one node (e.g. SHA-S03)."
    )


class ExplainOrderOutput(BaseModel):
    order_id: str
    channel: str
    channel_order_id: str
    oms_ref: str | None
    status: str
    destination_city: str
    shipped_from: list[str]
    asked_node_used: bool | None = Field(description="Whether the asked node ships part of it.")
    chosen: RoutingOption | None
    runners_up: list[RoutingOption]
    excluded: list[Exclusion]
    summary: str = Field(description="One paragraph, English, for a human.")
