"""Request and response models of the channel inventory service (availability, reservations)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.auth import CHANNEL_CODE
from inventory.models import ChannelReservation
from inventory.reservations import MAX_BATCH

#: The most SKUs one availability request may ask about (one page of a channel's catalogue).
MAX_SKUS = 500
_CHANNEL = f"^{CHANNEL_CODE.pattern}$"
#: Codes and keys are stored as text: PostgreSQL refuses a NUL character there (a 500 otherwise).
_TEXT = r"^[^\x00]*$"


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


class _HoldFields(BaseModel):
    """What a hold names, the same for a single call and a batch line (one set of bounds)."""

    sku: str = Field(min_length=1, max_length=64, pattern=_TEXT, examples=["RB001-BLK-38"])
    qty: int = Field(ge=1, le=10_000)
    idempotency_key: str = Field(
        min_length=1,
        max_length=128,
        pattern=_TEXT,
        description="The channel's own key: same key, same answer.",
    )
    location: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=_TEXT,
        description="Where to hold; omitted: the entitled location with the most ATP.",
    )


_TTL_BOUNDS = {"ge": 10, "le": 7 * 24 * 3600}


class ReservationCreate(_HoldFields):
    ttl_s: int = Field(
        default=900, **_TTL_BOUNDS, description="Seconds until an unconfirmed hold lapses."
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


class ReservationLineCreate(_HoldFields):
    """One line of a batch: the single call's fields; ``ttl_s`` defaults to the batch's."""

    ttl_s: int | None = Field(
        default=None, **_TTL_BOUNDS, description="Omitted: the batch's ``ttl_s``."
    )


class ReservationBatchCreate(BaseModel):
    """Up to 500 lines held for one channel in one request, each on its own (partial success)."""

    lines: list[ReservationLineCreate] = Field(min_length=1, max_length=MAX_BATCH)
    ttl_s: int = Field(
        default=900,
        **_TTL_BOUNDS,
        description="Seconds until an unconfirmed hold lapses (for lines that do not say).",
    )
    channel: str | None = Field(
        default=None,
        pattern=_CHANNEL,
        description="Only for ops/admin acting for a channel; a channel key holds for itself.",
    )

    @model_validator(mode="after")
    def _keys_once(self) -> ReservationBatchCreate:
        seen: set[str] = set()
        for line in self.lines:
            if line.idempotency_key in seen:
                raise ValueError(
                    f"idempotency key {line.idempotency_key!r} appears twice in the batch; "
                    "each line needs its own key"
                )
            seen.add(line.idempotency_key)
        return self


class LineError(BaseModel):
    code: Literal["refused", "conflict", "not_found"] = Field(
        description="refused: not enough stock or location not entitled; conflict: the key was "
        "used for another body; not_found: unknown SKU."
    )
    message: str
    field: str | None = None


class ReservationLineResult(BaseModel):
    index: int = Field(description="The line's position in the request (from 0).")
    idempotency_key: str
    outcome: Literal["reserved", "replayed", "refused"]
    status: int = Field(
        description="What the single call would have answered: 201, 200 (replay), 404 or 409."
    )
    reservation: ReservationView | None = None
    error: LineError | None = None


class ReservationBatchView(BaseModel):
    channel: str
    reserved: int = Field(ge=0, description="Lines newly held.")
    replayed: int = Field(ge=0, description="Lines whose key already held the same request.")
    refused: int = Field(ge=0, description="Lines refused (see each line's error).")
    lines: list[ReservationLineResult]
