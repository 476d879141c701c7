"""Size × store demand shared from the style's forecast by a pooled size curve."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlmodel import Session

from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
from tests.utils.factories import add_daily_sales
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput, SeriesForecast
from tools.plan_transfers.expected_sales import WINDOW_LEVELS, count_dispersion
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.pool import build_problem, read_pool
from tools.plan_transfers.size_curves import PRIOR_UNITS, match_level, pool_sizes, size_shares

STYLES = np.array(["A", "A", "A", "B", "B"])
LEVELS = np.array(WINDOW_LEVELS)


def test_shares_of_a_style_sum_to_one_everywhere():
    sold = np.array([[10, 0, 5, 1, 1], [0, 0, 0, 0, 0], [300, 100, 0, 7, 0]], dtype=float)
    shares = size_shares(sold, STYLES)
    for style in ("A", "B"):
        np.testing.assert_allclose(shares[:, style == STYLES].sum(axis=1), 1.0)


def test_a_store_without_history_gets_the_networks_curve_and_a_busy_one_keeps_its_own():
    sold = np.array([[0, 0, 0, 0, 0], [900, 100, 0, 0, 0], [100, 300, 0, 0, 0]], dtype=float)
    shares = size_shares(sold, STYLES)
    network = (sold[:, :3].sum(axis=0) + 0.5) / (sold[:, :3].sum() + 1.5)
    np.testing.assert_allclose(shares[0, :3], network)
    # 1,000 units of its own against PRIOR_UNITS pseudo-units: its own mix, nearly.
    assert shares[1, 0] == pytest.approx(0.9, abs=0.02)
    assert shares[2, 1] > shares[2, 0]
    assert PRIOR_UNITS < 1000


def test_pooling_keeps_each_stores_style_total_and_feeds_only_carried_sizes():
    mean = np.array([[0.9, 0.0, 0.1, 0.3, 0.3], [0.2, 0.2, 0.2, 0.0, 0.0]])
    quantiles = np.stack([0.0 * mean, mean, 2.0 * mean], axis=2)
    shares = np.array([[0.2, 0.3, 0.5, 0.5, 0.5], [0.5, 0.25, 0.25, 0.5, 0.5]])
    pooled, q = pool_sizes(mean, quantiles, shares, STYLES)
    for style in ("A", "B"):
        cols = style == STYLES
        np.testing.assert_allclose(pooled[:, cols].sum(axis=1), mean[:, cols].sum(axis=1))
    assert pooled[0, 1] == 0.0, "a size the store does not carry gets no demand"
    # Store 0, style A carries sizes 0 and 2 (shares 0.2 and 0.5): 1.0 shared 2:5.
    assert pooled[0, 0] == pytest.approx(1.0 * 0.2 / 0.7)
    assert pooled[0, 2] == pytest.approx(1.0 * 0.5 / 0.7)
    # The forecast's dispersion is kept where a size keeps a mean (expected_sales.scale_counts).
    kept = (pooled > 0) & (mean > 0)
    np.testing.assert_allclose(
        count_dispersion(pooled, q, LEVELS)[kept], count_dispersion(mean, quantiles, LEVELS)[kept]
    )
    assert np.all(np.diff(q, axis=2) >= 0)


def _skewed_forecast(hot_size_index: int):
    """A forecast that puts a style's whole window demand on one size at SHA-S02."""

    def provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
        out = fake_forecast({"SHA-S02": 1.0})(ctx, request)
        for series in out.series:
            hot = series.location == "SHA-S02" and series.sku.endswith(f"-{36 + hot_size_index}")
            mean = 5.0 if hot else 0.01
            series.total_mean = mean
            series.total_quantiles = {"p10": 0.0, "p50": mean, "p90": 2 * mean}
        return out

    return provider


