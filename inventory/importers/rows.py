"""The columns of each import file, as pydantic rows (docs/importers.md shows examples).

Booleans accept true/false, yes/no, 1/0. Dates are ISO (2015-06-30). Codes are upper-cased.
Empty cells mean "not given": the default applies, or the column is reported missing.
"""

from __future__ import annotations

import datetime as dt

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inventory.models import LocationKind, Tier
from inventory.vocabulary import CATEGORY_ZH, CITY_REGION, REGION_ZH, resolve_city

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_.\-]*$"
#: Units one position can hold: far above any real count, well inside the pool's integer columns
#: (a larger number would be accepted and then overflow every lookup of that position).
MAX_UNITS = 100_000_000
#: Prices and costs in CNY per unit.
MAX_PRICE = 10_000_000.0


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocationRow(_Row):
    """locations.csv — one row per DC, store or online pool.

    Columns: ``code``, ``kind`` (dc | store | online), ``name_en``, ``name_zh``, ``city``
    (English or Chinese name of one of the five cities), ``region`` (optional; derived from the
    city, and must agree with it when given), ``lat``, ``lon``, ``tier`` (A | B | outlet,
    default A), ``ship_from_store`` (default false), ``serving_dc`` (optional code of a DC in
    the file or already in the pool).
    """

    code: str = Field(max_length=32, pattern=CODE_PATTERN)
    kind: LocationKind
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    city: str
    region: str | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    tier: Tier = Tier.A
    ship_from_store: bool = False
    serving_dc: str | None = Field(default=None, max_length=32)

    _codes = field_validator("code", "serving_dc", mode="before")(_upper)

    @field_validator("kind", "tier", mode="before")
    @classmethod
    def _enum_case(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"a", "b"}:
            return value.strip().upper()
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("city")
    @classmethod
    def _known_city(cls, value: str) -> str:
        return resolve_city(value)

    @field_validator("region")
    @classmethod
    def _region_matches_city(cls, value: str | None, info: ValidationInfo) -> str | None:
        city = info.data.get("city")
        if value is None or city is None:  # no region given, or the city error says it all
            return value
        expected = CITY_REGION[city]
        if value.lower() != expected.lower() and value != REGION_ZH[expected]:
            raise ValueError(f"does not match city {city} (region {expected})")
        return expected

    @model_validator(mode="after")
    def _region_from_city(self) -> LocationRow:
        self.region = CITY_REGION[self.city]
        return self


class SkuRow(_Row):
    """skus.csv — one row per SKU; the style's columns repeat on each of its SKUs and must agree.

    Columns: ``sku``, ``style``, ``colour``, ``size``, ``category`` (e.g. rain_boots, or its
    Chinese name), ``style_name_en``, ``style_name_zh``, ``season`` (e.g. SS15, core),
    ``season_end`` (optional ISO date), ``price`` (CNY, > 0), ``cost`` (CNY, ≤ price),
    ``core_size`` (optional, default false: the size belongs to the run a store must keep
    unbroken), ``rain_sensitive`` (optional; default: the category is a rain category).
    A style's size run is the order its sizes first appear in the file (after the sizes the
    pool already knows for that style).
    """

    sku: str = Field(max_length=48, pattern=CODE_PATTERN)
    style: str = Field(max_length=32, pattern=CODE_PATTERN)
    colour: str = Field(min_length=1)
    size: str = Field(min_length=1, max_length=16)
    category: str
    style_name_en: str = Field(min_length=1)
    style_name_zh: str = Field(min_length=1)
    season: str = Field(min_length=1)
    season_end: dt.date | None = None
    price: float = Field(gt=0, le=MAX_PRICE)
    cost: float = Field(ge=0, le=MAX_PRICE)
    core_size: bool = False
    rain_sensitive: bool | None = None

    _codes = field_validator("sku", "style", mode="before")(_upper)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        for category, zh in CATEGORY_ZH.items():
            if value.lower() == category or value == zh:
                return category
        raise ValueError(f"unknown category; known: {', '.join(sorted(CATEGORY_ZH))}")

    @field_validator("cost")
    @classmethod
    def _cost_within_price(cls, value: float, info: ValidationInfo) -> float:
        price = info.data.get("price")
        if price is not None and value > price:
            raise ValueError(f"cost {value} exceeds price {price}")
        return value


class StockRow(_Row):
    """stock.csv — counted stock per position.

    Columns: ``location``, ``sku``, ``on_hand`` (the counted units, ≥ 0), ``safety`` and
    ``min_display`` (optional, ≥ 0; left as they are when empty). The difference from the pool's
    on-hand is booked as an ``adjust`` movement; a count below what is reserved is refused.
    """

    location: str = Field(max_length=32)
    sku: str = Field(max_length=48)
    on_hand: int = Field(ge=0, le=MAX_UNITS)
    safety: int | None = Field(default=None, ge=0, le=MAX_UNITS)
    min_display: int | None = Field(default=None, ge=0, le=MAX_UNITS)

    _codes = field_validator("location", "sku", mode="before")(_upper)


class SalesRow(_Row):
    """sales.csv — daily sales history per position (a re-import of a day replaces it).

    Columns: ``location``, ``sku``, ``date`` (ISO), ``units`` (≥ 0), ``price`` (the unit price
    paid, ≥ 0), ``promo`` and ``stockout`` (optional, default false: the day's sales were
    capped by running out of stock).
    """

    location: str = Field(max_length=32)
    sku: str = Field(max_length=48)
    date: dt.date
    units: int = Field(ge=0, le=MAX_UNITS)
    price: float = Field(ge=0, le=MAX_PRICE)
    promo: bool = False
    stockout: bool = False

    _codes = field_validator("location", "sku", mode="before")(_upper)
