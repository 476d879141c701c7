"""Online orders and their routing decision (DESIGN §2): which node ships which line, and why.

One row per order a channel posted (unique per channel and the channel's own order id, so a
retried post is answered from here), and one row per routed line with the node that ships it,
the reservation that holds its units and the shipment reference the OMS knows (outcome events
from the OMS/WMS are keyed on it).
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel, UniqueConstraint


class OnlineOrderStatus(StrEnum):
    ROUTED = "routed"  # every line has a node and an open reservation there
    CANCELLED = "cancelled"  # the channel (or ops) cancelled it; open holds were released
    #: Cancel asked for while the OMS holds some of its parcels: those parcels' holds stay until
    #: the OMS confirms the withdrawal (→ cancelled) or refuses because it shipped (→ routed).
    CANCELLING = "cancelling"


class OnlineOrder(SQLModel, table=True):
    __tablename__ = "online_order"
    __table_args__ = (UniqueConstraint("channel", "channel_order_id"),)

    id: str = Field(primary_key=True, max_length=40)
    channel: str = Field(index=True, max_length=32)
    channel_order_id: str = Field(max_length=128, description="The channel's own order id.")
    oms_ref: str | None = Field(
        default=None, index=True, max_length=64, description="The OMS's reference, when given."
    )
    destination_city: str = Field(index=True, max_length=64)
    destination_region: str = Field(max_length=32)
    address: str = Field(default="", max_length=200)
    promised_by: datetime
    status: str = Field(index=True, max_length=16)
    request_hash: str = Field(max_length=64, description="What was asked, to spot key reuse.")
    routing_day: date = Field(index=True, description="The local day that capacity counts on.")
    shipments: int
    units: int
    delivery_cost: float = Field(description="Parcels' cost (lanes + pick/pack), CNY.")
    eta: datetime = Field(description="The last parcel's expected delivery.")
    decision: dict = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="The chosen plan and two runners-up with their score parts, exclusions.",
    )
    created_by: str
    created_at: datetime
    updated_at: datetime


class OnlineOrderLine(SQLModel, table=True):
    """One (SKU, node) part of an order: a line may be split over nodes when none has it all."""

    __tablename__ = "online_order_line"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="online_order.id", index=True)
    line_no: int = Field(description="The order line it fulfils (1-based).")
    sku_code: str = Field(foreign_key="sku.code")
    qty: int
    node_code: str = Field(foreign_key="location.code", index=True)
    shipment_ref: str = Field(
        index=True, max_length=120, description="The parcel's reference at the OMS (order/node)."
    )
    reservation_id: str = Field(foreign_key="channel_reservation.id")
    lead_time_hours: float


class OnlineNodeLoad(SQLModel, table=True):
    """Orders a node ships (part of) on one local day: the counter store capacity and the daily
    share cap are checked against.

    ``inventory.online_orders`` raises it with a guarded UPDATE in the placing transaction
    (``orders < allowed``), so the row lock makes the check and the increment one step: two
    concurrent orders can never both take a store's last slot (counting committed orders could,
    on PostgreSQL). A cancelled order gives its slots back.
    """

    __tablename__ = "online_node_load"

    day: date = Field(primary_key=True)
    node_code: str = Field(primary_key=True, max_length=64)
    orders: int = Field(default=0, ge=0)