def test_the_plan_reads_the_size_curve_from_sales_before_the_clock_only(engine):
    build_pool(engine)
    with Session(engine) as session:
        # Before the clock, SHA-S02 sold size 38 only; after it (the future), only size 36.
        size_38 = "RB001-BLK-38"
        add_daily_sales(session, "SHA-S02", size_38, end=NOW.date(), days=60, units=2)
        add_daily_sales(
            session,
            "SHA-S02",
            "RB001-BLK-36",
            end=NOW.date() + dt.timedelta(days=20),
            days=19,
            units=9,
        )
        session.commit()
    ctx = ToolContext(engine=engine, now=NOW)
    request = PlanTransfersInput(
        city="Shanghai", category="rain_boots", window_days=3, pool_sizes=True
    )
    pool = read_pool(ctx, request)
    sold = pool.sold
    dest = [loc.code for loc in pool.locations].index("SHA-S02")
    skus = [sku.code for sku in pool.skus]
    assert sold[dest, skus.index(size_38)] == 120
    assert sold[dest, skus.index("RB001-BLK-36")] == 0, "sales after the clock were read"

    problem, _ = build_problem(ctx, request, _skewed_forecast(hot_size_index=0))
    raw, _ = build_problem(
        ctx, request.model_copy(update={"pool_sizes": False}), _skewed_forecast(hot_size_index=0)
    )
    # The raw forecast says size 36; the store's own history says 38, and pooling follows it.
    assert raw.demand_mean[dest, skus.index("RB001-BLK-36")] == pytest.approx(5.0)
    assert (
        problem.demand_mean[dest, skus.index(size_38)]
        > problem.demand_mean[dest, skus.index("RB001-BLK-36")]
    )
    assert problem.demand_mean[dest].sum() == pytest.approx(raw.demand_mean[dest].sum())


def test_pooling_takes_each_stores_style_total_from_the_style_forecast_when_given():
    mean = np.array([[0.9, 0.0, 0.1, 0.3, 0.3], [0.2, 0.2, 0.2, 0.0, 0.0]])
    quantiles = np.stack([0.0 * mean, mean, 2.0 * mean], axis=2)
    shares = np.full(mean.shape, 0.5)
    # Style A's total is 3.0 at store 0 and unknown (NaN) at store 1; style B's 0.4 / 0.
    totals = np.array([[3.0, 3.0, 3.0, 0.4, 0.4], [np.nan, np.nan, np.nan, 0.0, 0.0]])
    pooled, _ = pool_sizes(mean, quantiles, shares, STYLES, totals)
    assert pooled[0, :3].sum() == pytest.approx(3.0)
    assert pooled[0, 3:].sum() == pytest.approx(0.4)
    # Unknown: the SKU forecasts' own sum stays.
    assert pooled[1, :3].sum() == pytest.approx(0.6)


def test_match_level_keeps_the_split_and_takes_each_groups_total_from_the_reference():
    mean = np.array([[1.0, 3.0], [0.0, 4.0]])
    quantiles = np.stack([0.5 * mean, mean, 2.0 * mean], axis=2)
    reference = np.array([[2.0, 1.0], [2.0, 1.0]])
    group = np.array([[0, 1], [0, 1]])
    scaled, q = match_level(mean, quantiles, reference, group)
    # Group 0 (column 0): 1.0 → 4.0, all at the one position with demand; group 1: 7 → 2.
    np.testing.assert_allclose(scaled, [[4.0, 3.0 * 2 / 7], [0.0, 4.0 * 2 / 7]])
    kept = scaled > 0
    np.testing.assert_allclose(
        count_dispersion(scaled, q, LEVELS)[kept], count_dispersion(mean, quantiles, LEVELS)[kept]
    )
    # A group with no demand of its own keeps it (nothing to share the reference over).
    untouched, _ = match_level(
        np.zeros((1, 1)), np.zeros((1, 1, 3)), np.ones((1, 1)), group[:1, :1]
    )
    assert untouched[0, 0] == 0.0


