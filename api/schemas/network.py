"""Views of the network, catalogue and daily history: what a map or a chart needs to draw."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class LocationHealth(BaseModel):
    """A location where it is, and how its stock of one category stands."""

    code: str
    kind: str = Field(description="dc | store | online")
    name_en: str
    name_zh: str
    city: str
    region: str
    tier: str
    lat: float
    lon: float
    on_hand: int | None = Field(description="Units of the category on hand (None: no category).")
    atp: int | None = Field(description="Available to promise: on hand − reserved − safety.")
    in_transit_in: int | None
    avg_daily_sales: float | None = Field(description="Mean daily units over the cover window.")
    cover_days: float | None = Field(description="ATP ÷ average daily sales; None if no sales.")


class CityView(BaseModel):
    code: str
    name_en: str
    name_zh: str
    region: str
    lat: float
    lon: float


class NetworkView(BaseModel):
    """Cities and locations (DCs and stores; the online pool has no place on a map) with stock
    health for ``category``; without a category only where they are (health fields None)."""

    as_of: str
    category: str | None
    cover_window_days: int
    cities: list[CityView]
    locations: list[LocationHealth]


class CategoryView(BaseModel):
    code: str
    name_en: str
    name_zh: str
    rain_sensitive: bool


class StyleView(BaseModel):
    code: str
    name_en: str
    name_zh: str
    category: str
    price: float
    cost: float
    size_run: list[str] = Field(description="The style's sizes, in order (a size grid's columns).")
    rain_sensitive: bool


class SkuView(BaseModel):
    code: str
    style: str
    colour: str
    size: str
    size_index: int


class CatalogView(BaseModel):
    categories: list[CategoryView]
    styles: list[StyleView]
    skus: list[SkuView] = Field(description="Only the SKUs asked for with ?sku=.")


class HistoryDay(BaseModel):
    date: dt.date
    units: int = Field(description="Units sold (censored on stock-out days).")
    stockout_locations: int = Field(description="Series of the day that sold out.")
    precipitation_mm: float | None = Field(description="The city's rain of the day (None: no row).")
    rain_band: str | None = Field(
        description="CMA band: none | light | moderate | heavy | rainstorm"
    )


class SalesHistoryView(BaseModel):
    """Daily units sold up to the clock (summed over the matching SKUs and locations) beside
    the city's daily rain: the past half of a forecast chart."""

    as_of: str
    city: str | None
    category: str | None
    style: str | None
    location: str | None
    days: list[HistoryDay]
