"""I/O of stock_lookup; the JSON schema of StockLookupInput is what an LLM sees."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StockLookupInput(BaseModel):
    """Find stock positions. Every filter is optional and they combine with AND."""

    sku: str | None = Field(default=None, description="SKU code, e.g. RB001-BLK-38.")
    style: str | None = Field(default=None, description="Style code, e.g. RB001.")
    size: str | None = Field(default=None, description="Size label, e.g. 38 or M.")
    location: str | None = Field(
        default=None, description="Location code, e.g. SHA-S01 (store), DC-SHA, ONLINE."
    )
    city: str | None = Field(default=None, description="City: Beijing, Shanghai, Guangzhou, ...")
    region: str | None = Field(default=None, description="Region: North, East, South, ...")
    category: str | None = Field(default=None, description="Category, e.g. rain_boots.")
    location_kind: str | None = Field(default=None, description="store | dc | online")
    include_zero: bool = Field(default=False, description="Include positions with no stock.")
    cover_window_days: int = Field(
        default=28, ge=7, le=91, description="Days of sales history behind days-of-cover."
    )
    limit: int = Field(default=500, ge=1, le=10_000)


class StockPositionView(BaseModel):
    location: str
    location_name: str
    location_kind: str
    city: str
    region: str
    sku: str
    style: str
    category: str
    size: str
    on_hand: int
    reserved: int
    safety: int
    atp: int
    in_transit_in: int
    in_transit_out: int
    avg_daily_sales: float = Field(description="Mean daily units over the cover window.")
    days_of_cover: float | None = Field(description="ATP ÷ avg daily sales; None if no sales.")


class StockTotals(BaseModel):
    positions: int
    on_hand: int
    reserved: int
    atp: int
    in_transit_in: int
    in_transit_out: int


class LocationSubtotal(BaseModel):
    location: str
    location_name: str
    city: str
    positions: int
    on_hand: int
    atp: int
    in_transit_in: int


class StockLookupOutput(BaseModel):
    as_of: str = Field(description="The world's clock when the lookup ran (ISO).")
    positions: list[StockPositionView]
    totals: StockTotals
    truncated: bool = Field(default=False, description="More positions matched than `limit`.")
    by_location: list[LocationSubtotal] = Field(
        default_factory=list,
        description="Subtotals per location over every match (when more than one location), "
        "so a reader of a long or truncated list still sees where the stock is.",
    )
