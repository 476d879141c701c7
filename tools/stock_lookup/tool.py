"""stock_lookup: positions with ATP, in-transit and days of cover, aggregated in the database.

One query joins positions to their location, SKU and style and sums each position's sales over
the cover window (an outer join on the daily_sales primary key), so the cost is one round trip
whatever the number of positions; a second query totals every match, past ``limit`` too.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from inventory.models import DailySales, Location, Sku, StockPosition, Style
from tools.context import ToolContext
from tools.stock_lookup.filters import ResolvedFilters, resolve_filters
from tools.stock_lookup.models import (
    StockLookupInput,
    StockLookupOutput,
    StockPositionView,
    StockTotals,
)

_POS = StockPosition.__table__.c  # type: ignore[attr-defined]
_LOC = Location.__table__.c  # type: ignore[attr-defined]
_SKU = Sku.__table__.c  # type: ignore[attr-defined]
_STY = Style.__table__.c  # type: ignore[attr-defined]
_SALES = DailySales.__table__.c  # type: ignore[attr-defined]


def _matching(filters: ResolvedFilters, include_zero: bool) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    pairs = [
        (filters.sku, _SKU.code),
        (filters.style, _SKU.style_code),
        (filters.size, _SKU.size),
        (filters.location, _LOC.code),
        (filters.city, _LOC.city),
        (filters.region, _LOC.region),
        (filters.category, _STY.category),
        (filters.location_kind, _LOC.kind),
    ]
    conditions.extend(column == value for value, column in pairs if value is not None)
    if not include_zero:
        conditions.append(sa.or_(_POS.on_hand > 0, _POS.in_transit_in > 0, _POS.in_transit_out > 0))
    return conditions


def _joined(*columns: sa.ColumnElement[object]) -> sa.Select[tuple[object, ...]]:
    return (
        sa.select(*columns)
        .select_from(StockPosition.__table__)  # type: ignore[attr-defined]
        .join(Location.__table__, _LOC.code == _POS.location_code)  # type: ignore[attr-defined]
        .join(Sku.__table__, _SKU.code == _POS.sku_code)  # type: ignore[attr-defined]
        .join(Style.__table__, _STY.code == _SKU.style_code)  # type: ignore[attr-defined]
    )


def _atp(on_hand: int, reserved: int, safety: int) -> int:
    return max(0, on_hand - reserved - safety)


def _positions(
    session: Session,
    conditions: list[sa.ColumnElement[bool]],
    window: tuple[dt.date, dt.date],
    cover_days: int,
    limit: int,
) -> list[StockPositionView]:
    units = sa.func.coalesce(sa.func.sum(_SALES.units), 0).label("units")
    keys = (
        _LOC.code.label("location"),
        _LOC.name_en.label("location_name"),
        _LOC.kind.label("location_kind"),
        _LOC.city,
        _LOC.region,
        _SKU.code.label("sku"),
        _SKU.style_code.label("style"),
        _STY.category,
        _SKU.size,
        _SKU.size_index,
        _POS.on_hand,
        _POS.reserved,
        _POS.safety,
        _POS.in_transit_in,
        _POS.in_transit_out,
    )
    stmt = (
        _joined(*keys, units)
        .outerjoin(
            DailySales.__table__,  # type: ignore[attr-defined]
            sa.and_(
                _SALES.location_code == _POS.location_code,
                _SALES.sku_code == _POS.sku_code,
                _SALES.date >= window[0],
                _SALES.date < window[1],
            ),
        )
        .where(*conditions)
        .group_by(*(key.element if isinstance(key, sa.Label) else key for key in keys))
        .order_by(_LOC.code, _SKU.style_code, _SKU.size_index, _SKU.code)
        .limit(limit)
    )
    views = []
    for row in session.execute(stmt):
        atp = _atp(row.on_hand, row.reserved, row.safety)
        avg = float(row.units) / cover_days
        views.append(
            StockPositionView(
                location=row.location,
                location_name=row.location_name,
                location_kind=row.location_kind,
                city=row.city,
                region=row.region,
                sku=row.sku,
                style=row.style,
                category=row.category,
                size=row.size,
                on_hand=row.on_hand,
                reserved=row.reserved,
                safety=row.safety,
                atp=atp,
                in_transit_in=row.in_transit_in,
                in_transit_out=row.in_transit_out,
                avg_daily_sales=round(avg, 3),
                days_of_cover=round(atp / avg, 1) if avg > 0 else None,
            )
        )
    return views


def _totals(session: Session, conditions: list[sa.ColumnElement[bool]]) -> StockTotals:
    atp = sa.case(
        (
            _POS.on_hand - _POS.reserved - _POS.safety > 0,
            _POS.on_hand - _POS.reserved - _POS.safety,
        ),
        else_=0,
    )
    sums = [
        sa.func.count(),
        *(
            sa.func.coalesce(sa.func.sum(expr), 0)
            for expr in (_POS.on_hand, _POS.reserved, atp, _POS.in_transit_in, _POS.in_transit_out)
        ),
    ]
    row = session.execute(_joined(*sums).where(*conditions)).one()
    count, on_hand, reserved, total_atp, transit_in, transit_out = (int(value) for value in row)
    return StockTotals(
        positions=count,
        on_hand=on_hand,
        reserved=reserved,
        atp=total_atp,
        in_transit_in=transit_in,
        in_transit_out=transit_out,
    )


def stock_lookup(ctx: ToolContext, request: StockLookupInput) -> StockLookupOutput:
    """Positions matching every given filter, as of ``ctx.now``.

    Days of cover = ATP ÷ mean daily units sold over the ``cover_window_days`` days before today;
    None when nothing sold (cover is then unbounded, not zero).

    Raises:
        ToolError: a filter names a SKU, style, size, location, city, region, category or kind
            the pool does not know; the message lists close matches.
    """
    today = ctx.today
    window = (today - dt.timedelta(days=request.cover_window_days), today)
    with ctx.read() as session:
        filters = resolve_filters(session, request)
        conditions = _matching(filters, request.include_zero)
        positions = _positions(
            session, conditions, window, request.cover_window_days, request.limit
        )
        totals = _totals(session, conditions)
    return StockLookupOutput(
        as_of=ctx.now.isoformat(),
        positions=positions,
        totals=totals,
        truncated=totals.positions > len(positions),
    )
