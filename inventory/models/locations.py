"""Where stock sits: DCs, stores and the online pool, the lanes between them, and entitlements."""

from sqlmodel import Field, SQLModel, UniqueConstraint


class Location(SQLModel, table=True):
    __tablename__ = "location"

    code: str = Field(primary_key=True, max_length=32)
    kind: str = Field(index=True, description="dc | store | online")
    name_en: str
    name_zh: str
    city: str = Field(index=True)
    region: str = Field(index=True)
    lat: float
    lon: float
    tier: str = Field(default="A", description="A | B | outlet")
    ship_from_store: bool = Field(default=False, description="May fulfil online orders.")
    serving_dc: str | None = Field(default=None, foreign_key="location.code")


class Lane(SQLModel, table=True):
    """A permitted movement between two locations with its lead time and cost."""

    __tablename__ = "lane"
    __table_args__ = (UniqueConstraint("source_code", "dest_code"),)

    id: int | None = Field(default=None, primary_key=True)
    source_code: str = Field(foreign_key="location.code", index=True)
    dest_code: str = Field(foreign_key="location.code", index=True)
    distance_km: float
    lead_time_hours: float
    cost_per_unit: float = Field(description="Handling + freight per unit, in CNY.")
    cost_per_shipment: float = Field(description="Fixed cost of one shipment, in CNY.")


class ChannelEntitlement(SQLModel, table=True):
    """Which location's stock may be sold on which channel (outlet stock never online, ...)."""

    __tablename__ = "channel_entitlement"
    __table_args__ = (UniqueConstraint("location_code", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    location_code: str = Field(foreign_key="location.code", index=True)
    channel: str = Field(description="store | online")
    allowed: bool = True
