"""An alert's plan forecasts with the warned rain and without it from one read of the pool
(``PreparedForecast``): each answer, and the plan, are the same as when every forecast reads
the pool afresh — on SQLite and PostgreSQL, with the fitted forecaster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from inventory.config import Settings
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.forecast_demand.pool_panel import load_panel, with_rain
from tools.forecast_demand.tool import forecast_demand, prepare_forecast
from tools.plan_transfers import pool as plan_pool
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers

RAIN_CATEGORIES = ["rain_boots", "rain_jackets", "shoe_covers", "umbrellas", "waterproof_shoes"]


@pytest.fixture
def ctx(any_world_engine: Engine, fitted_data_dir: Path) -> ToolContext:
    url = any_world_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, data_dir=fitted_data_dir, clock="world")
    return ToolContext.for_world(any_world_engine, settings)


def _alert_plan(ctx: ToolContext) -> PlanTransfersInput:
    rain = RainScenario(city="Shanghai", start=ctx.today, days=1, precipitation_mm_per_day=60.0)
    return PlanTransfersInput(
        city="Shanghai",
        categories=RAIN_CATEGORIES,
        window_days=3,
        rain=[rain],
        rain_hit_rate=0.5,  # valued over rain and dry: the plan needs both forecasts
    )


def test_a_panel_given_its_rain_afterwards_is_the_panel_loaded_with_it(ctx: ToolContext) -> None:
    made = plan_pool.plan_forecast_input(ctx, _alert_plan(ctx))
    prepared = prepare_forecast(ctx, made)
    with ctx.read() as session:
        loaded = load_panel(
            session,
            prepared.series,
            level="sku",
            today=ctx.today,
            history_days=prepared.panel.n_days - made.horizon_days,
            horizon=made.horizon_days,
            rain=made.rain,
        )
        given = with_rain(session, prepared.panel, made.rain, ctx.today)
    assert loaded.band_probability is not None and given.band_probability is not None
    assert not np.array_equal(given.precipitation_mm, prepared.panel.precipitation_mm)
    for name in ("precipitation_mm", "temp_mean_c", "band_probability", "units", "stockout"):
        np.testing.assert_array_equal(getattr(given, name), getattr(loaded, name), err_msg=name)
    assert given.cities == loaded.cities and (given.dates == loaded.dates).all()


def test_the_plans_dry_forecast_reuses_the_read_and_the_plan_is_unchanged(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _alert_plan(ctx)
    made = plan_pool.plan_forecast_input(ctx, request)
    prepared = prepare_forecast(ctx, made)
    output = prepared.answer(made.rain)
    dry = made.model_copy(update={"rain": []})
    assert output == forecast_demand(ctx, made)
    assert prepared.answer([]) == forecast_demand(ctx, dry)
    assert prepared.answer([]) != output  # the alert's rain changes the forecast

    fresh = plan_transfers(ctx, request)  # both forecasts read the pool afresh
    asked: list[ForecastInput] = []
    forecast_afresh = plan_pool.default_forecast_provider

    def counted(ctx: ToolContext, req: ForecastInput) -> ForecastOutput:
        asked.append(req)
        return forecast_afresh(ctx, req)

    monkeypatch.setattr(plan_pool, "default_forecast_provider", counted)
    shared = plan_transfers(
        ctx, request, forecast_provider=plan_pool.reusing_provider(made, output, prepared)
    )
    assert asked == []  # the dry forecast came from the prepared read
    assert _without_timing(shared.model_dump()) == _without_timing(fresh.model_dump())
    assert any("p = 0.50" in note for note in shared.notes)


def _without_timing(plan: dict) -> dict:
    """The plan less the note of how long its solver took (wall clock, not the plan)."""
    return {**plan, "notes": [n for n in plan["notes"] if not n.startswith("solved in")]}
