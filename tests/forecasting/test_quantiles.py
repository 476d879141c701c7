from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.metrics import quantile_metrics
from forecasting.quantiles import QuantileCalibrator, quantile_key, validate_levels


def _nb_world(rng: np.random.Generator, n: int, horizon: int, alpha: float):
    mean = rng.gamma(2.0, 1.5, size=(n, 1)) * np.ones((n, horizon))
    actual = rng.poisson(rng.gamma(1 / alpha, mean * alpha)).astype(float)
    return mean, actual, np.ones_like(mean, dtype=bool)


def test_calibrated_levels_are_met_on_fresh_data() -> None:
    rng = np.random.default_rng(0)
    # A forecaster that is right on the mean but knows nothing of the spread (α = 0.5).
    calibrator = QuantileCalibrator.fit(*_nb_world(rng, 4_000, 14, 0.5))
    mean, actual, usable = _nb_world(rng, 4_000, 14, 0.5)
    metrics = quantile_metrics(calibrator.daily(mean, [0.1, 0.5, 0.9]), actual, usable)
    assert metrics["calibration_gap"] < 0.02
    assert metrics["below_p90"] <= 0.9 + 0.02 <= metrics["at_or_below_p90"] + 0.04


def test_total_quantiles_are_narrower_than_sums_of_daily_quantiles() -> None:
    rng = np.random.default_rng(1)
    mean, actual, usable = _nb_world(rng, 3_000, 14, 0.5)
    calibrator = QuantileCalibrator.fit(mean, actual, usable)
    daily = calibrator.daily(mean, [0.1, 0.9])
    total = calibrator.total(mean.sum(axis=1), [0.1, 0.9], 14)
    summed_width = (daily[0.9] - daily[0.1]).sum(axis=1)
    assert np.median(total[0.9] - total[0.1]) < np.median(summed_width)
    hits = np.mean(actual.sum(axis=1) <= total[0.9])
    assert hits == pytest.approx(0.9, abs=0.03)


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.floats(0.01, 0.99), min_size=2, max_size=6, unique=True),
    means=st.lists(st.floats(0.0, 500.0), min_size=1, max_size=20),
)
def test_quantiles_never_cross(levels: list[float], means: list[float]) -> None:
    rng = np.random.default_rng(2)
    calibrator = QuantileCalibrator.fit(*_nb_world(rng, 300, 7, 0.3))
    mean = np.array(means, dtype=float)[:, None] * np.ones((1, 7))
    for values in (calibrator.daily(mean, levels), calibrator.total(mean.sum(1), levels, 7)):
        ordered = [values[level] for level in sorted(values)]
        for low, high in itertools.pairwise(ordered):
            assert (low <= high).all()


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.5"):
        validate_levels([0.1, 1.5])
    with pytest.raises(ValueError, match="empty"):
        validate_levels([])


def test_quantile_keys() -> None:
    assert [quantile_key(q) for q in (0.1, 0.5, 0.9, 0.975)] == ["p10", "p50", "p90", "p975"]