def test_the_plan_splits_stores_by_the_style_forecast_at_the_sku_forecasts_level(engine):
    """Style-level forecast: SHA-S02 sells 3× what SHA-S01 does; SKU-level: the same everywhere.
    The pooled problem follows the style split, and the city's store total stays the SKU one."""
    build_pool(engine)
    ctx = ToolContext(engine=engine, now=NOW)
    request = PlanTransfersInput(
        city="Shanghai", category="rain_boots", window_days=3, pool_sizes=True
    )
    flat = fake_forecast({"SHA-S01": 1.0, "SHA-S02": 1.0, "SHA-S03": 1.0})
    style_total = {"SHA-S01": 1.0, "SHA-S02": 3.0, "SHA-S03": 1.0}

    def provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
        out = flat(ctx, request)
        if request.level != "style":
            return out
        styles = sorted({s.style for s in out.series})
        series = [
            SeriesForecast(
                location=location,
                sku=None,
                style=style,
                points=[],
                total_mean=style_total.get(location, 0.0),
                total_quantiles={"p10": 0.0, "p50": 1.0, "p90": 2.0},
            )
            for location in request.locations
            for style in styles
        ]
        return out.model_copy(update={"series": series})

    problem, _ = build_problem(ctx, request, provider)
    raw, _ = build_problem(ctx, request.model_copy(update={"pool_sizes": False}), flat)
    codes = [loc.code for loc in problem.locations]
    s01, s02, s03 = (codes.index(c) for c in ("SHA-S01", "SHA-S02", "SHA-S03"))
    stores = [s01, s02, s03]
    assert problem.demand_mean[stores].sum() == pytest.approx(raw.demand_mean[stores].sum())
    assert problem.demand_mean[s02].sum() == pytest.approx(3 * problem.demand_mean[s01].sum())


def _drawn_sales(city_curves: np.ndarray, units: int = 8, seed: int = 0):
    """Sales of 40 styles × 5 sizes at 4 stores per city, ``units`` a store × style, each
    store's sizes drawn from its city's curve (rows of ``city_curves``)."""
    rng = np.random.default_rng(seed)
    styles = np.repeat(np.arange(40), city_curves.shape[1])
    cities = np.repeat(np.arange(len(city_curves)), 4)
    sold = np.zeros((cities.size, styles.size))
    for style in range(40):
        cols = styles == style
        for store, city in enumerate(cities):
            sold[store, cols] = rng.multinomial(units, city_curves[city])
    return sold, styles, cities


def test_stores_that_share_one_curve_get_the_networks_when_the_weight_is_estimated():
    curve = np.array([[0.1, 0.2, 0.4, 0.2, 0.1]])
    sold, styles, cities = _drawn_sales(np.repeat(curve, 3, axis=0))
    network = _network_curve(sold, styles)
    fixed = size_shares(sold, styles, cities, pooling="fixed")
    estimated = size_shares(sold, styles, cities, pooling="network")
    # 8 units of sampling noise per store: the estimate gives the network's curve, the fixed
    # 20 pseudo-units leave a store's noise in.
    assert np.abs(estimated - network).max() < 0.02
    assert (
        np.abs(fixed - curve.repeat(40, axis=0).ravel()).mean()
        > np.abs(estimated - curve.repeat(40, axis=0).ravel()).mean()
    )


def test_city_pooling_keeps_a_citys_own_curve_where_cities_differ():
    curves = np.array([[0.1, 0.2, 0.4, 0.2, 0.1], [0.4, 0.3, 0.15, 0.1, 0.05]])
    sold, styles, cities = _drawn_sales(curves, units=30)
    truth = np.tile(curves, 40)[cities]
    by_city = size_shares(sold, styles, cities, pooling="city")
    network = size_shares(sold, styles, cities, pooling="network")
    for shares in (by_city, network):
        for style in range(40):
            np.testing.assert_allclose(shares[:, styles == style].sum(axis=1), 1.0)
    assert np.abs(by_city - truth).mean() < 0.75 * np.abs(network - truth).mean()


def _network_curve(sold: np.ndarray, styles: np.ndarray) -> np.ndarray:
    out = np.zeros(sold.shape[1])
    for style in np.unique(styles):
        cols = styles == style
        mix = sold[:, cols].sum(axis=0) + 0.5
        out[cols] = mix / mix.sum()
    return np.broadcast_to(out, sold.shape)


def test_the_shipped_size_curve_is_the_networks_where_stores_differ_by_noise_only():
    """Shipped pooling (session 31): a store's few units of a style are sampling noise when every
    store draws from one curve, so by default it gets the network's curve, not its own noise
    shrunk by a fixed 20 units (which left 0.094–0.115 of each style's demand misplaced)."""
    curve = np.array([[0.1, 0.2, 0.4, 0.2, 0.1]])
    sold, styles, cities = _drawn_sales(np.repeat(curve, 3, axis=0))
    shipped = size_shares(sold, styles, cities)
    assert np.abs(shipped - _network_curve(sold, styles)).max() < 0.02
