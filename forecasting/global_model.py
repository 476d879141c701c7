"""The production model: one gradient-boosting regressor pooled across every series (M5-style).

Reduction to regression, direct over the horizon: rows are (series, origin, days ahead), the
target is units ÷ the series' recent level, fitted with a Poisson loss weighted by that level —
the same as a Poisson GLM with a log-level offset, so small and large series share one model.
Pooling is also our answer to sparse sizes: a thin size series borrows the shape learnt from all
others through the ratio features, instead of being split from its style by a fixed size curve.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from forecasting.features import HISTORY_DAYS, FeatureBuilder
from forecasting.panel import Panel

_PARALLEL_PREDICT_ROWS = 200_000
#: Bins per feature, as ``HistGradientBoostingRegressor`` uses by default (255 values + missing).
_MAX_BINS = 255
#: Rows above which the regressor draws a subsample to place its bins (its ``_BinMapper``).
_BIN_SUBSAMPLE_ROWS = 200_000
#: The largest edge the regressor keeps (sklearn clips +inf edges to it).
_ALMOST_INF = 1e300
#: History a training origin needs before it at the least (its level and weekday features).
_MIN_ORIGIN_DAYS = 7


class GlobalModelConfig(BaseModel):
    """Training knobs; defaults are sized for 100,000 series within a minute on 2 cores."""

    max_horizon: int = Field(default=28, ge=1, le=28)
    origins: int = Field(default=4, ge=1, description="Training origins, one week apart.")
    origin_step_days: int = Field(default=7, ge=1)
    max_train_rows: int = Field(default=400_000, ge=1_000)
    max_iter: int = Field(default=100, ge=10)
    learning_rate: float = Field(default=0.12, gt=0, le=1)
    max_leaf_nodes: int = Field(default=31, ge=2)
    min_samples_leaf: int = Field(default=50, ge=1)
    use_weather: bool = True
    use_temperature: bool = Field(
        default=False, description="Without weather: keep the temperature (season) feature."
    )
    seed: int = 0
    fit_threads: int | None = Field(
        default=None,
        ge=1,
        description="OpenMP threads to fit (None: all cores). On an oversubscribed machine 1 "
        "is faster: OpenMP threads spin while they wait for a core.",
    )


class GlobalBoostingForecaster:
    """Pooled direct forecaster over a :class:`Panel`; see the module docstring."""

    def __init__(self, config: GlobalModelConfig | None = None) -> None:
        self.config = config or GlobalModelConfig()
        self.features: FeatureBuilder | None = None
        self.regressor: HistGradientBoostingRegressor | None = None
        self.trained_origins: list[int] = []
        #: Per feature: the bin edges its values are replaced by bin numbers with, or None.
        self.bin_edges: list[np.ndarray | None] | None = None

    @property
    def name(self) -> str:
        if self.config.use_weather:
            return "global_gbm"
        return "global_gbm_no_rain" if self.config.use_temperature else "global_gbm_no_weather"

    @property
    def max_horizon(self) -> int:
        return self.config.max_horizon

    @property
    def min_fit_days(self) -> int:
        """Days of history ``fit`` needs: one training origin with a week of history before it
        and its whole ``max_horizon`` target window after it (``training_origins``)."""
        return self.config.max_horizon + _MIN_ORIGIN_DAYS

    def training_origins(self, end: int) -> list[int]:
        """Origins whose whole target window lies before column ``end``, latest first."""
        cfg = self.config
        latest = end - cfg.max_horizon
        origins = [latest - k * cfg.origin_step_days for k in range(cfg.origins)]
        usable = [o for o in origins if o >= min(HISTORY_DAYS, 28)]
        if not usable:
            # Short histories (e.g. one real series) still train on what there is.
            usable = [o for o in origins if o >= _MIN_ORIGIN_DAYS]
        if not usable:
            raise ValueError(
                f"not enough history to train: {end} days before the cut-off, need at least "
                f"{self.min_fit_days}"
            )
        return usable

    def fit(self, panel: Panel, end: int) -> GlobalBoostingForecaster:
        """Learn from the history before column ``end`` (targets never reach ``end``)."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        categories = tuple(sorted(panel.series["category"].astype(str).unique()))
        self.features = FeatureBuilder(
            categories=categories,
            use_weather=cfg.use_weather,
            use_temperature=cfg.use_temperature,
        )
        origins = self.training_origins(end)
        rows_per_origin = max(1, cfg.max_train_rows // len(origins))
        series_per_origin = max(1, rows_per_origin // cfg.max_horizon)
        blocks_x, blocks_y, blocks_w = [], [], []
        for origin in origins:
            rows = _sample_rows(panel.n_series, series_per_origin, rng)
            part = panel.take(rows) if len(rows) < panel.n_series else panel
            x, scale = self.features.build(part, origin, cfg.max_horizon)
            y, usable = FeatureBuilder.demand_targets(part, origin, cfg.max_horizon)
            weight = np.repeat(scale, cfg.max_horizon)
            blocks_x.append(x[usable])
            blocks_y.append(y[usable] / weight[usable])
            blocks_w.append(weight[usable])
        x_train = np.concatenate(blocks_x)
        if len(x_train) == 0:
            raise ValueError("no uncensored demand to learn from before the cut-off")
        weights = np.concatenate(blocks_w)
        self.bin_edges = None
        if len(x_train) <= _BIN_SUBSAMPLE_ROWS:
            self.bin_edges = weighted_bin_edges(x_train, weights, self.features.categorical_mask)
            x_train = apply_bin_edges(x_train, self.bin_edges)
        self.regressor = HistGradientBoostingRegressor(
            loss="poisson",
            learning_rate=cfg.learning_rate,
            max_iter=cfg.max_iter,
            max_leaf_nodes=cfg.max_leaf_nodes,
            min_samples_leaf=cfg.min_samples_leaf,
            categorical_features=self.features.categorical_mask,
            early_stopping=False,
            random_state=cfg.seed,
        )
        with threadpool_limits(limits=cfg.fit_threads, user_api="openmp"):
            self.regressor.fit(x_train, np.concatenate(blocks_y), sample_weight=weights)
        self.trained_origins = origins
        return self

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        """Mean daily units, (series, horizon), from the history before ``origin``."""
        if self.regressor is None or self.features is None:
            raise RuntimeError("fit the global model before predicting")
        if horizon > self.config.max_horizon:
            raise ValueError(
                f"horizon {horizon} exceeds the {self.config.max_horizon} days this model learnt"
            )
        x, scale = self.features.build(panel, origin, horizon)
        # A model stored before bin edges were kept has none: its regressor bins raw values.
        edges = getattr(self, "bin_edges", None)
        if edges is not None:
            x = apply_bin_edges(x, edges)
        # Small batches (the alert path) lose more to thread start-up than they gain.
        threads = 1 if len(x) < _PARALLEL_PREDICT_ROWS else None
        with threadpool_limits(limits=threads, user_api="openmp"):
            ratio = self.regressor.predict(x).reshape(panel.n_series, horizon)
        return (ratio * scale[:, None]).astype(np.float32)


def _sample_rows(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def weighted_bin_edges(
    x: np.ndarray, weight: np.ndarray, categorical: list[bool], max_bins: int = _MAX_BINS
) -> list[np.ndarray | None]:
    """The bin edges the regressor would place on each feature with more distinct values than
    bins: weighted quantiles (``averaged_inverted_cdf``, as sklearn's ``_BinMapper`` computes
    them for a fit with sample weights), found from one sort of the column.

    Why: sklearn sorts the whole column again for each of its 254 quantiles when the fit is
    weighted, which was two thirds of a fit's time on a small pool. Given these edges, a
    feature's values are replaced by their bin numbers (``apply_bin_edges``) and the regressor
    bins those one to one, so it sees the same bins, grows the same trees and predicts the same
    (a new value in a bin no training row fell in may land on the other side of a split placed
    in that gap, which no data stood behind either way).
    Features with few distinct values (and categories) are left to the regressor (None)."""
    ranks = np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100
    edges: list[np.ndarray | None] = []
    for column, is_category in enumerate(categorical):
        values = x[:, column].astype(np.float64)
        keep = ~np.isnan(values) & (weight != 0)
        values, w = values[keep], weight[keep].astype(np.float64)
        if is_category or len(np.unique(values)) <= max_bins:
            edges.append(None)
            continue
        order = np.argsort(values, kind="stable")
        values, w = values[order], w[order]
        cdf = np.cumsum(w)
        target = ranks * cdf[-1]
        last = len(values) - 1
        at = np.clip(np.searchsorted(cdf, target), 0, last)
        # On a point exactly: the mean of it and the next value, as sklearn's average=True.
        exact = (cdf[at] - target) <= np.finfo(np.float64).eps
        above = np.clip(np.searchsorted(cdf, cdf[at], side="right"), 0, last)
        chosen = np.where(exact, (values[at] + values[above]) / 2, values[at])
        found = np.unique(chosen)
        edges.append(np.minimum(found, _ALMOST_INF))
    return edges


def apply_bin_edges(x: np.ndarray, edges: list[np.ndarray | None]) -> np.ndarray:
    """``x`` with each binned feature's values replaced by their bin number (value ≤ edge i:
    bin i, as the regressor maps them); missing values stay missing."""
    out = x.astype(np.float64, copy=True)
    for column, column_edges in enumerate(edges):
        if column_edges is None:
            continue
        values = out[:, column]
        missing = np.isnan(values)
        values[~missing] = np.searchsorted(column_edges, values[~missing], side="left")
    return out
