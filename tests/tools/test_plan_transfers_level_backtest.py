"""The alert's hedge against the forecast's own error (``PlanTransfersInput.level_backtest``):
each city × channel × category level is corrected by the stored forecaster's backtest on the
windows before the clock. It may read only what was known at the clock: sales after the clock
leave it unchanged; more sales of a category before the clock raise that category's level."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.config import Settings
from inventory.models import DailySales, Location, Sku, Style
from tools.context import ToolContext
from tools.forecast_demand.models import RainScenario
from tools.plan_transfers import pool as plan_pool
from tools.plan_transfers.models import PlanTransfersInput

RAIN_CATEGORIES = ["rain_boots", "rain_jackets", "shoe_covers", "umbrellas", "waterproof_shoes"]


@pytest.fixture
def ctx(world_engine: Engine, fitted_data_dir: Path) -> ToolContext:
    url = world_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, data_dir=fitted_data_dir, clock="world")
    return ToolContext.for_world(world_engine, settings)


def _request(ctx: ToolContext) -> PlanTransfersInput:
    rain = RainScenario(city="Shanghai", start=ctx.today, days=2, precipitation_mm_per_day=60.0)
    return PlanTransfersInput(
        city="Shanghai",
        categories=RAIN_CATEGORIES,
        window_days=3,
        rain=[rain],
        level_backtest=True,
    )


def _grid(ctx: ToolContext) -> np.ndarray:
    request = _request(ctx)
    plan_pool._LEVEL_GRIDS.clear()  # read the pool again, as a new process would
    grid = plan_pool.backtest_level_grid(ctx, plan_pool.read_pool(ctx, request), request)
    assert grid is not None, "the small world's stored forecaster should be backtested"
    return grid


def _shanghai_skus(session: Session, category: str) -> list[tuple[str, str]]:
    stores = session.exec(
        select(Location.code).where(Location.city == "Shanghai", Location.kind == "store")
    ).all()
    skus = session.exec(
        select(Sku.code).join(Style, Style.code == Sku.style_code).where(Style.category == category)
    ).all()
    return [(loc, sku) for loc in stores for sku in skus]


def test_sales_after_the_clock_do_not_change_the_hedge(ctx: ToolContext) -> None:
    before = _grid(ctx)
    assert (before != 1.0).any(), "the backtest should correct some level on this world"
    with Session(ctx.engine) as session:
        for offset in range(5):
            day = ctx.today + dt.timedelta(days=offset)
            for loc, sku in _shanghai_skus(session, "umbrellas")[:40]:
                session.merge(
                    DailySales(
                        location_code=loc, sku_code=sku, date=day, units=50, price=99.0, promo=False
                    )
                )
        session.commit()
    np.testing.assert_array_equal(_grid(ctx), before)


def test_more_sales_of_a_category_before_the_clock_raise_its_level(ctx: ToolContext) -> None:
    request = _request(ctx)
    pool = plan_pool.read_pool(ctx, request)
    category = {sku.code: sku.category for sku in pool.skus}
    umbrellas = np.array([category[sku.code] == "umbrellas" for sku in pool.skus])
    stores = np.array([loc.city == "Shanghai" and loc.kind == "store" for loc in pool.locations])
    before = _grid(ctx)
    # Triple the umbrella sales of the last window before the clock (after the last origin).
    with Session(ctx.engine) as session:
        session.execute(
            update(DailySales)
            .where(
                DailySales.date >= ctx.today - dt.timedelta(days=3),  # type: ignore[operator]
                DailySales.date < ctx.today,  # type: ignore[operator]
                DailySales.sku_code.in_(  # type: ignore[attr-defined]
                    [
                        sku.code
                        for sku, is_umbrella in zip(pool.skus, umbrellas, strict=True)
                        if is_umbrella
                    ]
                ),
            )
            .values(units=DailySales.units * 3 + 1)
        )
        session.commit()
    after = _grid(ctx)
    cell = np.ix_(stores, umbrellas)
    forecast = before[cell] != 1.0  # positions the forecast covers (the rest stay at 1)
    assert forecast.any()
    assert (after[cell][forecast] > before[cell][forecast]).all()
    other = np.ix_(stores, ~umbrellas)
    np.testing.assert_array_equal(after[other], before[other])
