"""A doubtful alert's plan values its moves in two cases: the warned rain falls (p), or the alert
misses (1 − p). The miss is the weather in which the alert would not have verified
(``hit_rate.verifies``): the alert's days in the bands below the verifying one, in the
proportions the city's climatology gives them — never the warned rain itself, which every-day
climatology would put back into the case where it did not fall."""

from __future__ import annotations

import numpy as np
import pytest

from inventory.vocabulary import RainBand, rain_band
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.plan_transfers import pool as plan_pool
from tools.plan_transfers.hit_rate import miss_bands, verifies
from tools.plan_transfers.models import PlanTransfersInput

RAIN_CATEGORIES = ["rain_boots", "rain_jackets", "shoe_covers", "umbrellas", "waterproof_shoes"]


@pytest.fixture
def ctx(fitted_ctx: ToolContext) -> ToolContext:
    return fitted_ctx


def _alert_plan(ctx: ToolContext, mm: float = 60.0) -> PlanTransfersInput:
    rain = RainScenario(city="Shanghai", start=ctx.today, days=1, precipitation_mm_per_day=mm)
    return PlanTransfersInput(
        city="Shanghai",
        categories=RAIN_CATEGORIES,
        window_days=2,
        rain=[rain],
        rain_hit_rate=0.5,
        level_backtest=False,
    )


@pytest.mark.parametrize("warned", [RainBand.HEAVY, RainBand.RAINSTORM])
def test_the_miss_bands_are_exactly_those_in_which_the_alert_does_not_verify(
    warned: RainBand,
) -> None:
    for band in RainBand:
        assert (band in miss_bands(warned)) == (not verifies(warned, [band])), band


def test_the_dry_case_states_the_alerts_days_and_never_in_a_verifying_band(
    ctx: ToolContext,
) -> None:
    """Every forecast the dry case asks sets the alert's day to a band the alert misses in; the
    weights are a distribution."""
    request = _alert_plan(ctx)
    asked: list[ForecastInput] = []

    def recording(c: ToolContext, made: ForecastInput) -> ForecastOutput:
        asked.append(made)
        return plan_pool.default_forecast_provider(c, made)

    problem, _ = plan_pool.build_problem(ctx, request, recording)
    assert problem.mixed
    dry_asks = [a for a in asked if a.rain != request.rain]
    assert dry_asks, "the dry case needs forecasts of its own"
    for made in dry_asks:
        alert_days = [r for r in made.rain if r.city == "Shanghai" and r.start == ctx.today]
        assert alert_days, f"the dry case left the alert's day to climatology: {made.rain}"
        for r in alert_days:
            assert not verifies(RainBand.RAINSTORM, [rain_band(r.precipitation_mm_per_day)])
    weathers = plan_pool.dry_weathers(ctx, request)
    assert sum(w for w, _ in weathers) == pytest.approx(1.0)
    assert all(w > 0 for w, _ in weathers)


def test_the_dry_case_is_drier_than_climatology_and_the_rain_case_is_untouched(
    ctx: ToolContext,
) -> None:
    """Taking the warned rain out of the miss lowers the dry case's rain-gear demand below the
    every-day climatology's (which keeps the alert's own bands), and no lower than a dry day's;
    the case where the rain falls is the same under every rule."""
    request = _alert_plan(ctx)
    provider = plan_pool.default_forecast_provider
    miss, _ = plan_pool.build_problem(ctx, request, provider)
    climate, _ = plan_pool.build_problem(ctx, request, provider, dry_weather="climatology")
    dry, _ = plan_pool.build_problem(ctx, request, provider, dry_weather="dry")
    assert miss.dry_mean is not None and climate.dry_mean is not None
    assert dry.dry_mean is not None
    np.testing.assert_array_equal(miss.demand_mean, climate.demand_mean)
    weathers = plan_pool.dry_weathers(ctx, request)
    assert len(weathers) > 1, "the small world's climatology should rain on some of these days"
    assert miss.dry_mean.sum() < climate.dry_mean.sum()
    assert dry.dry_mean.sum() <= miss.dry_mean.sum()
