"""The global model against the baselines, with and without weather, on a seeded panel."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.features import FeatureBuilder
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
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
