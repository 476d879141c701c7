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
