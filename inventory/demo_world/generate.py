"""Generate a whole world in memory: weather, network, catalog, each location's history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inventory.demo_world.catalog import Catalog, build_catalog
from inventory.demo_world.demand import (
    BAND_INDEX,
    Calendar,
    CityDays,
    StyleEffects,
    build_calendar,
    online_style_mean,
    promo_calendar,
    store_style_mean,
    style_effects,
)
from inventory.demo_world.network import ONLINE_CODE, Network, build_network
from inventory.demo_world.params import DemandParameters
from inventory.demo_world.simulate import LocationHistory, ReplenishmentPolicy, simulate_location
from inventory.demo_world.spec import WorldSpec
from inventory.demo_world.weather import CityWeather, load_city_weather, smoothed_temperature
from inventory.models import Location, Tier

# Independent random streams, so changing one part never reshuffles another.
_STREAM_NETWORK, _STREAM_CATALOG, _STREAM_PROMO, _STREAM_STORES, _STREAM_DEMAND = range(5)


@dataclass(frozen=True)
class GeneratedWorld:
    spec: WorldSpec
    params: DemandParameters
    dates: list[dt.date]
    weather: dict[str, CityWeather]
    network: Network
    catalog: Catalog
    discount: np.ndarray  # style × day
    histories: dict[str, LocationHistory]  # by location code (stores and ONLINE)
    price_factor: dict[str, float]  # by location code


def _rng(seed: int, stream: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *key])


def city_days(weather: CityWeather, dates: list[dt.date], params: DemandParameters) -> CityDays:
    daily = weather.daily.set_index("date")
    temp = smoothed_temperature(weather.daily, params.temp_smoothing_days)
    bands = daily.loc[dates, "rain_band"].map(BAND_INDEX).to_numpy(dtype=np.int64)
    return CityDays(band=bands, temp_c=temp.loc[dates].to_numpy(dtype=float))


def _assortment(
    n_styles: int, rain_style: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Styles a store carries: a random share, always at least one rain and one other style."""
    carried = rng.random(n_styles) < share
    for group in (rain_style, ~rain_style):
        if group.any() and not (carried & group).any():
            carried[rng.choice(np.flatnonzero(group))] = True
    return np.flatnonzero(carried)


def _sku_mean(
    style_mean: np.ndarray, catalog: Catalog, styles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    sku_index = np.flatnonzero(np.isin(catalog.sku_style, styles))
    mean = style_mean[catalog.sku_style[sku_index]] * catalog.sku_share[sku_index, None]
    return sku_index, mean


def _simulate_store(
    store: Location,
    number: int,
    scale: float,
    effects: StyleEffects,
    calendar: Calendar,
    cities: dict[str, CityDays],
    catalog: Catalog,
    spec: WorldSpec,
    params: DemandParameters,
) -> LocationHistory:
    rng = _rng(spec.seed, _STREAM_DEMAND, number)
    styles = _assortment(
        len(catalog.styles), effects.rain_style, params.tier_assortment[store.tier], rng
    )
    style_mean = store_style_mean(effects, calendar, cities[store.city], store.city, scale, params)
    sku_index, mean = _sku_mean(style_mean, catalog, styles)
    n_styles = len(catalog.styles)
    # A buyer's allocation errors: depth varies by store × style, and some are far too deep.
    depth = rng.lognormal(0.0, params.cover_sigma, n_styles)
    depth *= np.where(rng.random(n_styles) < params.overstock_share, params.overstock_factor, 1.0)
    sku_depth = depth[catalog.sku_style[sku_index]]
    policy = ReplenishmentPolicy(
        review_days=params.review_days,
        # Stores are spread over the week, as a DC balances its picking waves.
        review_offset=number % params.review_days,
        lead_days=params.lead_days,
        min_stock=np.ceil(params.min_stock_units * np.maximum(sku_depth, 1.0)),
        cover=params.cover_factor * sku_depth,
    )
    return simulate_location(sku_index, mean, spec.history_days, policy, params, rng)


def generate_world(
    spec: WorldSpec, params: DemandParameters, weather_dir: Path | None = None
) -> GeneratedWorld:
    """The world of ``spec``; the weather is the packaged real record unless ``weather_dir``."""
    spec.check_weather_window()
    dates = spec.dates()
    weather = {city: load_city_weather(city, weather_dir) for city in spec.cities}
    cities = {city: city_days(w, dates, params) for city, w in weather.items()}
    calendar = build_calendar(dates, params)
    catalog = build_catalog(spec.styles, spec.now.date(), params, _rng(spec.seed, _STREAM_CATALOG))
    discount = promo_calendar(len(catalog.styles), dates, params, _rng(spec.seed, _STREAM_PROMO))
    effects = style_effects(catalog, discount, cities, params)
    network = build_network(spec.stores, spec.cities, _rng(spec.seed, _STREAM_NETWORK))

    size_rng = _rng(spec.seed, _STREAM_STORES)
    histories: dict[str, LocationHistory] = {}
    price_factor: dict[str, float] = {}
    footfall = dict.fromkeys(spec.cities, 0.0)
    for number, store in enumerate(network.stores):
        scale = params.tier_demand[store.tier] * size_rng.lognormal(0.0, params.store_size_sigma)
        footfall[store.city] += scale
        histories[store.code] = _simulate_store(
            store, number, scale, effects, calendar, cities, catalog, spec, params
        )
        price_factor[store.code] = params.outlet_price_factor if store.tier == Tier.OUTLET else 1.0

    online_rng = _rng(spec.seed, _STREAM_DEMAND, len(network.stores))
    online_mean = online_style_mean(effects, calendar, cities, footfall, params)
    sku_index, mean = _sku_mean(online_mean, catalog, np.arange(len(catalog.styles)))
    online_policy = ReplenishmentPolicy(
        review_days=params.online_review_days,
        review_offset=0,
        lead_days=params.lead_days,
        min_stock=np.full(len(sku_index), float(params.min_stock_units)),
        cover=np.full(len(sku_index), params.cover_factor),
    )
    histories[ONLINE_CODE] = simulate_location(
        sku_index, mean, spec.history_days, online_policy, params, online_rng
    )
    price_factor[ONLINE_CODE] = 1.0
    return GeneratedWorld(
        spec=spec,
        params=params,
        dates=dates,
        weather=weather,
        network=network,
        catalog=catalog,
        discount=discount,
        histories=histories,
        price_factor=price_factor,
    )
