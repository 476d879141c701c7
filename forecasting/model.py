"""A mean model plus its calibrated quantiles: what gets fitted, persisted and asked to forecast."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from forecasting.features import FeatureBuilder
from forecasting.metrics import point_metrics, quantile_metrics, series_scales
from forecasting.panel import Panel
from forecasting.quantiles import QuantileCalibrator, validate_levels

DEFAULT_LEVELS = (0.1, 0.5, 0.9)
CALIBRATION_SERIES = 30_000
#: Days a calibrated fit keeps before its calibration window at the least, whatever the model.
MIN_FIT_DAYS = 8


class MeanForecaster(Protocol):
    """Any model that learns from the panel before a column and forecasts mean daily units."""

    name: str

    @property
    def max_horizon(self) -> int: ...

    def fit(self, panel: Panel, end: int) -> object: ...

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray: ...


@dataclass
class ProbabilisticForecast:
    """Daily means and quantiles per series, plus quantiles of each series' horizon total."""

    series_ids: list[str]
    dates: pd.DatetimeIndex
    mean: np.ndarray  # (series, horizon)
    quantiles: dict[float, np.ndarray]  # level → (series, horizon)
    total_mean: np.ndarray  # (series,)
    total_quantiles: dict[float, np.ndarray]  # level → (series,)
    #: For a model with an explicit weather layer: mean = baseline × rain_uplift, (series, h).
    baseline: np.ndarray | None = None
    rain_uplift: np.ndarray | None = None


@dataclass
class FittedForecaster:
    """A mean model with the calibrator learnt on its own out-of-sample window."""

    model: MeanForecaster
    calibrator: QuantileCalibrator
    data_start: dt.date
    data_end: dt.date  # last day of history the model or its calibration saw
    calibration_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def max_horizon(self) -> int:
        return self.model.max_horizon

    def forecast(
        self,
        panel: Panel,
        origin: int,
        horizon: int,
        levels: list[float] | tuple[float, ...] = DEFAULT_LEVELS,
        *,
        unknown_days: int = 0,
    ) -> ProbabilisticForecast:
        """The ``horizon`` days from column ``origin``.

        ``unknown_days``: the history's last days before ``origin`` whose sales are not known yet
        (a feed not imported). The model then forecasts from the last known day, over those days
        and the horizon, and answers the horizon: what a forecast made that day would say, read
        by features that never take the unknown days as sales (as zeros they pulled the level
        down; as gaps they read like stock-outs). As many of them as the model's longest horizon
        allows are bridged."""
        if not 1 <= horizon <= self.max_horizon:
            raise ValueError(f"horizon {horizon} must be between 1 and {self.max_horizon} days")
        levels = validate_levels(list(levels))
        skip = max(0, min(unknown_days, self.max_horizon - horizon, origin - 1))
        start, days = origin - skip, horizon + skip
        baseline = uplift = None
        parts = getattr(self.model, "predict_parts", None)
        if parts is not None:
            baseline, uplift = parts(panel, start, days)
            baseline, uplift = baseline[:, skip:], uplift[:, skip:]
            mean = baseline * uplift
        else:
            mean = np.maximum(self.model.predict_mean(panel, start, days), 0.0)[:, skip:]
        total_mean = mean.sum(axis=1)
        return ProbabilisticForecast(
            series_ids=[str(s) for s in panel.series.index],
            dates=panel.dates[origin : origin + horizon],
            mean=mean,
            quantiles=self.calibrator.daily(mean, levels),
            total_mean=total_mean,
            total_quantiles=self.calibrator.total(total_mean, levels, horizon),
            baseline=baseline,
            rain_uplift=uplift,
        )


def required_history_days(model: MeanForecaster, calibration_days: int | None = None) -> int:
    """Days of history ``fit_calibrated`` needs for ``model``: what the model itself needs before
    its calibration window (its ``min_fit_days``, when it says), plus that window.

    One number for the fit and for anyone who wants to refuse a fit up front (the fit job's API
    and CLI) instead of starting one that is bound to fail."""
    window = calibration_days or model.max_horizon
    return max(MIN_FIT_DAYS, int(getattr(model, "min_fit_days", 0))) + window


def fit_calibrated(
    model: MeanForecaster,
    panel: Panel,
    end: int,
    *,
    calibration_days: int | None = None,
    calibration_series: int = CALIBRATION_SERIES,
    seed: int = 0,
) -> FittedForecaster:
    """Fit on the history before ``end − calibration_days``, forecast the window up to ``end``,
    and learn the quantile spread from that out-of-sample window.

    The weights are not refitted on the calibration window: a forecast from ``end`` still reads
    the latest days through its features, and the quantiles stay honest. A random sample of
    ``calibration_series`` series is enough to learn a spread (and a third of the cost at scale).

    A model with direct statistics of the history that no feature reads (the rain uplift per
    band, ``refresh``) re-reads them up to ``end`` once calibrated: wet days are rare, and the
    calibration window is the newest 28 days — in a short history the start of the wet season,
    which held 4 of the 5 days ≥ 10 mm before rain-beijing-rainstorm's clock.
    """
    window = calibration_days or model.max_horizon
    cal_origin = end - window
    needed = required_history_days(model, calibration_days)
    if end < needed:
        raise ValueError(
            f"history of {end} days is too short: need at least {needed} to fit and calibrate"
        )
    model.fit(panel, cal_origin)
    full = panel
    if panel.n_series > calibration_series:
        rows = np.random.default_rng(seed).choice(panel.n_series, calibration_series, replace=False)
        panel = panel.take(np.sort(rows))
    mean = np.maximum(model.predict_mean(panel, cal_origin, window), 0.0)
    # Calibrated on demand (sell-out days count, forecasting.panel.observed_demand), as the
    # mean learnt it: in-stock days alone are the low-demand days, and would pull P50/P90 down.
    actual, usable = FeatureBuilder.demand_targets(panel, cal_origin, window)
    actual = actual.reshape(mean.shape)
    usable = usable.reshape(mean.shape)
    calibrator = QuantileCalibrator.fit(mean, np.nan_to_num(actual), usable)
    history = np.where(panel.stockout[:, :cal_origin], np.nan, panel.units[:, :cal_origin])
    mase_scale, rmsse_scale = series_scales(history[:, -365:])
    metrics = point_metrics(mean, np.nan_to_num(actual), usable, mase_scale, rmsse_scale)
    metrics.update(
        quantile_metrics(
            calibrator.daily(mean, list(DEFAULT_LEVELS)), np.nan_to_num(actual), usable
        )
    )
    refresh = getattr(model, "refresh", None)
    if refresh is not None:
        refresh(full, end)
    return FittedForecaster(
        model=model,
        calibrator=calibrator,
        data_start=full.dates[0].date(),
        data_end=full.dates[end - 1].date(),
        calibration_metrics=metrics,
    )
