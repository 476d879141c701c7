"""The domain's fixed vocabulary: cities, regions, CMA rain bands, rain-sensitive categories."""

from __future__ import annotations

from enum import StrEnum

#: City → region. The five cities of the real weather data (DESIGN §8).
CITY_REGION: dict[str, str] = {
    "Beijing": "North",
    "Shenyang": "Northeast",
    "Shanghai": "East",
    "Guangzhou": "South",
    "Chengdu": "Southwest",
}

CITY_ZH: dict[str, str] = {
    "Beijing": "北京",
    "Shenyang": "沈阳",
    "Shanghai": "上海",
    "Guangzhou": "广州",
    "Chengdu": "成都",
}

REGION_ZH: dict[str, str] = {
    "North": "华北",
    "Northeast": "东北",
    "East": "华东",
    "South": "华南",
    "Southwest": "西南",
}

#: Categories whose demand rises with rain.
RAIN_CATEGORIES: frozenset[str] = frozenset(
    {"rain_boots", "waterproof_shoes", "shoe_covers", "umbrellas", "rain_jackets"}
)

#: Everything else the demo retailer sells; store footfall for these falls on wet days.
OTHER_CATEGORIES: frozenset[str] = frozenset(
    {"sneakers", "tshirts", "jeans", "dresses", "sandals", "hoodies"}
)

CATEGORY_ZH: dict[str, str] = {
    "rain_boots": "雨靴",
    "waterproof_shoes": "防水鞋",
    "shoe_covers": "鞋套",
    "umbrellas": "雨伞",
    "rain_jackets": "雨衣",
    "sneakers": "运动鞋",
    "tshirts": "T恤",
    "jeans": "牛仔裤",
    "dresses": "连衣裙",
    "sandals": "凉鞋",
    "hoodies": "卫衣",
}


class RainBand(StrEnum):
    """China Meteorological Administration 24-hour precipitation bands."""

    NONE = "none"  # < 0.1 mm
    LIGHT = "light"  # 小雨 0.1–9.9
    MODERATE = "moderate"  # 中雨 10–24.9
    HEAVY = "heavy"  # 大雨 25–49.9
    RAINSTORM = "rainstorm"  # 暴雨 ≥ 50 (大暴雨 ≥ 100, 特大暴雨 ≥ 250 fold in here)


RAIN_BAND_ZH: dict[RainBand, str] = {
    RainBand.NONE: "无雨",
    RainBand.LIGHT: "小雨",
    RainBand.MODERATE: "中雨",
    RainBand.HEAVY: "大雨",
    RainBand.RAINSTORM: "暴雨",
}

#: Lower bound (mm / 24 h) of each band, highest first.
_BAND_FLOORS: tuple[tuple[float, RainBand], ...] = (
    (50.0, RainBand.RAINSTORM),
    (25.0, RainBand.HEAVY),
    (10.0, RainBand.MODERATE),
    (0.1, RainBand.LIGHT),
)

WET_DAY_MM = 10.0


def rain_band(mm_per_day: float) -> RainBand:
    """The CMA band of a day's precipitation."""
    for floor, band in _BAND_FLOORS:
        if mm_per_day >= floor:
            return band
    return RainBand.NONE


def resolve_city(name: str) -> str:
    """Accept 'shanghai', 'Shanghai' or '上海'; raise ValueError naming the known cities."""
    cleaned = name.strip()
    for city, zh in CITY_ZH.items():
        if cleaned.lower() == city.lower() or cleaned == zh:
            return city
    known = ", ".join(f"{c} ({z})" for c, z in CITY_ZH.items())
    raise ValueError(f"unknown city {name!r}; known cities: {known}")
