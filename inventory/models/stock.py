"""Stock positions and the append-only movements that change them (inventory.movements only)."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel, UniqueConstraint


class StockPosition(SQLModel, table=True):
    __tablename__ = "stock_position"
    __table_args__ = (
        UniqueConstraint("location_code", "sku_code"),
        # Covers a channel's availability read (migration 0009): no table visit per position.
        Index(
            "ix_stock_position_availability",
            "sku_code",
            "location_code",
            "on_hand",
            "reserved",
            "safety",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_code: str = Field(foreign_key="location.code", index=True)
    sku_code: str = Field(foreign_key="sku.code", index=True)
    on_hand: int = 0
    reserved: int = 0
    in_transit_in: int = 0
    in_transit_out: int = 0
    safety: int = 0
    min_display: int = 0
    last_received_at: datetime | None = None
    version: int = Field(default=0, description="Optimistic-lock counter.")

    @property
    def atp(self) -> int:
        """Available to promise: on-hand less reserved and safety, never negative."""
        return max(0, self.on_hand - self.reserved - self.safety)


class StockMovement(SQLModel, table=True):
    __tablename__ = "stock_movement"

    id: int | None = Field(default=None, primary_key=True)
    location_code: str = Field(foreign_key="location.code", index=True)
    sku_code: str = Field(foreign_key="sku.code", index=True)
    kind: str = Field(description="reserve | release | dispatch | receive | adjust | sale")
    qty: int
    on_hand_after: int
    reserved_after: int
    reason: str = ""
    ref: str | None = Field(default=None, index=True, description="Order or reservation id.")
    idempotency_key: str | None = Field(default=None, unique=True)
    actor: str = "system"
    created_at: datetime = Field(index=True)
