"""``/v1/network``, ``/v1/catalog``, ``/v1/sales-history``: the reads a map and a chart need.

Stock health comes from the one stock lookup (``tools/stock_lookup``: ATP and days of cover are
computed there and nowhere else); this module only groups it per location and adds where each
location is.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import ReaderDep, SessionDep, ToolContextDep
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas.network import (
    CatalogView,
    CategoryView,
    CityView,
    HistoryDay,
    LocationHealth,
    NetworkView,
    SalesHistoryView,
    SkuView,
    StyleView,
)
from inventory.models import Category, City, DailySales, Location, Sku, Style, WeatherDaily
from tools.context import ToolContext, category_code, resolve_city
from tools.registry import get_tool
from tools.stock_lookup.models import StockLookupInput, StockLookupOutput

router = APIRouter(tags=["network"], responses=ERROR_RESPONSES)
_STOCK = get_tool("stock_lookup")
#: Positions read for one map: the stock lookup's own ceiling.
_MAX_POSITIONS = 10_000


def _known_category(session, name: str | None) -> str | None:
    if name is None:
        return None
    code = category_code(session, name)
    if session.get(Category, code) is None:
        known = sorted(session.exec(select(Category.code)).all())
        raise ApiError(
            422,
            f"unknown category {name!r}; known: {', '.join(known)}",
            field="category",
            value=name,
        )
    return code


@router.get(
    "/network",
    summary="Cities, DCs and stores with lat/lon and stock health of a category",
    response_model=NetworkView,
)
def network(
    session: SessionDep,
    ctx: ToolContextDep,
    _: ReaderDep,
    category: Annotated[str | None, Query(max_length=64, description="e.g. rain_boots")] = None,
    city: Annotated[str | None, Query(max_length=64, description="Only this city")] = None,
    cover_window_days: Annotated[int, Query(ge=7, le=91)] = 28,
) -> NetworkView:
    category = _known_category(session, category)
    city_code = resolve_city(session, city) if city is not None else None
    query = select(Location).where(Location.kind != "online").order_by(col(Location.code))
    cities = select(City).order_by(col(City.code))
    if city_code is not None:
        query = query.where(Location.city == city_code)
        cities = cities.where(City.code == city_code)
    locations = session.exec(query).all()
    placed = {location.city for location in locations}
    health = _health(ctx, category, city_code, cover_window_days) if category else {}
    views = [
        LocationHealth(
            code=location.code,
            kind=location.kind,
            name_en=location.name_en,
            name_zh=location.name_zh,
            city=location.city,
            region=location.region,
            tier=location.tier,
            lat=location.lat,
            lon=location.lon,
            **(health.get(location.code, _EMPTY) if category else _UNKNOWN),
        )
        for location in locations
    ]
    return NetworkView(
        as_of=ctx.now.isoformat(),
        category=category,
        cover_window_days=cover_window_days,
        cities=[
            CityView.model_validate(c, from_attributes=True)
            for c in session.exec(cities)
            if c.code in placed  # a city with no DC or store has nothing to draw
        ],
        locations=views,
    )


_EMPTY = {"on_hand": 0, "atp": 0, "in_transit_in": 0, "avg_daily_sales": 0.0, "cover_days": None}
_UNKNOWN = dict.fromkeys(_EMPTY)


def _health(
    ctx: ToolContext, category: str, city: str | None, cover_window_days: int
) -> dict[str, dict[str, float | int | None]]:
    """Per location: the category's positions from the one stock lookup, summed."""
    stock: StockLookupOutput = _STOCK.run(  # type: ignore[assignment]
        ctx,
        StockLookupInput(
            category=category, city=city, cover_window_days=cover_window_days, limit=_MAX_POSITIONS
        ),
    )
    if stock.truncated:  # a partial sum would show a store emptier than it is
        raise ApiError(
            422, f"more than {_MAX_POSITIONS} positions match: choose a city", field="city"
        )
    sums: dict[str, dict[str, float]] = {}
    for position in stock.positions:
        row = sums.setdefault(
            position.location, {"on_hand": 0, "atp": 0, "in_transit_in": 0, "sales": 0.0}
        )
        row["on_hand"] += position.on_hand
        row["atp"] += position.atp
        row["in_transit_in"] += position.in_transit_in
        row["sales"] += position.avg_daily_sales
    health: dict[str, dict[str, float | int | None]] = {}
    for code, row in sums.items():
        sales = round(row["sales"], 3)
        health[code] = {
            "on_hand": int(row["on_hand"]),
            "atp": int(row["atp"]),
            "in_transit_in": int(row["in_transit_in"]),
            "avg_daily_sales": sales,
            "cover_days": round(row["atp"] / sales, 1) if sales > 0 else None,
        }
    return health


