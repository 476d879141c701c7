"""Placement: a group's forecast total shared over its stores and sizes by pooled, shrunk rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.panel import Panel
from forecasting.placement import estimate_placement, place

CITIES = ("Alpha", "Beta")
SIZES = ("S", "M", "L", "XL")
#: The network's size curve: what every store sells, except the taste of one store below.
CURVE = np.array([0.1, 0.2, 0.4, 0.3])
DAYS = 240
#: The sparse store is in stock for its last few days only, and sold only small sizes there.
SPARSE_DAYS = 6


def _panel(rng: np.random.Generator) -> Panel:
    rows: list[tuple[str, str]] = []
    rates: list[float] = []
    for city in CITIES:
        for s in range(6):
            scale = 0.5 + 0.5 * s
            taste = np.ones(len(SIZES))
            if city == "Alpha" and s == 5:  # a real preference: XL sells 3× here
                taste = np.array([1.0, 1.0, 1.0, 3.0])
            for k, size in enumerate(SIZES):
                rows.append((f"{city}-{s}|coat-{size}", city))
                rates.append(scale * CURVE[k] * taste[k])
    for size in SIZES:
        rows.append((f"Alpha-new|coat-{size}", "Alpha"))
        rates.append(1.0 * CURVE[SIZES.index(size)])
    n = len(rows)
    units = rng.poisson(np.asarray(rates)[:, None] * np.ones((1, DAYS))).astype(np.float32)
    stockout = np.zeros((n, DAYS), dtype=bool)
    new = [i for i, (sid, _) in enumerate(rows) if sid.startswith("Alpha-new")]
    stockout[new, : DAYS - SPARSE_DAYS] = True
    units[new, : DAYS - SPARSE_DAYS] = 0.0
    units[new, DAYS - SPARSE_DAYS :] = np.array([[1.0], [1.0], [0.0], [0.0]])  # S and M only
    series = pd.DataFrame(
        {
            "category": "coats",
            "city": [c for _, c in rows],
            "rain_sensitive": False,
            "channel": "store",
        },
        index=pd.Index([sid for sid, _ in rows], name="series_id"),
    )
    panel = Panel(
        series=series,
        dates=pd.date_range("2014-01-01", periods=DAYS, freq="D"),
        units=units,
        stockout=stockout,
        promo=np.zeros((n, DAYS), dtype=bool),
        price_ratio=np.ones((n, DAYS), dtype=np.float32),
        cities=CITIES,
        precipitation_mm=np.zeros((len(CITIES), DAYS), dtype=np.float32),
        temp_mean_c=np.full((len(CITIES), DAYS), 15.0, dtype=np.float32),
        city_index=pd.Index(CITIES).get_indexer(series["city"]),
    )
    return panel


@pytest.fixture(scope="module")
def panel() -> Panel:
    return _panel(np.random.default_rng(11))


def _store_shares(panel: Panel, values: np.ndarray, store: str) -> np.ndarray:
    rows = np.flatnonzero(panel.series.index.str.startswith(store + "|"))
    return values[rows] / values[rows].sum()


def test_a_sparse_store_takes_the_pooled_size_curve(panel: Panel) -> None:
    placement = estimate_placement(panel, DAYS)
    assert placement is not None
    own = _store_shares(panel, np.nansum(panel.units, axis=1), "Alpha-new")
    assert own[0] == pytest.approx(0.5)  # its 2 units: one S, one M, no L or XL
    shares = _store_shares(panel, placement.rate.to_numpy(), "Alpha-new")
    # Six days and two units say almost nothing: the network's curve, not its own.
    assert np.abs(shares - CURVE).max() < 0.08
    assert np.abs(shares - own).max() > 0.3


def test_a_well_sold_real_preference_is_kept(panel: Panel) -> None:
    placement = estimate_placement(panel, DAYS)
    assert placement is not None
    shares = _store_shares(panel, placement.rate.to_numpy(), "Alpha-5")
    truth = CURVE * np.array([1.0, 1.0, 1.0, 3.0])
    truth /= truth.sum()
    assert placement.tau2["store|coats"] > 0.01
    assert shares[3] == pytest.approx(truth[3], abs=0.08)  # 0.56, where the curve says 0.3


def test_group_totals_are_kept(panel: Panel) -> None:
    placement = estimate_placement(panel, DAYS - 14)
    rng = np.random.default_rng(5)
    mean = rng.gamma(1.0, 0.5, size=(panel.n_series, 14)).astype(np.float32)
    placed = place(panel, mean, placement)
    city = panel.series["city"].to_numpy()
    for c in CITIES:
        assert placed[city == c].sum() == pytest.approx(mean[city == c].sum(), rel=1e-5)
    # Each series keeps its own day-to-day shape; only its level moves.
    np.testing.assert_allclose(
        placed / placed.sum(axis=1, keepdims=True),
        mean / mean.sum(axis=1, keepdims=True),
        rtol=1e-4,
    )
    # ...and the split is the rates', not the model's: the big store outsells the small one.
    assert placed[panel.series.index.str.startswith("Alpha-4|"), 0].sum() > 2 * (
        placed[panel.series.index.str.startswith("Alpha-0|"), 0].sum()
    )


def test_a_series_the_estimate_never_saw_gets_its_store_and_item_effects(panel: Panel) -> None:
    placement = estimate_placement(panel, DAYS)
    assert placement is not None
    keep = ~panel.series.index.isin(["Beta-3|coat-L"])
    seen = estimate_placement(_subset(panel, keep), DAYS)
    assert seen is not None
    mean = np.ones((panel.n_series, 3), dtype=np.float32)
    placed = place(panel, mean, seen)
    beta3 = _store_shares(panel, placed[:, 0], "Beta-3")
    assert beta3[2] == pytest.approx(CURVE[2], abs=0.05)


def test_panels_that_do_not_name_locations_are_left_as_forecast(panel: Panel) -> None:
    renamed = _subset(panel, np.ones(panel.n_series, dtype=bool))
    renamed.series.index = pd.Index([f"S{i}" for i in range(panel.n_series)], name="series_id")
    assert estimate_placement(renamed, DAYS) is None
    mean = np.ones((panel.n_series, 2), dtype=np.float32)
    assert place(renamed, mean, None) is mean


def _subset(panel: Panel, keep: np.ndarray) -> Panel:
    series = panel.series[keep].copy()
    return Panel(
        series=series,
        dates=panel.dates,
        units=panel.units[keep],
        stockout=panel.stockout[keep],
        promo=panel.promo[keep],
        price_ratio=panel.price_ratio[keep],
        cities=panel.cities,
        precipitation_mm=panel.precipitation_mm,
        temp_mean_c=panel.temp_mean_c,
        city_index=panel.city_index[keep],
    )
