"""The global model against the baselines, with and without weather, on a seeded panel."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.features import FeatureBuilder
from forecasting.global_model import (
    GlobalBoostingForecaster,
    GlobalModelConfig,
    apply_bin_edges,
    weighted_bin_edges,
)
from forecasting.metrics import point_metrics, series_scales
from forecasting.model import fit_calibrated, required_history_days
from forecasting.panel import Panel
from forecasting.rain_model import RainUpliftForecaster

H = 14


@pytest.fixture(scope="module")
def scored(panel: Panel, fast_config: GlobalModelConfig) -> dict[str, dict[str, float]]:
    origin = panel.n_days - H
    actual, usable = FeatureBuilder.targets(panel, origin, H)
    actual, usable = np.nan_to_num(actual.reshape(-1, H)), usable.reshape(-1, H)
    history = np.where(panel.stockout[:, :origin], np.nan, panel.units[:, :origin])
    scales = series_scales(history)
    wet = (panel.series_precipitation()[:, origin:] >= 10) & panel.series[
        "rain_sensitive"
    ].to_numpy()[:, None]
    models = {
        "global": GlobalBoostingForecaster(fast_config),
        "no_weather": GlobalBoostingForecaster(
            fast_config.model_copy(update={"use_weather": False})
        ),
        "seasonal_naive": SeasonalNaive(),
        "weekday_profile": WeekdayProfile(),
    }
    out = {}
    for name, model in models.items():
        forecast = fit_calibrated(model, panel, origin).forecast(panel, origin, H)
        out[name] = point_metrics(forecast.mean, actual, usable, *scales)
        out[name]["wet_rmsse"] = point_metrics(forecast.mean, actual, usable & wet, *scales)[
            "rmsse"
        ]
        out[name]["min_quantile_step"] = float(
            min(
                (forecast.quantiles[0.5] - forecast.quantiles[0.1]).min(),
                (forecast.quantiles[0.9] - forecast.quantiles[0.5]).min(),
            )
        )
    return out


def test_global_model_beats_seasonal_naive_and_weekday_profile(scored) -> None:
    assert scored["global"]["rmsse"] < 0.8 * scored["seasonal_naive"]["rmsse"]
    assert scored["global"]["rmsse"] < scored["weekday_profile"]["rmsse"]


def test_weather_features_cut_wet_day_error_in_rain_categories(scored) -> None:
    assert scored["global"]["wet_rmsse"] < 0.97 * scored["no_weather"]["wet_rmsse"]


def test_forecast_quantiles_are_monotone(scored) -> None:
    assert all(s["min_quantile_step"] >= 0 for s in scored.values())


def test_global_model_refuses_horizons_it_did_not_learn(panel: Panel) -> None:
    model = GlobalBoostingForecaster(GlobalModelConfig(max_horizon=7, max_iter=10, fit_threads=1))
    model.fit(panel.take(np.arange(50)), panel.n_days - 7)
    with pytest.raises(ValueError, match="exceeds the 7 days"):
        model.predict_mean(panel.take(np.arange(50)), panel.n_days - 14, 14)


def test_too_short_history_is_refused(panel: Panel, fast_config: GlobalModelConfig) -> None:
    with pytest.raises(ValueError, match="too short"):
        fit_calibrated(GlobalBoostingForecaster(fast_config), panel, 20)


def test_sktime_adapter_agrees_with_the_vectorised_seasonal_naive(panel: Panel) -> None:
    from sktime.forecasting.naive import NaiveForecaster

    from forecasting.statistical import SktimePerSeries

    few = panel.take(np.arange(6))
    origin = few.n_days - H
    few.stockout[:, origin - 7 : origin] = False  # the last week observed: both use it as is
    with pytest.warns(FutureWarning):  # sktime 1.2 announces the remember_data default change
        template = NaiveForecaster(strategy="last", sp=7)
    sktime_naive = SktimePerSeries("naive", template, backend=None)
    np.testing.assert_allclose(
        sktime_naive.predict_mean(few, origin, H), SeasonalNaive().predict_mean(few, origin, H)
    )


@pytest.mark.parametrize("max_horizon", [14, 28])
def test_the_production_model_fits_on_exactly_the_history_it_says_it_needs(
    panel: Panel, max_horizon: int
) -> None:
    """``required_history_days`` is the real minimum of a calibrated fit of the production model
    (rain uplift × global model): one day less is refused as too short, not failed deeper in."""
    config = GlobalModelConfig(max_horizon=max_horizon, max_iter=10, fit_threads=1)
    small = panel.take(np.arange(200))
    needed = required_history_days(RainUpliftForecaster(GlobalBoostingForecaster(config)))
    assert needed == max(max_horizon + 7, 28) + max_horizon  # the uplift needs 2 × 14 days
    fitted = fit_calibrated(RainUpliftForecaster(GlobalBoostingForecaster(config)), small, needed)
    assert fitted.data_end == small.dates[needed - 1].date()
    with pytest.raises(ValueError, match=f"too short: need at least {needed}"):
        fit_calibrated(RainUpliftForecaster(GlobalBoostingForecaster(config)), small, needed - 1)


def test_own_bin_edges_give_the_regressors_weighted_bins_and_the_same_predictions() -> None:
    """The global model places the bins itself (one sort per feature, not one per quantile):
    the regressor must see exactly the bins it would have placed on the raw weighted values,
    so both fits predict the same. Ties, float32 inputs, uneven weights, a missing value, a
    zero weight and a feature with few values are all in the data."""
    rng = np.random.default_rng(4)
    n = 6_000
    x = np.column_stack(
        [
            rng.lognormal(size=n).round(2),  # many values with ties
            rng.normal(size=n),
            rng.integers(0, 7, size=n).astype(float),  # few values: left to the regressor
            rng.integers(0, 3, size=n).astype(float),  # a category
        ]
    ).astype(np.float32)
    x[::97, 1] = np.nan
    # Whole weights totalling a multiple of 255, so quantiles fall exactly on points (and take
    # the mean of two values); float32, as the global model's weights are.
    weight = rng.integers(1, 4, size=n).astype(np.float32)
    weight[::50] = 0.0
    weight[-1] += 255 - weight.sum() % 255
    y = rng.poisson(np.exp(0.3 * np.nan_to_num(x[:, 1]) + 0.1 * x[:, 2]))
    categorical = [False, False, False, True]

    def regressor() -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss="poisson", max_iter=30, categorical_features=categorical, random_state=0
        )

    edges = weighted_bin_edges(x, weight, categorical)
    assert [e is None for e in edges] == [False, False, True, True]
    with threadpool_limits(limits=1):  # OpenMP threads only spin against each other here
        raw = regressor().fit(x, y, sample_weight=weight)
        own = regressor().fit(apply_bin_edges(x, edges), y, sample_weight=weight)
    # The regressor's own edges (its categories first): the ones the global model placed.
    placed = raw._bin_mapper.bin_thresholds_
    np.testing.assert_array_equal(placed[1], edges[0])
    np.testing.assert_array_equal(placed[2], edges[1])
    np.testing.assert_array_equal(own.predict(apply_bin_edges(x, edges)), raw.predict(x))
    # A new value predicts the same too, unless it falls in a bin no training row fell in:
    # where a tree splits inside such a gap has no data behind it either way.
    fresh = rng.lognormal(size=(2_000, 4)).astype(np.float32)
    fresh[:, 2:] = x[:2_000, 2:]
    binned, fresh_binned = apply_bin_edges(x, edges), apply_bin_edges(fresh, edges)
    seen = np.ones(len(fresh), dtype=bool)
    for column in (0, 1):
        held = binned[weight > 0, column]
        seen &= np.isin(fresh_binned[:, column], held) | np.isnan(fresh_binned[:, column])
    assert seen.mean() > 0.9
    np.testing.assert_array_equal(own.predict(fresh_binned)[seen], raw.predict(fresh)[seen])
