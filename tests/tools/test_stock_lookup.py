"""stock_lookup on SQLite and Postgres: filters, ATP, in-transit, days of cover, unknown codes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from inventory.db import session_scope
from tests.utils import factories
from tools.context import ToolContext, ToolError
from tools.stock_lookup.models import StockLookupInput
from tools.stock_lookup.tool import stock_lookup

NOW = dt.datetime(2015, 7, 1, 9, 0)


@pytest.fixture
def ctx(engine: Engine) -> ToolContext:
    return seed(engine)


@pytest.fixture
def sqlite_ctx(sqlite_engine: Engine) -> ToolContext:
    """For input checks, which do not depend on the backend."""
    return seed(sqlite_engine)


def seed(engine: Engine) -> ToolContext:
    """Shanghai: a store and a DC; Beijing: a store. Rain boots and sneakers."""
    with session_scope(engine) as session:
        factories.add_location(session, "SHA-S01")
        factories.add_location(session, "DC-SHA", kind="dc")
        factories.add_location(session, "BEI-S01", city="Beijing")
        boots = factories.add_skus(session, factories.add_style(session, "RB001"))
        sneakers = factories.add_skus(
            session, factories.add_style(session, "SN001", category="sneakers")
        )
        factories.add_position(
            session, "SHA-S01", boots[2].code, on_hand=20, reserved=4, safety=2, in_transit_in=6
        )
        factories.add_position(session, "SHA-S01", boots[3].code, on_hand=1, safety=3)
        factories.add_position(session, "SHA-S01", boots[4].code, on_hand=0)
        factories.add_position(session, "DC-SHA", boots[2].code, on_hand=100, in_transit_out=6)
        factories.add_position(session, "BEI-S01", boots[2].code, on_hand=9)
        factories.add_position(session, "SHA-S01", sneakers[0].code, on_hand=5)
        # 2 a day over the 28-day window; older and same-day sales must not count.
        factories.add_daily_sales(
            session, "SHA-S01", boots[2].code, end=NOW.date(), days=28, units=2
        )
        factories.add_daily_sales(
            session,
            "SHA-S01",
            boots[2].code,
            end=NOW.date() - dt.timedelta(days=28),
            days=5,
            units=50,
        )
        factories.add_daily_sales(
            session,
            "SHA-S01",
            boots[2].code,
            end=NOW.date() + dt.timedelta(days=1),
            days=1,
            units=50,
        )
        factories.set_clock(session, NOW)
    return ToolContext.for_world(engine)


def test_city_and_category_filter_with_atp_transit_and_cover(ctx: ToolContext) -> None:
    out = stock_lookup(ctx, StockLookupInput(city="Shanghai", category="rain_boots"))
    assert out.as_of == "2015-07-01T09:00:00+00:00"
    by_key = {(p.location, p.sku): p for p in out.positions}
    assert set(by_key) == {
        ("DC-SHA", "RB001-BLK-38"),
        ("SHA-S01", "RB001-BLK-38"),
        ("SHA-S01", "RB001-BLK-39"),
    }
    store = by_key["SHA-S01", "RB001-BLK-38"]
    assert (store.atp, store.in_transit_in, store.region, store.size) == (14, 6, "East", "38")
    assert store.avg_daily_sales == 2.0
    assert store.days_of_cover == 7.0
    short = by_key["SHA-S01", "RB001-BLK-39"]
    assert (short.atp, short.days_of_cover) == (0, None)
    assert by_key["DC-SHA", "RB001-BLK-38"].in_transit_out == 6
    assert out.totals.positions == 3
    assert (out.totals.on_hand, out.totals.atp, out.totals.reserved) == (121, 114, 4)
    assert not out.truncated


def test_chinese_city_region_and_kind(ctx: ToolContext) -> None:
    out = stock_lookup(ctx, StockLookupInput(city="上海", location_kind="dc"))
    assert [p.location for p in out.positions] == ["DC-SHA"]
    out = stock_lookup(ctx, StockLookupInput(region="华北"))
    assert [p.location for p in out.positions] == ["BEI-S01"]
    out = stock_lookup(ctx, StockLookupInput(category="运动鞋"))
    assert [p.sku for p in out.positions] == ["SN001-BLK-36"]


def test_zero_positions_only_on_request_and_limit_truncates(ctx: ToolContext) -> None:
    out = stock_lookup(ctx, StockLookupInput(location="SHA-S01", style="RB001"))
    assert [p.size for p in out.positions] == ["38", "39"]
    out = stock_lookup(ctx, StockLookupInput(location="sha-s01", style="rb001", include_zero=True))
    assert [p.size for p in out.positions] == ["38", "39", "40"]
    out = stock_lookup(ctx, StockLookupInput(sku="RB001-BLK-38", limit=2))
    assert len(out.positions) == 2 and out.totals.positions == 3 and out.truncated
    out = stock_lookup(ctx, StockLookupInput(size="38", sku=""))
    assert {p.sku for p in out.positions} == {"RB001-BLK-38"}


@pytest.mark.parametrize(
    ("request_args", "field", "fragment"),
    [
        ({"sku": "RB001-BLK-83"}, "sku", "RB001-BLK-38"),
        ({"style": "RB01"}, "style", "did you mean RB001"),
        ({"location": "SHA-S1"}, "location", "SHA-S01"),
        ({"city": "Hangzhou"}, "city", "known cities"),
        ({"region": "Midwest"}, "region", "known values: East (华东), North (华北)"),
        ({"category": "rainbots"}, "category", "did you mean rain_boots"),
        ({"location_kind": "warehouse"}, "location_kind", "store"),
        ({"size": "99"}, "size", "unknown size '99'"),
    ],
)
def test_unknown_values_raise_tool_error_naming_them(
    sqlite_ctx: ToolContext, request_args: dict[str, str], field: str, fragment: str
) -> None:
    with pytest.raises(ToolError) as error:
        stock_lookup(sqlite_ctx, StockLookupInput(**request_args))
    assert error.value.field == field
    assert str(next(iter(request_args.values()))) in str(error.value)
    assert fragment in str(error.value)


def test_lookup_is_a_fixed_number_of_queries(ctx: ToolContext) -> None:
    """Positions and sales are aggregated in the database: no query per position. A city
    filter adds one query: the pool's vocabulary stamp (the vocabulary itself is cached)."""
    stock_lookup(ctx, StockLookupInput(city="Beijing"))  # loads the vocabulary once
    statements: list[str] = []

    def count(*_args: object) -> None:
        statements.append("q")

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        few = stock_lookup(ctx, StockLookupInput(city="Beijing"))
        n_few = len(statements)
        statements.clear()
        many = stock_lookup(ctx, StockLookupInput(city="Shanghai"))
        n_many = len(statements)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert len(many.positions) > len(few.positions)
    assert n_many == n_few <= 5
