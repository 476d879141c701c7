"""The online channel's rain exposure: its demand follows the rain where its customers are, a mix
of the cities weighted by where the pool sells, not the rain at its warehouse's city."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecasting.panel import Panel
from forecasting.rain import band_codes, estimate_uplift, exposure_weights, one_hot_bands

CITIES = ("Alpha", "Beta", "Gamma")
#: Store customers by city (and so online customers): Alpha sells most.
CITY_SIZE = {"Alpha": 0.5, "Beta": 0.3, "Gamma": 0.2}
RAIN = np.array([1.0, 1.3, 2.0, 3.0, 4.0])
ONLINE_RAIN = 1.0 + 0.3 * (RAIN - 1.0)


def _rain(rng: np.random.Generator, days: int) -> np.ndarray:
    """Per city: dry 55 %, then light, moderate, heavy, rainstorm amounts."""
    amounts = np.array([0.0, 5.0, 17.0, 37.0, 75.0], dtype=np.float32)
    bands = rng.choice(5, size=(len(CITIES), days), p=[0.55, 0.2, 0.12, 0.08, 0.05])
    return amounts[bands]


@pytest.fixture(scope="module")
def exposure_panel() -> Panel:
    """Rain-gear stores in three cities and an online pool whose warehouse is in Gamma."""
    rng = np.random.default_rng(3)
    days = 500
    rain = _rain(rng, days)
    band = band_codes(rain)
    rows, mean = [], []
    for c, city in enumerate(CITIES):
        for s in range(60):
            rows.append((f"{city}-S{s}", city, "store"))
            mean.append(CITY_SIZE[city] * RAIN[band[c]])
    online = sum(CITY_SIZE[city] * ONLINE_RAIN[band[c]] for c, city in enumerate(CITIES))
    for s in range(120):
        rows.append((f"online-{s}", "Gamma", "online"))
        mean.append(online)
    level = np.asarray(mean) * 2.0
    units = rng.poisson(level).astype(np.float32)
    series = pd.DataFrame(
        {
            "category": "umbrellas",
            "city": [r[1] for r in rows],
            "rain_sensitive": True,
            "channel": [r[2] for r in rows],
        },
        index=pd.Index([r[0] for r in rows], name="series_id"),
    )
    n = len(rows)
    return Panel(
        series=series,
        dates=pd.date_range("2014-01-01", periods=days, freq="D"),
        units=units,
        stockout=np.zeros((n, days), dtype=bool),
        promo=np.zeros((n, days), dtype=bool),
        price_ratio=np.ones((n, days), dtype=np.float32),
        cities=CITIES,
        precipitation_mm=rain,
        temp_mean_c=np.full((len(CITIES), days), 20.0, dtype=np.float32),
        city_index=pd.Index(CITIES).get_indexer(series["city"]),
    )


def test_exposure_weights_are_the_cities_share_of_store_sales(exposure_panel: Panel) -> None:
    weights = exposure_weights(exposure_panel, exposure_panel.n_days)
    for city, share in CITY_SIZE.items():
        assert weights[city] == pytest.approx(share, abs=0.02)


def test_online_uplift_is_learnt_against_the_exposure_not_its_own_city(
    exposure_panel: Panel,
) -> None:
    uplift = estimate_uplift(exposure_panel)
    group = uplift.group.set_index(["channel", "band"])["uplift"]
    for band in range(1, 5):
        assert group[("store", band)] == pytest.approx(RAIN[band], rel=0.1), band
        assert group[("online", band)] == pytest.approx(ONLINE_RAIN[band], rel=0.15), band
    assert set(uplift.exposure) == set(CITIES)


def test_online_forecast_mixes_the_cities_weather(exposure_panel: Panel) -> None:
    """A storm in the biggest city lifts online demand by its share of the storm's uplift; the
    same storm at the warehouse's (small) city lifts it less."""
    uplift = estimate_uplift(exposure_panel)
    online = np.flatnonzero(exposure_panel.series["channel"].to_numpy() == "online")[:1]
    panel = exposure_panel.take(online)

    def factor(storm_city: str) -> float:
        rain = np.zeros((len(CITIES), 1), dtype=np.float32)
        rain[CITIES.index(storm_city)] = 75.0
        return float(uplift.series_factor(panel, one_hot_bands(rain))[0, 0])

    dry = float(uplift.series_factor(panel, one_hot_bands(np.zeros((3, 1))))[0, 0])
    assert dry == pytest.approx(1.0)
    alpha, gamma = factor("Alpha"), factor("Gamma")
    expected_alpha = 1.0 + uplift.exposure["Alpha"] * (ONLINE_RAIN[4] - 1.0)
    assert alpha == pytest.approx(expected_alpha, rel=0.1)
    assert gamma < alpha
    # A panel holding only the warehouse's city falls back on that city's weather alone.
    alone = dataclasses.replace(
        panel,
        cities=("Gamma",),
        precipitation_mm=panel.precipitation_mm[2:3],
        temp_mean_c=panel.temp_mean_c[2:3],
        city_index=np.zeros(1, dtype=int),
    )
    storm = one_hot_bands(np.full((1, 1), 75.0))
    assert float(uplift.series_factor(alone, storm)[0, 0]) == pytest.approx(
        uplift.series_uplift(alone)[0, 4]
    )
