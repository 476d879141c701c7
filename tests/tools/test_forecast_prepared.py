"""An alert's plan forecasts with the warned rain and without it, at the SKU and the style
level, from one read of the pool per level (``PreparedForecast``): each answer, and the plan,
are the same as when every forecast reads the pool afresh — on SQLite and PostgreSQL, with the
fitted forecaster."""

from __future__ import annotations

import numpy as np
import pytest

from tools.context import ToolContext
from tools.forecast_demand import tool as forecast_tool
from tools.forecast_demand.models import ForecastInput, RainScenario
from tools.forecast_demand.pool_panel import load_panel, with_rain
from tools.forecast_demand.tool import PreparedForecast, forecast_demand, prepare_forecast
from tools.plan_transfers import pool as plan_pool
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers

RAIN_CATEGORIES = ["rain_boots", "rain_jackets", "shoe_covers", "umbrellas", "waterproof_shoes"]


@pytest.fixture
def ctx(any_fitted_ctx: ToolContext) -> ToolContext:
    return any_fitted_ctx


def _alert_plan(ctx: ToolContext) -> PlanTransfersInput:
    rain = RainScenario(city="Shanghai", start=ctx.today, days=1, precipitation_mm_per_day=60.0)
    return PlanTransfersInput(
        city="Shanghai",
        categories=RAIN_CATEGORIES,
        window_days=3,
        rain=[rain],
        rain_hit_rate=0.5,  # valued over rain and dry: the plan needs both forecasts
    )


def test_a_panel_given_its_rain_afterwards_changes_only_the_scenarios_days(
    ctx: ToolContext,
) -> None:
    """The alert's city and day take its amount and its band with certainty (60 mm: 暴雨);
    every other day and city keeps the climatology it was loaded with, history untouched."""
    made = plan_pool.plan_forecast_input(ctx, _alert_plan(ctx))
    prepared = prepare_forecast(ctx, made)
    panel = prepared.panel
    with ctx.read() as session:
        given = with_rain(session, panel, made.rain, ctx.today)
        loaded = load_panel(
            session,
            prepared.series,
            level="sku",
            today=ctx.today,
            history_days=panel.n_days - made.horizon_days,
            horizon=made.horizon_days,
            rain=made.rain,
        )
    assert given.band_probability is not None and panel.band_probability is not None
    city, day = panel.cities.index("Shanghai"), panel.index_of(str(ctx.today))
    assert given.precipitation_mm[city, day] == np.float32(60.0)
    assert given.band_probability[city, day].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert panel.band_probability[city, day, 4] < 1.0  # climatology before the alert
    changed = np.ones(given.precipitation_mm.shape, dtype=bool)
    changed[city, day] = False
    np.testing.assert_array_equal(given.precipitation_mm[changed], panel.precipitation_mm[changed])
    np.testing.assert_array_equal(given.band_probability[changed], panel.band_probability[changed])
    for name in ("units", "stockout", "temp_mean_c"):
        assert getattr(given, name) is getattr(panel, name), name
    # load_panel with the rain gives the same panel (one way to apply a scenario).
    for name in ("precipitation_mm", "band_probability", "units", "temp_mean_c"):
        np.testing.assert_array_equal(getattr(given, name), getattr(loaded, name), err_msg=name)


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
    totals = prepared.answer([], totals_only=True)  # what the plan reads of its dry forecast
    full = forecast_demand(ctx, dry)
    assert [s.points for s in totals.series] == [[] for _ in full.series]
    assert [(s.location, s.sku, s.total_mean, s.total_quantiles) for s in totals.series] == [
        (s.location, s.sku, s.total_mean, s.total_quantiles) for s in full.series
    ]

    reads: list[ForecastInput] = []  # every read of the pool a forecast makes
    prepare_afresh = forecast_tool.prepare_forecast

    def counted(ctx: ToolContext, req: ForecastInput) -> PreparedForecast:
        reads.append(req)
        return prepare_afresh(ctx, req)

    monkeypatch.setattr(forecast_tool, "prepare_forecast", counted)
    fresh = plan_transfers(ctx, request)  # every forecast reads the pool afresh

    def rain_of(r: ForecastInput) -> float | None:
        return max((s.precipitation_mm_per_day for s in r.rain), default=None)

    alert_mm = rain_of(made)
    assert [(r.level, rain_of(r)) for r in reads] == [
        ("sku", alert_mm),
        ("style", alert_mm),
        ("sku", None),  # the dry case: the date's climate
        ("style", None),
        ("sku", 0.0),  # the no-rain case a false alarm's loss is bounded on
        ("style", 0.0),
        ("sku", None),  # the level backtest's longer history, once per pool and clock
    ]
    reads.clear()
    shared = plan_transfers(
        ctx, request, forecast_provider=plan_pool.reusing_provider(made, output, prepared)
    )
    # The SKU level's three forecasts came from the prepared read; the style level (what pooled
    # sizes split by) is read once, with the alert's rain, and its dry and no-rain forecasts
    # answered from it.
    assert [(r.level, bool(r.rain)) for r in reads] == [("style", True)]
    assert _without_timing(shared.model_dump()) == _without_timing(fresh.model_dump())
    assert any("p = 0.50" in note for note in shared.notes)


def _without_timing(plan: dict) -> dict:
    """The plan less the note of how long its solver took (wall clock, not the plan)."""
    return {**plan, "notes": [n for n in plan["notes"] if not n.startswith("solved in")]}
