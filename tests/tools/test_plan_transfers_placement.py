"""Which store sells a style: the style's city total shared by the stores' sales before the
clock (``tools.plan_transfers.placement``)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.plan_transfers.expected_sales import WINDOW_LEVELS, count_dispersion
from tools.plan_transfers.placement import location_style_rates, place_stores

STYLES = np.array(["A", "A", "A", "B", "B"])
SCALE = np.array([1.0, 2.0, 3.0, 4.0])  # each store's size: the same for every style


def _world(seed: int, scale: np.ndarray = SCALE, days: float = 1.0):
    """Four stores whose sales are store size × style popularity (Poisson), and a forecast
    whose split over the stores is noise around the same."""
    rng = np.random.default_rng(seed)
    popularity = np.array([3.0, 6.0, 3.0, 2.0, 2.0])
    sold = rng.poisson(days * np.outer(scale, popularity)).astype(float)
    mean = np.outer(scale, popularity) / 20 * rng.lognormal(0, 0.5, size=(scale.size, 5))
    quantiles = np.stack([0.5 * mean, mean, 2.0 * mean], axis=2)
    return sold, mean, quantiles


def _place(mean, quantiles, sold, kinds=None):
    n = mean.shape[0]
    kinds = np.array(["store"] * n) if kinds is None else kinds
    return place_stores(mean, quantiles, sold, STYLES, np.array(["Shanghai"] * n), kinds)


def test_a_styles_city_total_is_kept_and_shared_by_the_stores_sales():
    sold, mean, quantiles = _world(0, days=30)
    placed, q = _place(mean, quantiles, sold)
    for style in ("A", "B"):
        cols = style == STYLES
        assert placed[:, cols].sum() == pytest.approx(mean[:, cols].sum())
        share = placed[:, cols].sum(axis=1) / placed[:, cols].sum()
        np.testing.assert_allclose(share, SCALE / SCALE.sum(), atol=0.03)
    # a store keeps its split over sizes, and every position its dispersion
    for store in range(4):
        cols = STYLES == "A"
        np.testing.assert_allclose(
            placed[store, cols] / placed[store, cols].sum(),
            mean[store, cols] / mean[store, cols].sum(),
        )
    levels = np.array(WINDOW_LEVELS)
    np.testing.assert_allclose(
        count_dispersion(placed, q, levels), count_dispersion(mean, quantiles, levels)
    )


def test_the_split_is_nearer_the_stores_demand_than_the_forecasts_own():
    """Over many draws of a thin history (a week of sales) and a noisy forecast, the shared
    split misplaces less of a style's demand than the forecast's own split."""
    misplaced = {"forecast": [], "placed": []}
    truth = SCALE / SCALE.sum()
    for seed in range(40):
        sold, mean, quantiles = _world(seed, days=7)
        placed, _ = _place(mean, quantiles, sold)
        for name, split in (("forecast", mean), ("placed", placed)):
            by_store = split[:, STYLES == "A"].sum(axis=1)
            misplaced[name].append(0.5 * np.abs(by_store / by_store.sum() - truth).sum())
    assert np.mean(misplaced["placed"]) < 0.6 * np.mean(misplaced["forecast"])


def test_a_real_store_taste_for_a_style_is_kept():
    """Store 0 sells style B ten times what its size says, over a long history: beyond the
    noise, so its cell keeps (most of) it; the main effects alone would give it a fortieth."""
    rng = np.random.default_rng(3)
    expected = np.outer(SCALE, [3.0, 6.0, 3.0, 2.0, 2.0]) * 60
    expected[0, 3:] *= 10
    sold = rng.poisson(expected).astype(float)
    mean = np.ones((4, 5))
    placed, _ = _place(mean, np.stack([mean] * 3, axis=2), sold)
    b = placed[:, STYLES == "B"].sum(axis=1)
    taste = expected[:, 3:].sum(axis=1) / expected[:, 3:].sum()
    assert b[0] / b.sum() == pytest.approx(taste[0], rel=0.15)


def test_other_kinds_new_stores_and_uncarried_styles_keep_their_forecast():
    sold, mean, quantiles = _world(1, days=30)
    # a DC beside the stores, and a fifth store that has sold nothing yet
    sold = np.vstack([sold, 50 * np.ones(5), np.zeros(5)])
    mean = np.vstack([mean, np.full(5, 0.7), np.full(5, 0.4)])
    mean[1, STYLES == "B"] = 0.0  # store 1 does not carry style B
    quantiles = np.stack([0.5 * mean, mean, 2.0 * mean], axis=2)
    kinds = np.array(["store"] * 4 + ["dc", "store"])
    placed, _ = _place(mean, quantiles, sold, kinds)
    np.testing.assert_allclose(placed[4], mean[4])  # the DC: its own group, one location
    np.testing.assert_allclose(placed[5], mean[5])  # the new store: no sales to share by
    assert np.all(placed[1, STYLES == "B"] == 0.0)
    for style in ("A", "B"):
        cols = style == STYLES
        assert placed[:, cols].sum() == pytest.approx(mean[:, cols].sum())


def test_rates_are_the_main_effects_where_stores_differ_by_noise_only():
    sold, _, _ = _world(2, days=60)
    styles = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]).T
    by_style = sold @ styles
    carried = np.ones(by_style.shape, dtype=bool)
    rates = location_style_rates(by_style, carried, np.array(["store"] * 4))
    np.testing.assert_allclose(rates[:, 0] / rates[:, 1], rates[0, 0] / rates[0, 1], rtol=0.02)
