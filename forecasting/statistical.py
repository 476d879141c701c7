"""Per-series statistical models through sktime's interface (and statsforecast's fast AutoETS).

These fit one model per series, ~10–150 ms each (DESIGN §10), so they serve as accuracy peers on
samples, not as the network-scale path. sktime's ``backend:parallel`` config spreads the series
loop over joblib/loky (or dask/ray where installed); the global model never needs it.
"""

from __future__ import annotations

import warnings

import numpy as np
from sktime.forecasting.base import BaseForecaster

from forecasting.panel import Panel

#: Per-series models see the last year: enough for a weekly season, bounded cost.
HISTORY_DAYS_PER_SERIES = 365


class SktimePerSeries:
    """Any sktime forecaster, fitted per series on the panel with censored days filled."""

    max_horizon = 28

    def __init__(
        self,
        name: str,
        forecaster: BaseForecaster,
        *,
        backend: str | None = "loky",
        n_jobs: int = -1,
    ) -> None:
        self.name = name
        self.template = forecaster
        self.backend = backend
        self.n_jobs = n_jobs
        self._fitted: BaseForecaster | None = None
        self._fitted_end: int | None = None

    def fit(self, panel: Panel, end: int) -> SktimePerSeries:
        start = max(0, end - HISTORY_DAYS_PER_SERIES)
        y = panel.since(start).to_sktime_y(end - start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)  # sktime 1.3 remember_data
            forecaster = self.template.clone()
        config: dict[str, object] = {"remember_data": False}
        if self.backend is not None:
            config["backend:parallel"] = self.backend
            config["backend:parallel:params"] = {"n_jobs": self.n_jobs}
        forecaster.set_config(**config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forecaster.fit(y, fh=np.arange(1, self.max_horizon + 1))
        self._fitted, self._fitted_end = forecaster, end
        return self

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        if self._fitted is None or self._fitted_end != origin:
            self.fit(panel, origin)
        assert self._fitted is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = self._fitted.predict(fh=np.arange(1, horizon + 1))
        wide = predicted["units"].unstack(level=-1)
        wide = wide.reindex(panel.series.index.astype(str))
        return np.clip(wide.to_numpy(dtype=np.float32), 0.0, None)


def sktime_seasonal_naive() -> SktimePerSeries:
    from sktime.forecasting.naive import NaiveForecaster

    return SktimePerSeries("sktime_seasonal_naive", NaiveForecaster(strategy="last", sp=7))


def sktime_theta() -> SktimePerSeries:
    """Theta with additive deseasonalising: the multiplicative default fails on zero sales."""
    from sktime.forecasting.theta import ThetaForecaster

    return SktimePerSeries("sktime_theta", ThetaForecaster(sp=7, deseasonalize_model="additive"))


def sktime_auto_ets() -> SktimePerSeries:
    from sktime.forecasting.ets import AutoETS

    return SktimePerSeries("sktime_auto_ets", AutoETS(auto=True, sp=7, n_jobs=1))


class StatsforecastAutoETS:
    """statsforecast's AutoETS (weekly season) on all series at once, on every core."""

    name = "autoets"
    max_horizon = 28

    def __init__(self, n_jobs: int = -1, history_days: int = HISTORY_DAYS_PER_SERIES) -> None:
        self.n_jobs = n_jobs
        self.history_days = history_days

    def fit(self, panel: Panel, end: int) -> StatsforecastAutoETS:
        return self

    def predict_mean(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS

        start = max(0, origin - self.history_days)
        frame = panel.since(start).to_sktime_y(origin - start).reset_index()
        frame.columns = ["unique_id", "ds", "y"]
        model = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=self.n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = model.forecast(df=frame, h=horizon)
        predicted = predicted.reset_index() if "unique_id" not in predicted.columns else predicted
        wide = predicted.pivot(index="unique_id", columns="ds", values="AutoETS")
        wide = wide.reindex(panel.series.index.astype(str))
        return np.clip(wide.to_numpy(dtype=np.float32), 0.0, None)
