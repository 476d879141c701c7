"""Request and response models of the channel inventory service (availability, reservations)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from api.auth import CHANNEL_CODE
from inventory.models import ChannelReservation

#: The most SKUs one availability request may ask about (one page of a channel's catalogue).
MAX_SKUS = 500
_CHANNEL = f"^{CHANNEL_CODE.pattern}$"


class AvailabilityRequest(BaseModel):
    """A batch lookup; a channel key may omit ``channel`` (its own is used)."""

    skus: list[str] = Field(min_length=1, max_length=MAX_SKUS)
    channel: str | None = Field(default=None, pattern=_CHANNEL)


class AvailabilityQuery(BaseModel):
    """The GET form: ``?sku=A&sku=B&channel=tmall``."""

    sku: list[str] = Field(min_length=1, max_length=MAX_SKUS)
    channel: str | None = Field(default=None, pattern=_CHANNEL)


class LocationAvailability(BaseModel):
    location: str
    atp: int = Field(ge=1)


class SkuAvailabilityView(BaseModel):
    sku: str
    known: bool = Field(description="False when the pool has no such SKU (sellable is then 0).")
    sellable: int = Field(ge=0, description="ATP summed over the locations entitled to sell.")
    locations: list[LocationAvailability] = Field(
        description="Entitled locations with ATP, most ATP first."
    )


class AvailabilityResponse(BaseModel):
    channel: str
    as_of: dt.datetime
    items: list[SkuAvailabilityView]


class ReservationCreate(BaseModel):
    sku: str = Field(min_length=1, max_length=64, examples=["RB001-BLK-38"])
    qty: int = Field(ge=1, le=10_000)
    idempotency_key: str = Field(
        min_length=1, max_length=128, description="The channel's own key: same key, same answer."
    )
    ttl_s: int = Field(
        default=900,
        ge=10,
        le=7 * 24 * 3600,
        description="Seconds until an unconfirmed hold lapses.",
    )
    location: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Where to hold; omitted: the entitled location with the most ATP.",
    )
    channel: str | None = Field(
        default=None,
        pattern=_CHANNEL,
        description="Only for ops/admin acting for a channel; a channel key holds for itself.",
    )


class ReservationView(BaseModel):
    id: str
    channel: str
    sku: str
    location: str
    qty: int
    status: Literal["open", "confirmed", "released", "expired"]
    ttl_s: int
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: ChannelReservation) -> ReservationView:
        return cls(
            id=row.id,
            channel=row.channel,
            sku=row.sku_code,
            location=row.location_code,
            qty=row.qty,
            status=row.status,  # type: ignore[arg-type]
            ttl_s=row.ttl_s,
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            updated_at=row.updated_at,
        )
