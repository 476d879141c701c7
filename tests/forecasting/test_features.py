from __future__ import annotations

import numpy as np
import pytest

from forecasting.features import BASE_FEATURES, WEATHER_FEATURES, FeatureBuilder
from forecasting.panel import Panel


def _builder(panel: Panel, use_weather: bool = True) -> FeatureBuilder:
    categories = tuple(sorted(panel.series["category"].unique()))
    return FeatureBuilder(categories=categories, use_weather=use_weather)


def test_matrix_has_one_row_per_series_and_day(panel: Panel) -> None:
    x, scale = _builder(panel).build(panel, origin=200, horizon=14)
    assert x.shape == (panel.n_series * 14, len(BASE_FEATURES) + len(WEATHER_FEATURES))
    assert scale.shape == (panel.n_series,) and (scale > 0).all()
    assert _builder(panel, use_weather=False).build(panel, 200, 14)[0].shape[1] == len(
        BASE_FEATURES
    )


def test_weather_features_are_the_target_days_weather(panel: Panel) -> None:
    builder = _builder(panel)
    x, _ = builder.build(panel, origin=200, horizon=14)
    column = builder.names.index("precipitation_mm")
    expected = panel.series_precipitation()[:, 200:214].reshape(-1)
    np.testing.assert_allclose(x[:, column], expected)


def test_stockout_days_do_not_lower_the_level(panel: Panel) -> None:
    """Censoring: zeros sold during a stock-out must not pull the level down."""
    one = panel.take(np.array([0]))
    one.units[0, 100:200] = 4.0
    one.stockout[0, 100:200] = False
    builder = _builder(one)
    baseline = builder.build(one, 200, 7)[1][0]
    one.units[0, 180:200] = 0.0
    one.stockout[0, 180:200] = True
    censored = builder.build(one, 200, 7)[1][0]
    assert censored == pytest.approx(baseline, rel=1e-6)
    one.stockout[0, 180:200] = False  # the same zeros, now believed: the level falls
    assert builder.build(one, 200, 7)[1][0] < baseline / 2


def test_targets_mask_censored_days(panel: Panel) -> None:
    _y, usable = FeatureBuilder.targets(panel, 200, 14)
    assert not usable[panel.stockout[:, 200:214].reshape(-1)].any()


def test_horizon_past_the_panel_is_refused(panel: Panel) -> None:
    with pytest.raises(ValueError, match="runs past"):
        _builder(panel).build(panel, origin=panel.n_days - 5, horizon=14)


def test_rain_free_baseline_reads_no_temperature_for_rain_sensitive_series(panel: Panel) -> None:
    """The rain layer carries rain gear's weather; the temperature change is the season of the
    other categories. A pooled model that sees it for rain gear too learnt a warming spring's
    trend of the others as rain gear's (dry level 0.82-0.87 of the world's on Feb-May worlds)."""
    categories = tuple(sorted(panel.series["category"].unique()))
    builder = FeatureBuilder(categories=categories, use_weather=False, use_temperature=True)
    x, _ = builder.build(panel, origin=200, horizon=14)
    change = x[:, builder.names.index("temp_change")].reshape(panel.n_series, 14)
    sensitive = panel.series["rain_sensitive"].to_numpy(bool)
    assert sensitive.any() and (~sensitive).any()
    assert np.isnan(change[sensitive]).all()
    assert np.isfinite(change[~sensitive]).all()
    # The model with weather features keeps its own temperature columns for every series.
    weather = FeatureBuilder(categories=categories, use_weather=True)
    xw, _ = weather.build(panel, origin=200, horizon=14)
    assert np.isfinite(xw[:, weather.names.index("temp_mean_c")]).all()
