"""What we send to the enterprise systems and what they answer, validated on both sides."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SystemName = Literal["wms", "oms", "pricing", "notify"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WmsLine(_Message):
    sku: str = Field(min_length=1)
    qty: int = Field(gt=0)


class WmsTransferOrder(_Message):
    """A store-to-store (or DC-to-store) transfer the WMS should pick, pack and ship."""

    order_id: str = Field(min_length=1, description="Our transfer order id.")
    source: str = Field(min_length=1)
    dest: str = Field(min_length=1)
    lines: list[WmsLine] = Field(min_length=1)
    reason: str = ""
    requested_by: str = "stockpilot"


class OmsReservation(_Message):
    """Stock held for a channel in the OMS so it is not promised twice."""

    reservation_id: str = Field(min_length=1)
    location: str = Field(min_length=1)
    lines: list[WmsLine] = Field(min_length=1)
    channel: Literal["store", "online"] = "online"
    reason: str = ""


class OmsOnlineOrder(_Message):
    """A customer's online order as the OMS takes it from a channel (before it is routed)."""

    order_id: str = Field(min_length=1, description="The channel's order id.")
    channel: str = Field(min_length=1)
    lines: list[WmsLine] = Field(min_length=1)
    destination_city: str = Field(min_length=1)
    promise_hours: float = Field(gt=0)
    placed_at: datetime


class OmsShipment(_Message):
    """One parcel of a routed online order: the node that picks, packs and ships which lines.

    Sent once per parcel through the outbox (its idempotency key is the parcel's), so the
    OMS/WMS hears of every routed shipment exactly once as far as it can tell.
    """

    shipment_ref: str = Field(min_length=1, description="Our parcel reference (order/node).")
    order_id: str = Field(min_length=1, description="Our order id (ord-…).")
    channel: str = Field(min_length=1)
    channel_order_id: str = Field(min_length=1)
    oms_ref: str | None = Field(default=None, description="The OMS's reference of the order.")
    node: str = Field(min_length=1, description="The fulfilling location (DC, pool or store).")
    node_kind: str = Field(min_length=1)
    destination_city: str = Field(min_length=1)
    lines: list[WmsLine] = Field(min_length=1)
    promised_by: datetime


class OmsShipmentCancel(_Message):
    """Withdraw a parcel the OMS already accepted (its idempotency key is the parcel's).

    The OMS confirms (the node will not ship it) or refuses with 409 when it already shipped.
    """

    shipment_ref: str = Field(min_length=1, description="Our parcel reference (order/node).")
    order_id: str = Field(min_length=1, description="Our order id (ord-…).")
    node: str = Field(min_length=1)
    reason: str = Field(default="", max_length=500)


class PriceChange(_Message):
    """A markdown to apply in the pricing system."""

    proposal_id: str = Field(min_length=1)
    style: str = Field(min_length=1)
    location: str | None = None
    depth: float = Field(gt=0, lt=1, description="Markdown as a fraction of full price.")
    new_price: float = Field(gt=0)
    reason: str = ""


class Notification(_Message):
    channel: Literal["email", "chat", "sms"] = "chat"
    recipient: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    body: str = ""


class Ack(BaseModel):
    """A system's answer to a side-effecting call: its own reference for what it created."""

    system: SystemName
    reference: str
    duplicate: bool = Field(
        default=False, description="The idempotency key was seen before; nothing new was created."
    )


class ReceivedRecord(BaseModel):
    """One thing a simulated system holds, as tests and evals list it."""

    system: SystemName
    reference: str
    idempotency_key: str
    payload: dict
    received_at: datetime


class WmsTransferOrderRecord(BaseModel):
    reference: str
    idempotency_key: str
    order: WmsTransferOrder
    received_at: datetime
