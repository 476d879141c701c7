"""The rain layer on the small demo world: the uplift it estimates from the pool's own sales
against the multipliers the world was generated with (read from its recorded parameters)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from forecasting.rain import estimate_uplift
from tools.context import ToolContext
from tools.forecast_demand.fitting import FIT_HISTORY_DAYS, pool_panel
from tools.forecast_demand.rain_check import world_truth


def test_store_uplift_recovers_the_worlds_multipliers(world_engine: Engine) -> None:
    today = ToolContext.for_world(world_engine).today
    panel = pool_panel(world_engine, today, "sku", FIT_HISTORY_DAYS)
    assert panel.n_days == 150  # history clipped to the first recorded sale, no invented zeros
    assert set(panel.series["channel"]) == {"store", "online"}
    uplift = estimate_uplift(panel)
    truth = world_truth(world_engine)
    assert truth is not None and truth[("store", "rain")][4] == 4.0
    group = uplift.group.set_index(["rain_sensitive", "channel", "band"])
    # 150 days hold 17 store city-days of 暴雨: bands up to 大雨 are checked at ±25 %.
    for band in (1, 2, 3):
        rain, other = group.loc[(True, "store", band)], group.loc[(False, "store", band)]
        assert rain["uplift"] == pytest.approx(truth[("store", "rain")][band], rel=0.25)
        assert other["uplift"] == pytest.approx(truth[("store", "other")][band], rel=0.25)
        assert rain["days"] > 0 and other["days"] > 0
    assert group.loc[(True, "store", 4), "uplift"] > group.loc[(True, "store", 2), "uplift"]


def test_a_real_pool_has_no_truth(sqlite_engine: Engine) -> None:
    assert world_truth(sqlite_engine) is None


def test_model_selection_keeps_the_rain_layer() -> None:
    """A plain GBM may score a hair better on per-series RMSSE (it under-forecasts sparse wet
    days, which that metric rewards) but cannot show baseline × uplift: it is a reference."""
    from forecasting.backtest import BacktestConfig, BacktestReport, SegmentResult
    from tools.forecast_demand.fitting import _best_rain_model

    def row(model: str, rmsse: float) -> SegmentResult:
        return SegmentResult(model=model, segment="all", metrics={"rmsse": rmsse})

    report = BacktestReport(
        config=BacktestConfig(),
        origins=["2015-06-01"],
        series=10,
        results=[
            row("global_gbm", 0.49),
            row("rain_uplift", 0.50),
            row("rain_uplift[weekday_profile]", 0.55),
        ],
        best_model="global_gbm",
    )
    assert _best_rain_model(report) == "rain_uplift"
    plain = report.model_copy(update={"results": [row("global_gbm", 0.49)]})
    assert _best_rain_model(plain) == "global_gbm"