@router.get(
    "/catalog",
    summary="Categories and styles (with size runs); SKUs asked for by code",
    response_model=CatalogView,
)
def catalog(
    session: SessionDep,
    _: ReaderDep,
    sku: Annotated[list[str], Query(max_length=500, description="SKU codes to resolve")] = [],  # noqa: B006
) -> CatalogView:
    styles = session.exec(select(Style).order_by(col(Style.code))).all()
    skus = session.exec(select(Sku).where(col(Sku.code).in_(sku))).all() if sku else []
    return CatalogView(
        categories=[
            CategoryView.model_validate(c, from_attributes=True)
            for c in session.exec(select(Category).order_by(col(Category.code)))
        ],
        styles=[StyleView.model_validate(s, from_attributes=True) for s in styles],
        skus=[
            SkuView(
                code=s.code,
                style=s.style_code,
                colour=s.colour,
                size=s.size,
                size_index=s.size_index,
            )
            for s in skus
        ],
    )


@router.get(
    "/sales-history",
    summary="Daily units sold up to the clock beside the city's daily rain",
    response_model=SalesHistoryView,
)
def sales_history(
    session: SessionDep,
    ctx: ToolContextDep,
    _: ReaderDep,
    city: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    style: Annotated[str | None, Query(max_length=32)] = None,
    location: Annotated[str | None, Query(max_length=32)] = None,
    days: Annotated[int, Query(ge=1, le=365)] = 56,
) -> SalesHistoryView:
    category = _known_category(session, category)
    city_code = resolve_city(session, city) if city is not None else None
    if location is not None:
        place = session.get(Location, location)
        if place is None:
            raise ApiError(422, f"unknown location {location!r}", field="location", value=location)
        if city_code is not None and place.city != city_code:
            raise ApiError(
                422,
                f"{location} is in {place.city}, not {city_code}",
                field="location",
                value=location,
            )
        city_code = place.city
    if style is not None and session.get(Style, style) is None:
        raise ApiError(422, f"unknown style {style!r}", field="style", value=style)
    if city_code is None and location is None:
        raise ApiError(422, "name a city or a location", field="city")
    end = ctx.today  # the clock's day is not over: history stops the day before
    start = end - dt.timedelta(days=days)
    query = (
        sa.select(
            DailySales.date,
            sa.func.sum(DailySales.units),
            sa.func.sum(sa.cast(DailySales.stockout, sa.Integer)),
        )
        .join(Location, col(Location.code) == DailySales.location_code)
        .join(Sku, col(Sku.code) == DailySales.sku_code)
        .join(Style, col(Style.code) == Sku.style_code)
        .where(DailySales.date >= start, DailySales.date < end, Location.city == city_code)
        .group_by(DailySales.date)
    )
    if location is not None:
        query = query.where(DailySales.location_code == location)
    if category is not None:
        query = query.where(Style.category == category)
    if style is not None:
        query = query.where(Sku.style_code == style)
    sold = {day: (int(units or 0), int(out or 0)) for day, units, out in session.execute(query)}
    weather = {
        w.date: w
        for w in session.exec(
            select(WeatherDaily).where(
                WeatherDaily.city == city_code, WeatherDaily.date >= start, WeatherDaily.date < end
            )
        )
    }
    out = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        units, stockouts = sold.get(day, (0, 0))
        rain = weather.get(day)
        out.append(
            HistoryDay(
                date=day,
                units=units,
                stockout_locations=stockouts,
                precipitation_mm=round(rain.precipitation_mm, 1) if rain else None,
                rain_band=rain.rain_band if rain else None,
            )
        )
    return SalesHistoryView(
        as_of=ctx.now.isoformat(),
        city=city_code,
        category=category,
        style=style,
        location=location,
        days=out,
    )
