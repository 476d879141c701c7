"""Small builders of pool rows for tests: sensible defaults, every field overridable.

Positions are inserted directly (not through ``inventory.movements``) so a test can start from
any state, in-transit included, without movement rows it did not ask for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from inventory.models import DailySales, Location, Sku, StockPosition, Style, WorldMeta
from inventory.vocabulary import CITY_REGION, CITY_ZH, RAIN_CATEGORIES

DEFAULT_SIZES = ["36", "37", "38", "39", "40"]


def add_location(
    session: Session, code: str, *, kind: str = "store", city: str = "Shanghai", **overrides: Any
) -> Location:
    values: dict[str, Any] = {
        "code": code,
        "kind": kind,
        "name_en": f"{city} {code}",
        "name_zh": f"{CITY_ZH.get(city, city)}{code}",
        "city": city,
        "region": CITY_REGION.get(city, "East"),
        "lat": 31.2,
        "lon": 121.5,
        "tier": "A",
        "ship_from_store": False,
    }
    values.update(overrides)
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
        "rain_sensitive": category in RAIN_CATEGORIES,
    }
    values.update(overrides)
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
