from __future__ import annotations

import numpy as np

from forecasting.backtest import ALL, WET_RAIN, BacktestConfig, run_backtest
from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.panel import Panel


def test_backtest_reports_models_categories_and_wet_days(
    panel: Panel, fast_config: GlobalModelConfig
) -> None:
    small = panel.take(np.arange(400))
    report = run_backtest(
        small,
        {
            "global_gbm": lambda: GlobalBoostingForecaster(fast_config),
            "weekday_profile": WeekdayProfile,
            "seasonal_naive": SeasonalNaive,
        },
        BacktestConfig(horizon=14, folds=2),
    )
    assert len(report.origins) == 2 and report.origins[0] < report.origins[1]
    segments = {row.segment for row in report.results}
    assert {ALL, WET_RAIN} <= segments
    assert any(s.startswith("category=rain_boots") for s in segments)
    for name in ("rmsse", "mase", "bias", "pinball", "coverage", "calibration_gap"):
        assert np.isfinite(report.metric("global_gbm", ALL, name)), name
    assert report.best_model == min(
        ("global_gbm", "weekday_profile", "seasonal_naive"),
        key=lambda m: report.metric(m, ALL, "rmsse"),
    )
    assert report.best_model != "seasonal_naive"
