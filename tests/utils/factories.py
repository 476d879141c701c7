"""Small builders of pool rows for tests: sensible defaults, every field overridable.

Positions are inserted directly (not through ``inventory.movements``) so a test can start from
any state, in-transit included, without movement rows it did not ask for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from inventory.demo_world.vocabulary import DEMO_VOCABULARY, demo_terms
from inventory.models import (
    Category,
    City,
    DailySales,
    Location,
    Region,
    Sku,
    StockPosition,
    Style,
    WorldMeta,
)

_REGIONS, _CITIES, _CATEGORIES = demo_terms()


def ensure_terms(session: Session, *, city: str | None = None, category: str | None = None) -> None:
    """Write the demo vocabulary's row for ``city`` (and its region) or ``category`` if the pool
    lacks it, as the demo world would: tools check names against the pool's rows."""
    if city is not None and session.get(City, city) is None:
        term = next((c for c in _CITIES if c.code == city), None)
        if term is not None:
            if session.get(Region, term.region) is None:
                region = next(r for r in _REGIONS if r.code == term.region)
                session.add(Region.model_validate(region.model_dump()))
                session.flush()  # the city row refers to it
            session.add(City.model_validate(term.model_dump()))
    if category is not None and session.get(Category, category) is None:
        term = next((c for c in _CATEGORIES if c.code == category), None)
        if term is not None:
            session.add(Category.model_validate(term.model_dump()))
    session.flush()


DEFAULT_SIZES = ["36", "37", "38", "39", "40"]


def add_location(
    session: Session, code: str, *, kind: str = "store", city: str = "Shanghai", **overrides: Any
) -> Location:
    values: dict[str, Any] = {
        "code": code,
        "kind": kind,
        "name_en": f"{city} {code}",
        "name_zh": f"{DEMO_VOCABULARY.city_zh(city)}{code}",
        "city": city,
        "region": DEMO_VOCABULARY.city_region.get(city, "East"),
        "lat": 31.2,
        "lon": 121.5,
        "tier": "A",
        "ship_from_store": False,
    }
    values.update(overrides)
    ensure_terms(session, city=values["city"])
    location = Location(**values)
    session.add(location)
    session.flush()
    return location


def add_style(
    session: Session,
    code: str,
    *,
    category: str = "rain_boots",
    sizes: list[str] | None = None,
    **overrides: Any,
) -> Style:
    size_run = sizes or list(DEFAULT_SIZES)
    values: dict[str, Any] = {
        "code": code,
        "name_en": f"Style {code}",
        "name_zh": f"款式{code}",
        "category": category,
        "season": "core",
        "price": 299.0,
        "cost": 120.0,
        "size_run": size_run,
        "core_sizes": size_run[1:-1],
        "rain_sensitive": category in DEMO_VOCABULARY.rain_categories,
    }
    values.update(overrides)
    ensure_terms(session, category=values["category"])
    style = Style(**values)
    session.add(style)
    session.flush()
    return style


def add_skus(session: Session, style: Style, colour: str = "BLK") -> list[Sku]:
    """One SKU per size of the style's run, coded ``<STYLE>-<COLOUR>-<SIZE>``."""
    skus = [
        Sku(
            code=f"{style.code}-{colour}-{size}",
            style_code=style.code,
            colour=colour,
            size=size,
            size_index=index,
        )
        for index, size in enumerate(style.size_run)
    ]
    session.add_all(skus)
    session.flush()
    return skus


def add_position(
    session: Session, location: str, sku: str, *, on_hand: int = 0, **overrides: Any
) -> StockPosition:
    position = StockPosition(location_code=location, sku_code=sku, on_hand=on_hand, **overrides)
    session.add(position)
    session.flush()
    return position


def add_daily_sales(
    session: Session,
    location: str,
    sku: str,
    *,
    end: dt.date,
    days: int,
    units: int,
    price: float = 299.0,
) -> None:
    """``units`` a day for the ``days`` days before ``end`` (``end`` itself excluded)."""
    session.add_all(
        DailySales(
            location_code=location,
            sku_code=sku,
            date=end - dt.timedelta(days=offset),
            units=units,
            price=price,
        )
        for offset in range(1, days + 1)
    )
    session.flush()


def set_clock(session: Session, now: dt.datetime) -> None:
    session.merge(WorldMeta(key="clock", value={"now": now.isoformat()}))
    session.flush()
