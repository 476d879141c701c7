"""stock_lookup's hot path: one round trip once the pool's codes are cached, and a cache that
never calls a freshly added code unknown."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from inventory.db import session_scope
from tests.tools.test_stock_lookup import seed
from tests.utils import factories
from tools.context import ToolContext, ToolError
from tools.stock_lookup.models import StockLookupInput
from tools.stock_lookup.tool import stock_lookup


@pytest.fixture
def ctx(engine: Engine) -> ToolContext:
    return seed(engine)


def count_queries(engine: Engine, call) -> tuple[int, object]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements), result


def test_a_warm_lookup_is_one_round_trip(ctx: ToolContext) -> None:
    request = StockLookupInput(location="SHA-S01", sku="RB001-BLK-38")
    stock_lookup(ctx, request)  # loads the vocabulary
    queries, out = count_queries(ctx.engine, lambda: stock_lookup(ctx, request))
    assert queries == 1
    assert [(p.location, p.sku, p.on_hand) for p in out.positions] == [
        ("SHA-S01", "RB001-BLK-38", 20)
    ]
    assert out.totals.positions == 1 and out.totals.atp == 14


def test_totals_and_subtotals_count_every_match_past_the_limit(ctx: ToolContext) -> None:
    stock_lookup(ctx, StockLookupInput(sku="RB001-BLK-38"))  # loads the SKU codes
    queries, out = count_queries(
        ctx.engine, lambda: stock_lookup(ctx, StockLookupInput(sku="RB001-BLK-38", limit=1))
    )
    # positions + totals in one query; per-location subtotals in a second, only when truncated
    assert queries == 2 and len(out.positions) == 1 and out.truncated
    assert (out.totals.positions, out.totals.on_hand) == (3, 20 + 100 + 9)
    assert len(out.by_location) == 3
    assert sum(s.on_hand for s in out.by_location) == out.totals.on_hand
    assert sum(s.atp for s in out.by_location) == out.totals.atp
    nothing = stock_lookup(ctx, StockLookupInput(location="BEI-S01", category="sneakers"))
    assert nothing.positions == [] and nothing.totals.positions == 0 and not nothing.truncated


def test_a_code_added_after_caching_is_found_at_once(ctx: ToolContext) -> None:
    stock_lookup(ctx, StockLookupInput(location="SHA-S01"))  # caches the location codes
    with session_scope(ctx.engine) as session:
        factories.add_location(session, "SHA-S09")
        factories.add_position(session, "SHA-S09", "RB001-BLK-38", on_hand=7)
    out = stock_lookup(ctx, StockLookupInput(location="sha-s09"))
    assert [(p.location, p.on_hand) for p in out.positions] == [("SHA-S09", 7)]


def test_unknown_codes_still_name_close_matches_after_caching(ctx: ToolContext) -> None:
    stock_lookup(ctx, StockLookupInput(sku="RB001-BLK-38"))
    with pytest.raises(ToolError) as error:
        stock_lookup(ctx, StockLookupInput(sku="RB001-BLK-83"))
    assert error.value.field == "sku" and "RB001-BLK-38" in str(error.value)
