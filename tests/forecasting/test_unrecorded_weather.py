"""A history day whose weather was never recorded is unknown, not dry.

A pool's weather feed can lag its sales feed (or miss a day). Read as 0 mm, a wet day's rain-gear
sales counted as a dry day's: the uplift's comparable dry level rose, the weather-free history
kept the rain in it, and the baseline rose with it. The estimate now leaves such a day out (as a
day whose sales are unknown), and the weather-free history divides it by the expected uplift of
its climatological band mix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forecasting.panel import Panel
from forecasting.rain import (
    UNKNOWN_BAND,
    band_codes,
    estimate_uplift,
    observed_bands,
    one_hot_bands,
)
from forecasting.synthetic import SyntheticSpec, synthetic_panel

#: A climatological mix (mostly dry) and its mean amount, as the pool gives a day without an
#: observation (``tools.forecast_demand.pool_panel.load_weather``).
MIX = np.array([0.7, 0.15, 0.1, 0.04, 0.01], dtype=np.float32)
MIX_MM = 3.2


@pytest.fixture(scope="module")
def panel() -> Panel:
    base = synthetic_panel(SyntheticSpec(series=1_200, days=240, seed=3))
    return dataclasses.replace(base, band_probability=one_hot_bands(base.precipitation_mm))


def _wet_days(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Every third 中雨-or-heavier city-day of the history."""
    cities, days = np.nonzero(band_codes(panel.precipitation_mm) >= 2)
    return cities[::3], days[::3]


def _unrecorded(panel: Panel, cities: np.ndarray, days: np.ndarray) -> Panel:
    """``panel`` with those city-days' observations missing, as the pool loads them."""
    probability = panel.band_probability.copy()  # type: ignore[union-attr]
    probability[cities, days] = MIX
    mm = panel.precipitation_mm.copy()
    mm[cities, days] = MIX_MM
    return dataclasses.replace(panel, precipitation_mm=mm, band_probability=probability)


def test_a_day_without_an_observation_is_neither_wet_nor_dry(panel: Panel) -> None:
    cities, days = _wet_days(panel)
    unrecorded = _unrecorded(panel, cities, days)
    bands = observed_bands(unrecorded, panel.n_days)
    assert (bands[cities, days] == UNKNOWN_BAND).all()
    others = np.ones(bands.shape, dtype=bool)
    others[cities, days] = False
    np.testing.assert_array_equal(bands[others], band_codes(panel.precipitation_mm)[others])


def test_the_uplift_leaves_an_unrecorded_day_out_as_if_its_sales_were_unknown(
    panel: Panel,
) -> None:
    """Its estimate is the one made with those city-days' sales unknown (to 0.1 %: the sales
    still count in the dispersion the shrinkage reads), and differs from reading them as dry
    (which pulls the wet bands down) or at their climatological amount."""
    cities, days = _wet_days(panel)
    unrecorded = _unrecorded(panel, cities, days)

    hidden = np.zeros((len(panel.cities), panel.n_days), dtype=bool)
    hidden[cities, days] = True
    units = np.where(hidden[panel.city_index], np.nan, panel.units).astype(panel.units.dtype)
    unsold = dataclasses.replace(panel, units=units)

    mm = panel.precipitation_mm.copy()
    mm[cities, days] = 0.0
    as_dry = dataclasses.replace(panel, precipitation_mm=mm, band_probability=one_hot_bands(mm))

    def store_rain_gear(p: Panel) -> np.ndarray:
        group = estimate_uplift(p).group
        rows = group[group["rain_sensitive"] & (group["channel"] == "store")]
        return rows.sort_values("band")["uplift"].to_numpy()

    unknown, reference, dry = (store_rain_gear(p) for p in (unrecorded, unsold, as_dry))
    np.testing.assert_allclose(unknown, reference, rtol=1e-3)
    complete = store_rain_gear(panel)
    # Read as dry, the wet days' sales lift the comparable dry level: 小雨–大雨 fall 6–8 %.
    assert (dry[:3] < complete[:3] * 0.97).all(), (dry, complete)
    assert np.abs(np.log(unknown / complete)).max() < np.abs(np.log(dry / complete)).max()
