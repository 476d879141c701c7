"""The demand model: expected daily units per location × SKU (docs/demo-world.md §Demand).

Multiplicative, so each effect reads as "×k on such days":

    store  μ = base[cat] · popularity[style] · tier · store size · share[colour, size]
               · weekday · holiday · season(temp, cat) · promo · weather(cat, band of the city)
    online μ = Σ_city footfall[city] · base · popularity · share · weekday · online holiday
               · season · promo · online weather(cat, band of the city)

Weather for rain categories is ``rain_uplift[band]``; for the other categories the store keeps
``store_footfall[band]`` and ``online_shift`` of what it lost reappears online, on top of the
city's normal online demand (``online_share`` of its store demand).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import holidays
import numpy as np

from inventory.demo_world.catalog import Catalog
from inventory.demo_world.params import CATEGORY_PROFILES, DemandParameters
from inventory.demo_world.vocabulary import RAIN_CATEGORIES
from inventory.vocabulary import RainBand

BAND_ORDER: tuple[RainBand, ...] = (
    RainBand.NONE,
    RainBand.LIGHT,
    RainBand.MODERATE,
    RainBand.HEAVY,
    RainBand.RAINSTORM,
)
BAND_INDEX: dict[str, int] = {band.value: i for i, band in enumerate(BAND_ORDER)}


@dataclass(frozen=True)
class Calendar:
    """Day-level multipliers shared by every location."""

    dates: list[dt.date]
    weekday: np.ndarray
    holiday_store: np.ndarray
    holiday_online: np.ndarray


@dataclass(frozen=True)
class CityDays:
    """One city's weather on the world's days: CMA band index and smoothed temperature."""

    band: np.ndarray  # int, index into BAND_ORDER
    temp_c: np.ndarray


def build_calendar(dates: list[dt.date], params: DemandParameters) -> Calendar:
    years = sorted({d.year for d in dates})
    # Names are matched below, so pin their language: `holidays` follows the process locale.
    cn_holidays = holidays.China(years=years, language="en_US")
    weekday = np.array([params.weekday[d.weekday()] for d in dates])
    store = np.ones(len(dates))
    online = np.ones(len(dates))
    for i, day in enumerate(dates):
        name = cn_holidays.get(day)
        if name:
            store[i] = (
                params.spring_festival_store if "Spring Festival" in name else params.holiday_store
            )
        if (day.month, day.day) == (11, 11):
            online[i] = params.double11_online
        elif (day.month, day.day) == (6, 18):
            online[i] = params.mid_year_online
    return Calendar(dates=dates, weekday=weekday, holiday_store=store, holiday_online=online)


def promo_calendar(
    n_styles: int, dates: list[dt.date], params: DemandParameters, rng: np.random.Generator
) -> np.ndarray:
    """Discount per style × day (0 = full price): week-long national promos starting Mondays."""
    discount = np.zeros((n_styles, len(dates)))
    mondays = [i for i, d in enumerate(dates) if d.weekday() == 0]
    for style in range(n_styles):
        starts = [i for i in mondays if rng.random() < params.promo_weekly_start_probability]
        for start in starts:
            depth = float(rng.choice(params.promo_discounts))
            discount[style, start : start + params.promo_days] = depth
    return discount


@dataclass(frozen=True)
class StyleEffects:
    """Style × day multipliers that do not depend on the location (promo, per-city season)."""

    base: np.ndarray  # base units × popularity, per style
    promo_uplift: np.ndarray  # style × day
    rain_style: np.ndarray  # bool per style
    season: dict[str, np.ndarray]  # city → style × day


def style_effects(
    catalog: Catalog,
    discount: np.ndarray,
    cities: dict[str, CityDays],
    params: DemandParameters,
) -> StyleEffects:
    categories = catalog.style_categories()
    profiles = [CATEGORY_PROFILES[c] for c in categories]
    base = np.array([p.base_units_per_day for p in profiles]) * catalog.style_popularity
    elasticity = np.array([p.elasticity for p in profiles])[:, None]
    promo_uplift = (1.0 - discount) ** (-elasticity)
    beta = np.array([p.temp_beta for p in profiles])[:, None]
    season = {
        city: np.exp(beta * (days.temp_c[None, :] - params.temp_reference_c) / 10.0)
        for city, days in cities.items()
    }
    rain_style = np.array([c in RAIN_CATEGORIES for c in categories])
    return StyleEffects(base, promo_uplift, rain_style, season)


def store_weather(effects: StyleEffects, band: np.ndarray, params: DemandParameters) -> np.ndarray:
    """Style × day weather multiplier in a store of a city with these bands."""
    rain = np.array([params.rain_uplift[b] for b in BAND_ORDER])[band]
    footfall = np.array([params.store_footfall[b] for b in BAND_ORDER])[band]
    return np.where(effects.rain_style[:, None], rain[None, :], footfall[None, :])


def online_weather(effects: StyleEffects, band: np.ndarray, params: DemandParameters) -> np.ndarray:
    """Style × day multiplier of a city's online demand, relative to ``online_share`` of stores."""
    rain = np.array([params.rain_uplift[b] for b in BAND_ORDER])[band]
    footfall = np.array([params.store_footfall[b] for b in BAND_ORDER])[band]
    rain_online = 1.0 + params.online_rain_fraction * (rain - 1.0)
    other_online = 1.0 + params.online_shift * (1.0 - footfall) / params.online_share
    return np.where(effects.rain_style[:, None], rain_online[None, :], other_online[None, :])


def store_style_mean(
    effects: StyleEffects,
    calendar: Calendar,
    city: CityDays,
    city_name: str,
    scale: float,
    params: DemandParameters,
) -> np.ndarray:
    """Expected units per style × day in one store; ``scale`` = tier × store size."""
    day = calendar.weekday * calendar.holiday_store
    return (
        scale
        * effects.base[:, None]
        * day[None, :]
        * effects.season[city_name]
        * effects.promo_uplift
        * store_weather(effects, city.band, params)
    )


def online_style_mean(
    effects: StyleEffects,
    calendar: Calendar,
    cities: dict[str, CityDays],
    footfall: dict[str, float],
    params: DemandParameters,
) -> np.ndarray:
    """Expected units per style × day in the ONLINE pool, summed over the cities it serves."""
    day = calendar.weekday * calendar.holiday_online
    total = np.zeros_like(effects.promo_uplift)
    for city, weight in footfall.items():
        total += weight * effects.season[city] * online_weather(effects, cities[city].band, params)
    return params.online_share * effects.base[:, None] * day[None, :] * effects.promo_uplift * total
