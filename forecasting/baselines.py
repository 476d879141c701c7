"""Vectorised baselines every model must beat: seasonal naive and a weekday-profile average.

They run in microseconds per series, so they double as the speed floor of the benchmark.
Censored (stock-out) days are skipped, as everywhere.
"""

from __future__ import annotations

import warnings

import numpy as np

from forecasting.features import weekday_stats
from forecasting.panel import Panel

_PROFILE_WEEKS = 8


def _clean_history(panel: Panel, origin: int, days: int) -> np.ndarray:
    lo = max(0, origin - days)
    return np.where(panel.stockout[:, lo:origin], np.nan, panel.units[:, lo:origin])


class SeasonalNaive:
    """Each day repeats the latest uncensored value of the same weekday (0 with no history)."""

    name = "seasonal_naive"
    max_horizon = 28

    def fit(self, panel: Panel, end: int) -> SeasonalNaive:
        return self

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        clean = _clean_history(panel, origin, 7 * _PROFILE_WEEKS)
        weekday_mean, last_same = weekday_stats(clean, clean.shape[1], horizon)
        filled = np.where(np.isnan(last_same), weekday_mean, last_same)
        return np.nan_to_num(filled, nan=0.0).astype(np.float32)


class WeekdayProfile:
    """The last 28 days' level shaped by the last 8 weeks' weekday profile."""

    name = "weekday_profile"
    max_horizon = 28

    def fit(self, panel: Panel, end: int) -> WeekdayProfile:
        return self

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        clean = _clean_history(panel, origin, 7 * _PROFILE_WEEKS)
        weekday_mean, _ = weekday_stats(clean, clean.shape[1], horizon)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # all-censored series
            level28 = np.nanmean(clean[:, -28:], axis=1, keepdims=True)
            level56 = np.nanmean(clean, axis=1, keepdims=True)
        shape = np.where(level56 > 0, weekday_mean / np.where(level56 > 0, level56, 1.0), 1.0)
        mean = np.nan_to_num(level28, nan=0.0) * np.nan_to_num(shape, nan=1.0)
        return mean.astype(np.float32)
