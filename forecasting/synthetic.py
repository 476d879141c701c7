"""A seeded demand panel of the demo world's shape, for tests and the benchmark.

The benchmark needs 100,000 series (more than the demo world holds) and tests need a panel in
milliseconds, so this generator mirrors the demo world's demand model in vectorised numpy:
weekday shape, yearly season per category, Chinese holidays, promo lift with price cut, rain
lifting rain categories (by CMA band) and lowering the rest, negative-binomial noise, and
stock-out episodes that censor sales.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from forecasting.calendar import holiday_flags
from forecasting.panel import Panel
from inventory.demo_world.vocabulary import CITY_REGION, OTHER_CATEGORIES, RAIN_CATEGORIES

_WEEKDAY = np.array([0.85, 0.8, 0.85, 0.9, 1.05, 1.3, 1.25], dtype=np.float32)
_BAND_EDGES = np.array([0.1, 10.0, 25.0, 50.0], dtype=np.float32)
#: Demand multiplier by rain band (none, light, moderate, heavy, rainstorm).
RAIN_LIFT = np.array([1.0, 1.15, 2.0, 2.8, 3.6], dtype=np.float32)
FOOTFALL_LOSS = np.array([1.0, 0.97, 0.88, 0.8, 0.7], dtype=np.float32)


class SyntheticSpec(BaseModel):
    series: int = Field(default=2_000, ge=1)
    days: int = Field(
        default=400, ge=30, description="Days of demand generated, hold-out included."
    )
    start: str = "2013-06-01"
    seed: int = 7
    dispersion: float = Field(default=0.3, gt=0, description="NB α of daily noise.")
    stockout_start_rate: float = Field(default=0.01, ge=0, le=1)
    promo_start_rate: float = Field(default=0.01, ge=0, le=1)
    chunk: int = Field(default=25_000, ge=1, description="Series generated at a time (memory).")


def synthetic_weather(
    cities: tuple[str, ...], dates: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Daily precipitation (wetter summers, gamma amounts) and temperature per city."""
    season = np.sin(2 * np.pi * (dates.dayofyear.to_numpy() - 105) / 365.25).astype(np.float32)
    shape = (len(cities), len(dates))
    wet = rng.uniform(size=shape) < (0.22 + 0.15 * season)
    amount = rng.gamma(0.8, 14.0, size=shape).astype(np.float32)
    rain = np.where(wet, amount, 0.0).astype(np.float32)
    base = rng.uniform(8, 20, size=(len(cities), 1))
    temp = (base + 12 * season + rng.normal(0, 2.5, size=shape)).astype(np.float32)
    return rain, temp


def synthetic_panel(spec: SyntheticSpec | None = None) -> Panel:
    """A panel whose units are the censored sales; ``units`` covers every generated day."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    dates = pd.date_range(spec.start, periods=spec.days, freq="D")
    cities = tuple(sorted(CITY_REGION))
    rain, temp = synthetic_weather(cities, dates, rng)
    categories = np.array(sorted(RAIN_CATEGORIES) + sorted(OTHER_CATEGORIES))
    category = rng.choice(categories, size=spec.series)
    city_index = rng.integers(0, len(cities), size=spec.series)
    series = pd.DataFrame(
        {
            "category": category,
            "city": np.array(cities)[city_index],
            "rain_sensitive": np.isin(category, list(RAIN_CATEGORIES)),
        },
        index=pd.Index([f"S{i:06d}" for i in range(spec.series)], name="series_id"),
    )
    band = np.searchsorted(_BAND_EDGES, rain, side="right")
    holiday = 1.0 + 0.3 * holiday_flags(dates)
    weekday = _WEEKDAY[dates.weekday.to_numpy()]
    doy = dates.dayofyear.to_numpy()
    phase = {c: i * 2 * np.pi / len(categories) for i, c in enumerate(categories)}

    units = np.empty((spec.series, spec.days), dtype=np.float32)
    stockout = np.zeros((spec.series, spec.days), dtype=bool)
    promo = np.zeros((spec.series, spec.days), dtype=bool)
    for lo in range(0, spec.series, spec.chunk):
        hi = min(spec.series, lo + spec.chunk)
        n = hi - lo
        sensitive = series["rain_sensitive"].to_numpy()[lo:hi, None]
        weather = np.where(
            sensitive, RAIN_LIFT[band[city_index[lo:hi]]], FOOTFALL_LOSS[band[city_index[lo:hi]]]
        )
        shift = np.array([phase[c] for c in category[lo:hi]])[:, None]
        season = 1.0 + 0.3 * np.sin(2 * np.pi * doy[None, :] / 365.25 + shift)
        level = rng.lognormal(mean=-0.2, sigma=0.9, size=(n, 1))
        chunk_promo = _episodes(rng, (n, spec.days), spec.promo_start_rate, 7)
        mean = level * weekday * holiday * season * weather * np.where(chunk_promo, 1.5, 1.0)
        size = 1.0 / spec.dispersion
        demand = rng.poisson(rng.gamma(size, mean / size)).astype(np.float32)
        chunk_out = _episodes(rng, (n, spec.days), spec.stockout_start_rate, 4)
        sold = np.where(
            chunk_out, np.floor(demand * rng.uniform(0, 0.5, size=demand.shape)), demand
        )
        units[lo:hi], stockout[lo:hi], promo[lo:hi] = sold, chunk_out, chunk_promo
    return Panel(
        series=series,
        dates=dates,
        units=units,
        stockout=stockout,
        promo=promo,
        price_ratio=np.where(promo, 0.8, 1.0).astype(np.float32),
        cities=cities,
        precipitation_mm=rain,
        temp_mean_c=temp,
        city_index=city_index,
    )


def _episodes(
    rng: np.random.Generator, shape: tuple[int, int], start_rate: float, max_days: int
) -> np.ndarray:
    """Boolean runs of 1..max_days starting at random days (stock-outs, promo weeks)."""
    starts = rng.uniform(size=shape) < start_rate
    lengths = rng.integers(1, max_days + 1, size=shape)
    out = np.zeros(shape, dtype=bool)
    rows, cols = np.nonzero(starts)
    for offset in range(max_days):
        keep = lengths[rows, cols] > offset
        c = cols[keep] + offset
        inside = c < shape[1]
        out[rows[keep][inside], c[inside]] = True
    return out
