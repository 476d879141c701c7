"""Expanding-window backtest: per model, per category, and on wet days for rain categories.

Each fold refits the model (and its quantile calibration) on everything before the fold's origin
and scores the next ``horizon`` days, skipping stock-out days. The winner by overall RMSSE is the
model production uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from forecasting.features import FeatureBuilder
from forecasting.metrics import group_day_rmse, point_metrics, quantile_metrics, series_scales
from forecasting.model import MeanForecaster, fit_calibrated, required_history_days
from forecasting.panel import Panel
from inventory.vocabulary import WET_DAY_MM

ALL = "all"
WET_RAIN = "wet_days_rain_categories"
ModelFactory = Callable[[], MeanForecaster]


class BacktestConfig(BaseModel):
    horizon: int = Field(default=14, ge=1, le=28)
    folds: int = Field(default=3, ge=1, le=52)
    step_days: int | None = Field(default=None, ge=1, description="Between origins; =horizon.")
    levels: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    wet_mm: float = Field(default=WET_DAY_MM, ge=0)


class SegmentResult(BaseModel):
    model: str
    segment: str
    metrics: dict[str, float]


class BacktestReport(BaseModel):
    config: BacktestConfig
    origins: list[str] = Field(description="First forecast day of each fold.")
    series: int
    results: list[SegmentResult]
    best_model: str

    def metric(self, model: str, segment: str, name: str) -> float:
        for row in self.results:
            if row.model == model and row.segment == segment:
                return row.metrics.get(name, float("nan"))
        raise KeyError(f"no backtest result for model={model!r} segment={segment!r}")


class _Pooled:
    """Fold results stacked along the series axis."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **arrays: np.ndarray) -> None:
        for key, value in arrays.items():
            self.parts.setdefault(key, []).append(value)

    def get(self, key: str) -> np.ndarray:
        return np.concatenate(self.parts[key])


#: The first fold's origin lies at least this many days after the calibration window's start.
_MIN_FIRST_ORIGIN_DAYS = 35


def backtest_history_days(config: BacktestConfig, models: dict[str, ModelFactory]) -> int:
    """Days of history ``run_backtest`` needs: the first fold's origin leaves every model its
    calibrated fit (``required_history_days``), and the folds after it fit in the history."""
    step = config.step_days or config.horizon
    first = max(
        config.horizon + _MIN_FIRST_ORIGIN_DAYS,
        *(required_history_days(factory(), config.horizon) for factory in models.values()),
    )
    return first + config.horizon + (config.folds - 1) * step


def fold_origins(panel: Panel, config: BacktestConfig, end: int | None = None) -> list[int]:
    end = panel.n_days if end is None else end
    step = config.step_days or config.horizon
    origins = [end - config.horizon - k * step for k in range(config.folds)][::-1]
    if origins[0] < config.horizon + _MIN_FIRST_ORIGIN_DAYS:
        raise ValueError(
            f"history of {end} days is too short for {config.folds} folds of {config.horizon} days"
        )
    return origins


def run_backtest(
    panel: Panel,
    models: dict[str, ModelFactory],
    config: BacktestConfig | None = None,
    *,
    end: int | None = None,
) -> BacktestReport:
    """Score every model over the folds ending at column ``end`` (default: the panel's end)."""
    config = config or BacktestConfig()
    if not models:
        raise ValueError("run_backtest needs at least one model")
    origins = fold_origins(panel, config, end)
    categories = sorted(panel.series["category"].astype(str).unique())
    sensitive = panel.series["rain_sensitive"].to_numpy(bool)
    city_category, city_categories = pd.factorize(
        panel.series["city"].astype(str) + "|" + panel.series["category"].astype(str)
    )
    results: list[SegmentResult] = []
    for name, factory in models.items():
        pooled = _Pooled()
        for fold, origin in enumerate(origins):
            fitted = fit_calibrated(factory(), panel, origin, calibration_days=config.horizon)
            forecast = fitted.forecast(panel, origin, config.horizon, config.levels)
            actual, usable = FeatureBuilder.targets(panel, origin, config.horizon)
            shape = forecast.mean.shape
            history = np.where(panel.stockout[:, :origin], np.nan, panel.units[:, :origin])
            mase_scale, rmsse_scale = series_scales(history[:, -365:])
            rain = panel.series_precipitation()[:, origin : origin + config.horizon]
            pooled.add(
                mean=forecast.mean,
                actual=np.nan_to_num(actual.reshape(shape)),
                usable=usable.reshape(shape),
                wet=(rain >= config.wet_mm) & sensitive[:, None],
                mase_scale=mase_scale,
                rmsse_scale=rmsse_scale,
                category=panel.series["category"].astype(str).to_numpy(),
                # Folds are stacked along the series axis: a group never spans two folds.
                group=fold * len(city_categories) + city_category,
                **{f"q{level}": forecast.quantiles[level] for level in config.levels},
            )
        results.extend(_segments(name, pooled, config, categories))
    overall = {r.model: r.metrics["rmsse"] for r in results if r.segment == ALL}
    best = min(overall, key=lambda m: (np.nan_to_num(overall[m], nan=np.inf), m))
    return BacktestReport(
        config=config,
        origins=[str(panel.dates[o].date()) for o in origins],
        series=panel.n_series,
        results=results,
        best_model=best,
    )


def _segments(
    name: str, pooled: _Pooled, config: BacktestConfig, categories: list[str]
) -> list[SegmentResult]:
    mean, actual, usable = pooled.get("mean"), pooled.get("actual"), pooled.get("usable")
    scales = pooled.get("mase_scale"), pooled.get("rmsse_scale")
    quantiles = {level: pooled.get(f"q{level}") for level in config.levels}
    category = pooled.get("category")
    masks = {ALL: usable, WET_RAIN: usable & pooled.get("wet")}
    for cat in categories:
        masks[f"category={cat}"] = usable & (category == cat)[:, None]
    out = []
    for segment, mask in masks.items():
        if not mask.any():
            continue
        metrics = point_metrics(mean, actual, mask, *scales)
        metrics.update(quantile_metrics(quantiles, actual, mask))
        if segment == WET_RAIN:
            # The same wet cells summed per fold × city × category and day (see group_day_rmse).
            metrics.update(group_day_rmse(mean, actual, mask, pooled.get("group")))
        out.append(SegmentResult(model=name, segment=segment, metrics=metrics))
    return out
