"""A channel's hold on stock (DESIGN §2): created, confirmed (deducted) or released by its TTL.

The units themselves are held on the stock position (``reserved``) by ``inventory.movements``;
this row records whose hold it is, under which idempotency key, and until when.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ReservationStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # the units left on-hand (the order was taken)
    RELEASED = "released"  # given back by the channel (or ops)
    EXPIRED = "expired"  # given back because the TTL passed unconfirmed


class ChannelReservation(SQLModel, table=True):
    __tablename__ = "channel_reservation"
    #: "Is any open hold past its TTL?" in one index probe; also serves status filters alone
    #: (migration 0009, which drops the status-only index: one index fewer to write per hold).
    __table_args__ = (Index("ix_channel_reservation_due", "status", "expires_at"),)

    id: str = Field(primary_key=True, max_length=40)
    channel: str = Field(index=True, max_length=32)
    sku_code: str = Field(foreign_key="sku.code", index=True)
    location_code: str = Field(foreign_key="location.code", index=True)
    qty: int
    status: str = Field(max_length=16)  # indexed with expires_at (ix_channel_reservation_due)
    idempotency_key: str = Field(unique=True, max_length=160)
    requested_location: str | None = Field(
        default=None, max_length=64, description="As asked; None when the service picked it."
    )
    ttl_s: int
    created_by: str
    created_at: datetime
    expires_at: datetime = Field(index=True)
    updated_at: datetime
