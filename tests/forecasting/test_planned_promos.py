"""The horizon's planned promos reach the forecast: the retailer's own promo calendar, made
before the clock, is known there (not a leak), and a promo lifts demand. Before, every horizon
day was forecast at the regular price whatever the plan said (the horizon has no sales rows).
A plan made after the clock is not seen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from forecasting.panel import Panel, with_planned_promos
from inventory.config import Settings
from inventory.models import DailySales, PromoPlan, Sku
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.forecast_demand.tool import forecast_demand

HORIZON = 7
PROMO_DAYS = slice(2, 5)  # the 3rd to the 5th day of the horizon


@pytest.fixture
def ctx(world_engine: Engine, fitted_data_dir: Path) -> ToolContext:
    url = world_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, data_dir=fitted_data_dir, clock="world")
    return ToolContext.for_world(world_engine, settings)


def _best_selling_style(ctx: ToolContext) -> str:
    """The style that sold most over the 28 days before the clock (a clear promo response)."""
    since = ctx.today - dt.timedelta(days=28)
    query = (
        select(Sku.style_code, func.sum(DailySales.units).label("units"))
        .join(Sku, Sku.code == DailySales.sku_code)
        .where(DailySales.date >= since, DailySales.date < ctx.today)
        .group_by(Sku.style_code)
        .order_by(func.sum(DailySales.units).desc())
    )
    with Session(ctx.engine) as session:
        return str(session.execute(query).first()[0])


def _plan(engine: Engine, style: str, start: dt.date, planned_at: dt.datetime | None) -> None:
    """Only this plan for ``style`` (none when ``planned_at`` is None), 3 days at 30 % off."""
    with Session(engine) as session:
        session.execute(delete(PromoPlan).where(PromoPlan.style_code == style))
        if planned_at is not None:
            end = start + dt.timedelta(days=2)
            session.add(
                PromoPlan(style_code=style, start=start, end=end, depth=0.3, planned_at=planned_at)
            )
        session.commit()


def _daily(ctx: ToolContext, style: str) -> tuple[np.ndarray, ForecastOutput]:
    out = forecast_demand(
        ctx, ForecastInput(style=style, level="style", horizon_days=HORIZON, quantiles=[0.5])
    )
    days = np.zeros(HORIZON)
    for row in out.series:
        days += [p.mean for p in row.points]
    return days, out


def test_a_planned_promo_raises_the_forecast_of_its_style_on_its_days(ctx: ToolContext) -> None:
    style = _best_selling_style(ctx)
    start = ctx.today + dt.timedelta(days=PROMO_DAYS.start)
    _plan(ctx.engine, style, start, None)
    regular, plain = _daily(ctx, style)
    _plan(ctx.engine, style, start, ctx.now - dt.timedelta(days=14))
    promo, out = _daily(ctx, style)

    lift = promo[PROMO_DAYS].sum() / regular[PROMO_DAYS].sum()
    assert lift > 1.15, f"a 30 % promo lifted the forecast ×{lift:.3f} only"
    others = np.r_[0 : PROMO_DAYS.start, PROMO_DAYS.stop : HORIZON]
    np.testing.assert_allclose(promo[others], regular[others], rtol=1e-6)
    assert plain.promos == []
    assert [(p.style, p.start, p.end, p.depth) for p in out.promos] == [
        (style, start, start + dt.timedelta(days=2), 0.3)
    ]


def test_a_promo_planned_after_the_clock_is_not_seen(ctx: ToolContext) -> None:
    style = _best_selling_style(ctx)
    start = ctx.today + dt.timedelta(days=PROMO_DAYS.start)
    _plan(ctx.engine, style, start, None)
    regular, _ = _daily(ctx, style)
    _plan(ctx.engine, style, start, ctx.now + dt.timedelta(hours=1))
    later, out = _daily(ctx, style)
    np.testing.assert_array_equal(later, regular)
    assert out.promos == []


def test_the_demo_world_plans_its_promos_ahead_and_the_forecast_reads_them(
    ctx: ToolContext,
) -> None:
    """The world's promo calendar is stored as plans made before each promo starts, so a
    promo of the horizon is known at the clock; its days are forecast above the regular days."""
    with Session(ctx.engine) as session:
        plans = session.execute(select(PromoPlan)).scalars().all()
    assert plans, "the demo world stores its promo calendar as plans"
    assert all(p.planned_at.date() < p.start for p in plans)
    ahead = [p for p in plans if p.start >= ctx.today]
    assert ahead, "the world's future has planned promos"


def _panel(promo: list[bool], price: list[float]) -> Panel:
    dates = pd.date_range("2015-06-01", periods=len(promo), freq="D")
    n = len(promo)
    return Panel(
        series=pd.DataFrame(
            {"category": ["umbrellas"], "city": ["Shanghai"], "rain_sensitive": [True]},
            index=pd.Index(["S1|U1"], name="series_id"),
        ),
        dates=dates,
        units=np.full((1, n), np.nan, dtype=np.float32),
        stockout=np.zeros((1, n), dtype=bool),
        promo=np.array([promo]),
        price_ratio=np.array([price], dtype=np.float32),
        cities=("Shanghai",),
        precipitation_mm=np.zeros((1, n), dtype=np.float32),
        temp_mean_c=np.full((1, n), 20.0, dtype=np.float32),
        city_index=np.array([0]),
    )


def test_a_planned_day_takes_the_flag_and_the_discounted_regular_price() -> None:
    """An outlet's regular price (0.7 of full) 30 % off is 0.49; a day already on promo keeps
    its own price; days without a plan are unchanged."""
    panel = _panel([False, True, False, False], [0.7, 0.56, 0.7, 0.7])
    planned = with_planned_promos(panel, np.array([[0.0, 0.3, 0.3, 0.0]]))
    assert planned.promo.tolist() == [[False, True, True, False]]
    np.testing.assert_allclose(planned.price_ratio, [[0.7, 0.56, 0.49, 0.7]], rtol=1e-6)
    assert with_planned_promos(panel, np.zeros((1, 4))) is panel
