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

from inventory.clock import as_utc
from inventory.models import Channel, LocationKind, Tier
from inventory.vocabulary import UnknownTerm, Vocabulary

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_.\-]*$"
#: Category codes are lower-case words joined by underscores (rain_boots).
CATEGORY_PATTERN = r"^[a-z][a-z0-9_]*$"
#: Quantities and counts stay below a billion: a larger one is a typo or a unit mix-up.
MAX_QTY = 10**9 - 1
#: Prices and costs in CNY.
MAX_MONEY = 10**7


def vocabulary(info: ValidationInfo) -> Vocabulary:
    """The pool's vocabulary, which the importer passes as the validation context."""
    context = info.context or {}
    found = context.get("vocabulary")
    if not isinstance(found, Vocabulary):
        raise RuntimeError("rows that name cities or categories need the pool's vocabulary")
    return found


def _term(resolve: object, value: str) -> str:
    try:
        return resolve(value)  # type: ignore[operator]
    except UnknownTerm as error:
        raise ValueError(str(error)) from None


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocationRow(_Row):
    """locations.csv — one row per DC, store or online pool.

    Columns: ``code``, ``kind`` (dc | store | online), ``name_en``, ``name_zh``, ``city``
    (English or Chinese name of a city in the pool: import cities first), ``region``
    (optional; derived from the city, and must agree with it when given), ``lat``, ``lon``,
    ``tier`` (A | B | outlet, default A), ``ship_from_store`` (default false), ``serving_dc``
    (optional code of a DC in the file or already in the pool).
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
    def _known_city(cls, value: str, info: ValidationInfo) -> str:
        return _term(vocabulary(info).resolve_city, value)

    @field_validator("region")
    @classmethod
    def _region_matches_city(cls, value: str | None, info: ValidationInfo) -> str | None:
        city = info.data.get("city")
        if value is None or city is None:  # no region given, or the city error says it all
            return value
        terms = vocabulary(info)
        expected = terms.cities[city].region
        region = terms.regions.get(expected)
        names = {expected.lower()} | ({region.name_en.lower(), region.name_zh} if region else set())
        if value.lower() not in names and value not in names:
            raise ValueError(f"does not match city {city} (region {expected})")
        return expected

    @model_validator(mode="after")
    def _region_from_city(self, info: ValidationInfo) -> LocationRow:
        self.region = vocabulary(info).cities[self.city].region
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
    price: float = Field(gt=0, le=MAX_MONEY)
    cost: float = Field(ge=0, le=MAX_MONEY)
    core_size: bool = False
    rain_sensitive: bool | None = None

    _codes = field_validator("sku", "style", mode="before")(_upper)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        return _term(vocabulary(info).resolve_category, value)

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
    on_hand: int = Field(ge=0, le=MAX_QTY)
    safety: int | None = Field(default=None, ge=0, le=MAX_QTY)
    min_display: int | None = Field(default=None, ge=0, le=MAX_QTY)

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
    units: int = Field(ge=0, le=MAX_QTY)
    price: float = Field(ge=0, le=MAX_MONEY)
    promo: bool = False
    stockout: bool = False

    _codes = field_validator("location", "sku", mode="before")(_upper)


class PromoPlanRow(_Row):
    """promo_plans.csv — the retailer's planned promotions (a re-import of the same style,
    location and start replaces the plan).

    Columns: ``style`` (a style code), ``location`` (optional: empty = every location),
    ``start`` and ``end`` (ISO dates, the first and last promo day), ``depth`` (the discount as
    a fraction of the regular price, 0 < depth < 1), ``planned_at`` (ISO date or date-time, UTC
    when no zone is given: when the plan was made; a forecast uses only plans made before its
    clock).
    """

    style: str = Field(max_length=48)
    location: str | None = Field(default=None, max_length=32)
    start: dt.date
    end: dt.date
    depth: float = Field(gt=0, lt=1)
    planned_at: dt.datetime

    _codes = field_validator("style", "location", mode="before")(_upper)

    @field_validator("planned_at", mode="after")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> PromoPlanRow:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class CityRow(_Row):
    """cities.csv — one row per city with stores, DCs or weather.

    Columns: ``code`` (what locations and weather rows name, e.g. Chengdu), ``name_en``,
    ``name_zh``, ``region`` (a region code, e.g. Southwest), ``region_name_zh`` (optional; creates
    the region when the pool does not know it yet, e.g. 西南), ``lat``, ``lon``, ``weather_key``
    (optional: the city's key in the weather source, default the code).
    """

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9 _.'\-]*$")
    name_en: str = Field(min_length=1, max_length=100)
    name_zh: str = Field(min_length=1, max_length=100)
    region: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z0-9 _\-]*$")
    region_name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    weather_key: str | None = Field(default=None, max_length=64)


class CategoryRow(_Row):
    """categories.csv — the retailer's merchandise categories and which of them sell on rain.

    Columns: ``code`` (lower-case, e.g. rain_boots), ``name_en``, ``name_zh``, ``synonyms``
    (optional: other words for it, separated by ``|``, e.g. ``rain boot|雨鞋``),
    ``rain_sensitive`` (true when demand rises on wet days; default false).
    """

    code: str = Field(min_length=2, max_length=48, pattern=CATEGORY_PATTERN)
    name_en: str = Field(min_length=1, max_length=100)
    name_zh: str = Field(min_length=1, max_length=100)
    synonyms: list[str] = Field(default_factory=list, max_length=50)
    rain_sensitive: bool = False

    @field_validator("code", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower().replace(" ", "_") if isinstance(value, str) else value

    @field_validator("synonyms", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [word.strip() for word in value.split("|") if word.strip()]
        return value


class LaneRow(_Row):
    """lanes.csv — the movements the planner may use, with their lead time and cost.

    Columns: ``source``, ``dest`` (known location codes), ``lead_time_hours`` (> 0, ≤ 720),
    ``cost_per_unit`` and ``cost_per_shipment`` (CNY, ≥ 0), ``distance_km`` (optional; the
    great-circle distance between the two locations when empty). A known (source, dest) lane is
    updated in place.
    """

    source: str = Field(max_length=32)
    dest: str = Field(max_length=32)
    lead_time_hours: float = Field(gt=0, le=720)
    cost_per_unit: float = Field(ge=0, le=MAX_MONEY)
    cost_per_shipment: float = Field(ge=0, le=MAX_MONEY)
    distance_km: float | None = Field(default=None, ge=0, le=20_000)

    _codes = field_validator("source", "dest", mode="before")(_upper)

    @model_validator(mode="after")
    def _two_places(self) -> LaneRow:
        if self.source == self.dest:
            raise ValueError("a lane joins two different locations")
        return self


class EntitlementRow(_Row):
    """entitlements.csv — which location's stock may sell on which channel.

    Columns: ``location`` (known code), ``channel`` (store | online), ``allowed`` (true/false).
    A location without a row may sell on every channel; outlets typically get ``online,false``.
    """

    location: str = Field(max_length=32)
    channel: Channel
    allowed: bool

    _codes = field_validator("location", mode="before")(_upper)

    @field_validator("channel", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class WeatherRow(_Row):
    """weather.csv — observed daily weather per city (the forecaster learns rain uplift from it).

    Columns: ``city`` (a city of the pool, English or Chinese), ``date`` (ISO),
    ``precipitation_mm`` (the day's total, 0–2000), ``max_hourly_mm`` (optional),
    ``temp_mean_c``, ``temp_min_c``, ``temp_max_c`` (optional, −60…60 °C). A re-imported
    (city, date) replaces the stored day; the CMA rain band is derived from the total.
    """

    city: str
    date: dt.date
    precipitation_mm: float = Field(ge=0, le=2000)
    max_hourly_mm: float | None = Field(default=None, ge=0, le=500)
    temp_mean_c: float | None = Field(default=None, ge=-60, le=60)
    temp_min_c: float | None = Field(default=None, ge=-60, le=60)
    temp_max_c: float | None = Field(default=None, ge=-60, le=60)

    @field_validator("city")
    @classmethod
    def _known_city(cls, value: str, info: ValidationInfo) -> str:
        return _term(vocabulary(info).resolve_city, value)
