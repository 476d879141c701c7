"""stock_lookup on the generated demo world agrees with the pool, row by row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from inventory.models import DailySales, Location, Sku, StockPosition, Style
from tools.context import ToolContext
from tools.stock_lookup.models import StockLookupInput
from tools.stock_lookup.tool import stock_lookup


def test_rain_boots_in_shanghai_match_the_pool(any_module_world: Engine) -> None:
    ctx = ToolContext.for_world(any_module_world)
    out = stock_lookup(ctx, StockLookupInput(city="上海", category="rain_boots", limit=10_000))
    assert out.positions and not out.truncated
    assert {p.city for p in out.positions} == {"Shanghai"}
    assert {p.category for p in out.positions} == {"rain_boots"}

    since = ctx.today - dt.timedelta(days=28)
    with Session(any_module_world) as session:
        stmt = (
            select(StockPosition)
            .join(Location, Location.code == StockPosition.location_code)
            .join(Sku, Sku.code == StockPosition.sku_code)
            .join(Style, Style.code == Sku.style_code)
            .where(Location.city == "Shanghai", Style.category == "rain_boots")
        )
        expected = {
            (p.location_code, p.sku_code): p
            for p in session.exec(stmt)
            if p.on_hand or p.in_transit_in or p.in_transit_out
        }
        assert {(p.location, p.sku) for p in out.positions} == set(expected)
        for view in out.positions:
            pos = expected[view.location, view.sku]
            assert (view.on_hand, view.reserved, view.atp) == (pos.on_hand, pos.reserved, pos.atp)
            sold = session.exec(
                select(func.coalesce(func.sum(DailySales.units), 0)).where(
                    DailySales.location_code == view.location,
                    DailySales.sku_code == view.sku,
                    DailySales.date >= since,
                    DailySales.date < ctx.today,
                )
            ).one()
            assert view.avg_daily_sales == round(sold / 28, 3)
    assert out.totals.on_hand == sum(p.on_hand for p in expected.values())
    assert out.totals.atp == sum(p.atp for p in expected.values())
