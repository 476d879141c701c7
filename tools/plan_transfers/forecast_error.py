"""The forecast's own error at the clock: a backtest of the pool's stored forecaster on the last
windows of the plan's length before the clock.

The stored forecaster's weights are fitted on the history before its calibration window (the
last ``max_horizon`` days before the fit's clock, ``forecasting.model.fit_calibrated``), so its
forecasts from origins inside that window are out of sample. Each origin forecasts the plan's
window length ahead with the weather that fell then (observed, before the clock) as a perfect
alert would give it: what is measured is the level the model puts on a group, not the weather's
error, which the alert's hit rate prices. Only sales before the clock are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tools.forecast_demand.tool import PreparedForecast

#: Days before the clock the backtest forecasts (the stored forecaster's out-of-sample window).
BACKTEST_DAYS = 28


@dataclass(frozen=True)
class Backtest:
    """Per series of the prepared forecast (its ``series`` rows, in order): the forecast and the
    demand of each past window, over the days whose demand the sales tell."""

    series: pd.DataFrame
    forecast: np.ndarray  # (series, windows)
    actual: np.ndarray  # (series, windows)


def backtest(prepared: PreparedForecast, window_days: int) -> Backtest | None:
    """Forecast each of the last windows of ``window_days`` before the clock from its own origin
    with the stored model, against the demand then. None without a stored (fitted) model: the
    stand-in baseline is fitted on the request's own history, so it has no out-of-sample days."""
    from forecasting.features import HISTORY_DAYS, FeatureBuilder
    from tools.forecast_demand.pool_panel import load_panel
    from tools.forecast_demand.tool import BASELINE_MODEL

    meta, fitted = prepared.artefact.meta, prepared.artefact.fitted
    if (meta.model == BASELINE_MODEL and meta.version == "baseline") or (
        fitted.data_end >= prepared.ctx.today
    ):
        return None
    ctx = prepared.ctx
    span = BACKTEST_DAYS - BACKTEST_DAYS % window_days
    with ctx.read() as session:
        panel = load_panel(
            session,
            prepared.series,
            level=prepared.request.level,
            today=ctx.today,
            history_days=HISTORY_DAYS + span,
            horizon=1,
        )
    origins = list(range(HISTORY_DAYS, HISTORY_DAYS + span, window_days))
    forecasts, actuals = [], []
    for origin in origins:
        mean = fitted.forecast(panel, origin, window_days).mean
        demand, usable = FeatureBuilder.demand_targets(panel, origin, window_days)
        demand = demand.reshape(mean.shape)
        usable = usable.reshape(mean.shape)
        forecasts.append(np.where(usable, mean, 0.0).sum(axis=1))
        actuals.append(np.where(usable, np.nan_to_num(demand), 0.0).sum(axis=1))
    return Backtest(prepared.series, np.stack(forecasts, axis=1), np.stack(actuals, axis=1))


#: Pseudo-units of the prior that the level is right (ratio 1): a group that sold 20 units in
#: the backtest against a forecast of 10 is corrected by (20 + 10) / (10 + 10) = 1.5, not 2.
LEVEL_PRIOR_UNITS = 10.0
#: Bounds of the correction: the backtest covers 28 days, the window at most as many.
LEVEL_BOUNDS = (0.5, 2.0)
GROUP = ("city", "channel", "category")


def level_factors(result: Backtest, prior_units: float = LEVEL_PRIOR_UNITS) -> np.ndarray:
    """Per series: its group's (city × channel × category, the groups the plan sets its level
    on) backtested demand ÷ forecast, shrunk to 1 by ``prior_units``."""
    frame = result.series.loc[:, list(GROUP)].copy()
    frame["forecast"] = result.forecast.sum(axis=1)
    frame["actual"] = result.actual.sum(axis=1)
    sums = frame.groupby(list(GROUP))[["forecast", "actual"]].transform("sum")
    ratio = (sums["actual"] + prior_units) / (sums["forecast"] + prior_units)
    return ratio.clip(*LEVEL_BOUNDS).to_numpy(dtype=float)
