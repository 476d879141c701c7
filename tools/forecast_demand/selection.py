"""Which SKU × location series a forecast request means, checked against the pool.

A series is a (location, SKU) pair the pool carries (it has a stock position) at a store or the
online pool; DCs sell nothing. Every unknown code is a ToolError naming field and value.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from inventory.models import Location, Sku, StockPosition, Style
from tools.context import ToolError, category_code, resolve_city
from tools.forecast_demand.models import ForecastInput

SELLING_KINDS = ("store", "online")
SERIES_FRAME_COLUMNS = [
    "location",
    "sku",
    "style",
    "category",
    "city",
    "rain_sensitive",
    "channel",
]


def _check_known(session: Session, column, values: list[str], field: str) -> None:
    if not values:
        return
    found = set(session.execute(select(column).where(column.in_(values))).scalars())
    for value in values:
        if value not in found:
            raise ToolError(
                f"unknown {field[:-1] if field.endswith('s') else field} {value!r}",
                field=field,
                value=value,
            )


def select_series(session: Session, request: ForecastInput | None) -> pd.DataFrame:
    """Carried (location, SKU) series matching the request (all of them for ``None``)."""
    query = (
        select(
            StockPosition.location_code,
            StockPosition.sku_code,
            Style.code,
            Style.category,
            Location.city,
            Style.rain_sensitive,
            Location.kind,
        )
        .join(Sku, Sku.code == StockPosition.sku_code)
        .join(Style, Style.code == Sku.style_code)
        .join(Location, Location.code == StockPosition.location_code)
        .where(Location.kind.in_(SELLING_KINDS))
    )
    if request is not None:
        _check_known(session, Sku.code, request.skus, "skus")
        _check_known(session, Location.code, request.locations, "locations")
        if request.style is not None:
            _check_known(session, Style.code, [request.style], "style")
            query = query.where(Style.code == request.style)
        if request.category is not None:
            category = category_code(session, request.category)
            known = sorted(set(session.execute(select(Style.category)).scalars()))
            if category not in known:
                raise ToolError(
                    f"unknown category {request.category!r}; known: {', '.join(known)}",
                    field="category",
                    value=request.category,
                )
            query = query.where(Style.category == category)
        if request.city is not None:
            city = resolve_city(session, request.city)
            query = query.where(Location.city == city)
        if request.skus:
            query = query.where(StockPosition.sku_code.in_(request.skus))
        if request.locations:
            query = query.where(StockPosition.location_code.in_(request.locations))
    rows = session.execute(query.order_by(StockPosition.location_code, StockPosition.sku_code))
    frame = pd.DataFrame(rows.all(), columns=SERIES_FRAME_COLUMNS)
    frame["rain_sensitive"] = frame["rain_sensitive"].astype(bool)
    return frame
