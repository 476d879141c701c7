"""stock_lookup: positions with ATP, in-transit and days of cover, aggregated in the database.

One query joins positions to their location, SKU and style, sums each position's sales over
the cover window (an outer join on the daily_sales primary key) and totals every match, past
``limit`` too (window aggregates over the grouped rows), so the cost is one round trip whatever
the number of positions. Typed codes are checked against a cached vocabulary (``vocabulary``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict

import sqlalchemy as sa
from sqlmodel import Session

from inventory.models import DailySales, Location, Sku, StockPosition, Style
from tools.context import ToolContext
from tools.stock_lookup.filters import ResolvedFilters, resolve_filters
from tools.stock_lookup.models import (
    LocationSubtotal,
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


#: Which column each filter compares with.
_FILTER_COLUMNS: dict[str, sa.ColumnElement[str]] = {
    "sku": _SKU.code,
    "style": _SKU.style_code,
    "size": _SKU.size,
    "location": _LOC.code,
    "city": _LOC.city,
    "region": _LOC.region,
    "category": _STY.category,
    "location_kind": _LOC.kind,
}


def _matching(fields: tuple[str, ...], include_zero: bool) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause for the given filters, with their values left as bound parameters."""
    conditions: list[sa.ColumnElement[bool]] = [
        _FILTER_COLUMNS[name] == sa.bindparam(f"filter_{name}") for name in fields
    ]
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


def _atp_expr() -> sa.ColumnElement[int]:
    net = _POS.on_hand - _POS.reserved - _POS.safety
    return sa.case((net > 0, net), else_=0)


@functools.lru_cache(maxsize=256)
def _statement(fields: tuple[str, ...], include_zero: bool) -> sa.Select[tuple[object, ...]]:
    """The lookup for one combination of filters, built once: values, the cover window and the
    limit are bound parameters, so a hot lookup neither rebuilds nor recompiles its SQL.

    Each group is one position, so window aggregates over the grouped rows (evaluated before
    LIMIT) total every match, past the limit too, in the same round trip.
    """
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
    totals = (
        sa.func.count().over().label("total_positions"),
        sa.func.sum(_POS.on_hand).over().label("total_on_hand"),
        sa.func.sum(_POS.reserved).over().label("total_reserved"),
        sa.func.sum(_atp_expr()).over().label("total_atp"),
        sa.func.sum(_POS.in_transit_in).over().label("total_in_transit_in"),
        sa.func.sum(_POS.in_transit_out).over().label("total_in_transit_out"),
    )
    return (
        _joined(*keys, units, *totals)
        .outerjoin(
            DailySales.__table__,  # type: ignore[attr-defined]
            sa.and_(
                _SALES.location_code == _POS.location_code,
                _SALES.sku_code == _POS.sku_code,
                _SALES.date >= sa.bindparam("window_start", type_=sa.Date),
                _SALES.date < sa.bindparam("window_end", type_=sa.Date),
            ),
        )
        .where(*_matching(fields, include_zero))
        .group_by(*(key.element if isinstance(key, sa.Label) else key for key in keys))
        .order_by(_LOC.code, _SKU.style_code, _SKU.size_index, _SKU.code)
        .limit(sa.bindparam("row_limit", type_=sa.Integer))
    )


def _filter_params(filters: ResolvedFilters) -> tuple[tuple[str, ...], dict[str, object]]:
    """The given filters' names (the cache key of a statement) and their bound values."""
    given = {name: value for name, value in asdict(filters).items() if value is not None}
    return tuple(sorted(given)), {f"filter_{name}": value for name, value in given.items()}


@functools.lru_cache(maxsize=256)
def _by_location_statement(
    fields: tuple[str, ...], include_zero: bool
) -> sa.Select[tuple[object, ...]]:
    """Subtotals per location over every match: where the stock is, when positions overflow."""
    return (
        _joined(
            _LOC.code.label("location"),
            _LOC.name_en.label("location_name"),
            _LOC.city,
            sa.func.count().label("positions"),
            sa.func.sum(_POS.on_hand).label("on_hand"),
            sa.func.sum(_atp_expr()).label("atp"),
            sa.func.sum(_POS.in_transit_in).label("in_transit_in"),
        )
        .where(*_matching(fields, include_zero))
        .group_by(_LOC.code, _LOC.name_en, _LOC.city)
        .order_by(_LOC.code)
    )


def _by_location(
    session: Session, filters: ResolvedFilters, include_zero: bool
) -> list[LocationSubtotal]:
    fields, params = _filter_params(filters)
    stmt = _by_location_statement(fields, include_zero)
    return [
        LocationSubtotal(
            location=row.location,
            location_name=row.location_name,
            city=row.city,
            positions=int(row.positions),
            on_hand=int(row.on_hand),
            atp=int(row.atp),
            in_transit_in=int(row.in_transit_in),
        )
        for row in session.execute(stmt, params)
    ]


def _lookup(
    session: Session,
    filters: ResolvedFilters,
    include_zero: bool,
    window: tuple[dt.date, dt.date],
    cover_days: int,
    limit: int,
) -> tuple[list[StockPositionView], StockTotals | None]:
    """The first ``limit`` positions and the totals over every match (``None``: no match)."""
    fields, params = _filter_params(filters)
    params.update(window_start=window[0], window_end=window[1], row_limit=limit)
    stmt = _statement(fields, include_zero)
    views = []
    total: StockTotals | None = None
    for row in session.execute(stmt, params):
        if total is None:
            total = StockTotals(
                positions=int(row.total_positions),
                on_hand=int(row.total_on_hand),
                reserved=int(row.total_reserved),
                atp=int(row.total_atp),
                in_transit_in=int(row.total_in_transit_in),
                in_transit_out=int(row.total_in_transit_out),
            )
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
    return views, total


def _rolled_up(positions: list[StockPositionView]) -> list[LocationSubtotal]:
    """Subtotals per location from the positions themselves (all of them: not truncated), so a
    reader of a long list, or of its first page, still sees where the stock is. Empty for one
    location (the totals say it all)."""
    subtotals: dict[str, LocationSubtotal] = {}
    for p in positions:
        sub = subtotals.setdefault(
            p.location,
            LocationSubtotal(
                location=p.location,
                location_name=p.location_name,
                city=p.city,
                positions=0,
                on_hand=0,
                atp=0,
                in_transit_in=0,
            ),
        )
        sub.positions += 1
        sub.on_hand += p.on_hand
        sub.atp += p.atp
        sub.in_transit_in += p.in_transit_in
    return [subtotals[code] for code in sorted(subtotals)] if len(subtotals) > 1 else []


_NOTHING = StockTotals(positions=0, on_hand=0, reserved=0, atp=0, in_transit_in=0, in_transit_out=0)


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
        positions, totals = _lookup(
            session, filters, request.include_zero, window, request.cover_window_days, request.limit
        )
        totals = totals or _NOTHING
        truncated = totals.positions > len(positions)
        by_location = (
            _by_location(session, filters, request.include_zero)
            if truncated
            else _rolled_up(positions)
        )
    return StockLookupOutput(
        as_of=ctx.now.isoformat(),
        positions=positions,
        totals=totals,
        truncated=truncated,
        by_location=by_location,
    )
