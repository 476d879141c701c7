"""The demo retailer's own vocabulary: five cities, their regions and eleven categories.

These are the demo world's data, not the product's: the generator writes them into the pool as
region, city and category rows (``demo_terms``), exactly as a retailer imports its own, and
every other module reads the pool (``inventory.vocabulary.load_vocabulary``).
"""

from __future__ import annotations

from inventory.demo_world.params import CITY_CENTRES
from inventory.models import Category, City, Region
from inventory.vocabulary import Vocabulary, vocabulary_from_rows

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

#: Other words shoppers and staff use; the offline planner understands them too.
CATEGORY_SYNONYMS: dict[str, list[str]] = {
    "rain_boots": ["rain boot", "rainboots", "雨鞋"],
    "umbrellas": ["umbrella", "伞"],
    "rain_jackets": ["rain jacket", "raincoat", "雨衣外套"],
    "sneakers": ["sneaker", "trainers"],
    "tshirts": ["t-shirt", "tee"],
}


def demo_terms() -> tuple[list[Region], list[City], list[Category]]:
    """The demo retailer's regions, cities and categories as pool rows."""
    regions = [Region(code=r, name_en=r, name_zh=zh) for r, zh in REGION_ZH.items()]
    cities = [
        City(
            code=city,
            name_en=city,
            name_zh=CITY_ZH[city],
            region=region,
            lat=CITY_CENTRES[city][0],
            lon=CITY_CENTRES[city][1],
            weather_key=city,
        )
        for city, region in CITY_REGION.items()
    ]
    categories = [
        Category(
            code=code,
            name_en=code.replace("_", " "),
            name_zh=zh,
            synonyms=CATEGORY_SYNONYMS.get(code, []),
            rain_sensitive=code in RAIN_CATEGORIES,
        )
        for code, zh in CATEGORY_ZH.items()
    ]
    return regions, cities, categories


#: The demo vocabulary without a pool, for the generator's own checks (e.g. ``WorldSpec``).
DEMO_VOCABULARY: Vocabulary = vocabulary_from_rows(*demo_terms())
