"""Network: a DC per region, stores per city, the ONLINE pool; lanes and entitlements."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inventory.demo_world.params import (
    CITY_CENTRES,
    CITY_CODES,
    CITY_STORE_WEIGHTS,
    ONLINE_CITY,
)
from inventory.demo_world.vocabulary import CITY_REGION, CITY_ZH, REGION_ZH
from inventory.models import Channel, ChannelEntitlement, Lane, Location, LocationKind, Tier

ONLINE_CODE = "ONLINE"
#: Stores sit within this radius of the city centre.
STORE_RADIUS_KM = 18.0
SHIP_FROM_STORE_SHARE = 0.6  # of A-stores


@dataclass(frozen=True)
class Network:
    locations: list[Location]
    lanes: list[Lane]
    entitlements: list[ChannelEntitlement]

    @property
    def stores(self) -> list[Location]:
        return [loc for loc in self.locations if loc.kind == LocationKind.STORE]


def dc_code(city: str) -> str:
    return f"DC-{CITY_CODES[city]}"


def allocate_stores(n_stores: int, cities: tuple[str, ...]) -> dict[str, int]:
    """Stores per city by the city weights (largest remainder), each city at least one if room."""
    if n_stores >= len(cities):
        counts = {c: 1 for c in cities}
        rest = n_stores - len(cities)
    else:
        counts = {c: 0 for c in cities}
        rest = n_stores
    total_weight = sum(CITY_STORE_WEIGHTS[c] for c in cities)
    shares = {c: CITY_STORE_WEIGHTS[c] / total_weight * rest for c in cities}
    for city in cities:
        counts[city] += int(shares[city])
    leftover = n_stores - sum(counts.values())
    by_remainder = sorted(cities, key=lambda c: shares[c] - int(shares[c]), reverse=True)
    for city in by_remainder[:leftover]:
        counts[city] += 1
    return counts


def _tiers(n: int) -> list[Tier]:
    """Roughly 30 % A, 55 % B, 15 % outlet: the first store of a city is an A flagship, and a
    city with three stores or more has an outlet."""
    if n < 3:
        return [Tier.A, Tier.B][:n]
    n_a = math.ceil(0.3 * n)
    n_outlet = max(1, round(0.15 * n))
    return [Tier.A] * n_a + [Tier.B] * (n - n_a - n_outlet) + [Tier.OUTLET] * n_outlet


def _offset(lat: float, lon: float, rng: np.random.Generator) -> tuple[float, float]:
    radius = STORE_RADIUS_KM * math.sqrt(rng.random())
    angle = 2 * math.pi * rng.random()
    dlat = radius * math.cos(angle) / 111.0
    dlon = radius * math.sin(angle) / (111.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def build_locations(
    n_stores: int, cities: tuple[str, ...], rng: np.random.Generator
) -> list[Location]:
    locations: list[Location] = []
    for city, region in CITY_REGION.items():
        lat, lon = CITY_CENTRES[city]
        locations.append(
            Location(
                code=dc_code(city),
                kind=LocationKind.DC,
                name_en=f"{region} DC ({city})",
                name_zh=f"{REGION_ZH[region]}仓 ({CITY_ZH[city]})",
                city=city,
                region=region,
                lat=lat,
                lon=lon,
                tier=Tier.A,
            )
        )
    lat, lon = CITY_CENTRES[ONLINE_CITY]
    locations.append(
        Location(
            code=ONLINE_CODE,
            kind=LocationKind.ONLINE,
            name_en="Online pool",
            name_zh="线上库存池",
            city=ONLINE_CITY,
            region=CITY_REGION[ONLINE_CITY],
            lat=lat,
            lon=lon,
            tier=Tier.A,
            ship_from_store=True,
            serving_dc=dc_code(ONLINE_CITY),
        )
    )
    for city, count in allocate_stores(n_stores, cities).items():
        centre = CITY_CENTRES[city]
        for i, tier in enumerate(_tiers(count), start=1):
            s_lat, s_lon = _offset(*centre, rng)
            kind_en = {"A": "flagship", "B": "store", "outlet": "outlet"}[tier]
            kind_zh = {"A": "旗舰店", "B": "门店", "outlet": "奥莱店"}[tier]
            locations.append(
                Location(
                    code=f"{CITY_CODES[city]}-S{i:02d}",
                    kind=LocationKind.STORE,
                    name_en=f"{city} {kind_en} {i:02d}",
                    name_zh=f"{CITY_ZH[city]}{kind_zh}{i:02d}",
                    city=city,
                    region=CITY_REGION[city],
                    lat=s_lat,
                    lon=s_lon,
                    tier=tier,
                    ship_from_store=tier == Tier.A and bool(rng.random() < SHIP_FROM_STORE_SHARE),
                    serving_dc=dc_code(city),
                )
            )
    return locations


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def lane_terms(distance_km: float, same_city: bool) -> tuple[float, float, float]:
    """(lead time h, cost per unit, cost per shipment) of a lane.

    Inside a city a courier van delivers the same or next day; between cities goods go by
    line-haul truck (road ≈ 1.3 × great-circle, ≈ 50 km/h including stops, one day handling).
    """
    if same_city:
        hours = 6.0 + distance_km / 25.0
        return round(hours, 1), round(2.0 + 0.02 * distance_km, 2), 60.0
    road_km = 1.3 * distance_km
    hours = 24.0 + road_km / 50.0
    return round(hours, 1), round(4.0 + 0.006 * road_km, 2), round(180.0 + 0.1 * road_km, 2)


def build_lanes(locations: list[Location]) -> list[Lane]:
    """Every ordered pair of physical locations; ONLINE is supplied only by DCs and stores."""
    lanes = []
    for source in locations:
        for dest in locations:
            if source.code == dest.code or source.kind == LocationKind.ONLINE:
                continue
            distance = haversine_km(source.lat, source.lon, dest.lat, dest.lon)
            hours, per_unit, per_shipment = lane_terms(distance, source.city == dest.city)
            lanes.append(
                Lane(
                    source_code=source.code,
                    dest_code=dest.code,
                    distance_km=round(distance, 1),
                    lead_time_hours=hours,
                    cost_per_unit=per_unit,
                    cost_per_shipment=per_shipment,
                )
            )
    return lanes


def build_entitlements(locations: list[Location]) -> list[ChannelEntitlement]:
    """Outlet stock never sells online; A-stores that ship from store may; DCs sell on neither."""
    rows = []
    for loc in locations:
        store = loc.kind == LocationKind.STORE
        online = loc.kind == LocationKind.ONLINE or (
            store and loc.tier != Tier.OUTLET and loc.ship_from_store
        )
        rows.append(
            ChannelEntitlement(location_code=loc.code, channel=Channel.STORE, allowed=store)
        )
        rows.append(
            ChannelEntitlement(location_code=loc.code, channel=Channel.ONLINE, allowed=online)
        )
    return rows


def build_network(n_stores: int, cities: tuple[str, ...], rng: np.random.Generator) -> Network:
    locations = build_locations(n_stores, cities, rng)
    return Network(locations, build_lanes(locations), build_entitlements(locations))
