"""The rain layer on the small demo world: the uplift it estimates from the pool's own sales
against the multipliers the world was generated with (read from its recorded parameters)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from forecasting.rain import estimate_uplift
from tools.context import ToolContext
from tools.forecast_demand.fitting import FIT_HISTORY_DAYS, pool_panel
from tools.forecast_demand.rain_check import world_truth


def test_store_uplift_recovers_the_worlds_multipliers(any_module_world: Engine) -> None:
    today = ToolContext.for_world(any_module_world).today
    panel = pool_panel(any_module_world, today, "sku", FIT_HISTORY_DAYS)
    assert panel.n_days == 150  # history clipped to the first recorded sale, no invented zeros
    assert set(panel.series["channel"]) == {"store", "online"}
    uplift = estimate_uplift(panel)
    truth = world_truth(any_module_world)
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


def test_pool_rain_check_reports_bands_response_and_wet_ratios(world_engine: Engine) -> None:
    """What benchmarks/decisions.py reads: the numbers are there, finite and labelled."""
    from forecasting.global_model import GlobalModelConfig
    from tools.forecast_demand.rain_check import pool_rain_check

    today = ToolContext.for_world(world_engine).today
    fast = GlobalModelConfig(max_iter=30, max_train_rows=40_000, fit_threads=1)
    out = pool_rain_check(world_engine, today, origins=4, horizon=7, config=fast)
    history, future = out["history"], out["future"]
    assert len(history["origins"]) == 4 and history["response_75mm_vs_dry"] > 1.5
    store_rain = {
        b["band"]: b
        for b in out["bands_at_clock"]
        if b["channel"] == "store" and b["categories"] == "rain"
    }
    assert store_rain["heavy"]["true"] == 3.0 and 0.75 < store_rain["heavy"]["ratio"] < 1.25
    assert history["wet_city_category"] and history["dry_ratio_pooled"] > 0
    assert future is not None and future["realised_from"].startswith("future_demand")
    assert future["window"] == "2015-07-01..2015-07-28"
    assert set(future["heavy_city_days"]) == {"Beijing", "Guangzhou", "Shanghai"}
