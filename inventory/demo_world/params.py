"""The demo world's documented parameters, in one place so docs, generator and tests agree.

docs/demo-world.md explains each number; tests/inventory/test_demo_world_rain.py measures the
generated data against the rain parameters here and fails when they drift apart.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from inventory.vocabulary import RainBand


class CategoryProfile(BaseModel):
    """How one category sells: base demand, price band, temperature response, size run."""

    model_config = ConfigDict(frozen=True)

    base_units_per_day: float = Field(
        gt=0, description="Units of one style (all colours and sizes) an A-store sells per day."
    )
    price_min: float = Field(gt=0)
    price_max: float = Field(gt=0)
    temp_beta: float = Field(description="Log-demand change per +10 °C of smoothed temperature.")
    elasticity: float = Field(gt=0, description="Price elasticity: uplift = (1-discount)^-e.")
    size_kind: str = Field(description="shoes | apparel | covers | one_size")
    season: str = Field(description="SS | AW | core")
    prefix: str = Field(min_length=2, max_length=2, description="Style code prefix.")


CATEGORY_PROFILES: dict[str, CategoryProfile] = {
    "rain_boots": CategoryProfile(
        base_units_per_day=0.5,
        price_min=199,
        price_max=399,
        temp_beta=0.0,
        elasticity=1.6,
        size_kind="shoes",
        season="core",
        prefix="RB",
    ),
    "waterproof_shoes": CategoryProfile(
        base_units_per_day=0.45,
        price_min=399,
        price_max=799,
        temp_beta=0.0,
        elasticity=1.8,
        size_kind="shoes",
        season="core",
        prefix="WS",
    ),
    "shoe_covers": CategoryProfile(
        base_units_per_day=0.6,
        price_min=29,
        price_max=59,
        temp_beta=0.0,
        elasticity=1.2,
        size_kind="covers",
        season="core",
        prefix="SC",
    ),
    "umbrellas": CategoryProfile(
        base_units_per_day=0.9,
        price_min=59,
        price_max=159,
        temp_beta=0.1,
        elasticity=1.4,
        size_kind="one_size",
        season="core",
        prefix="UM",
    ),
    "rain_jackets": CategoryProfile(
        base_units_per_day=0.45,
        price_min=299,
        price_max=699,
        temp_beta=-0.1,
        elasticity=1.8,
        size_kind="apparel",
        season="SS",
        prefix="RJ",
    ),
    "sneakers": CategoryProfile(
        base_units_per_day=1.4,
        price_min=399,
        price_max=999,
        temp_beta=0.0,
        elasticity=2.0,
        size_kind="shoes",
        season="core",
        prefix="SN",
    ),
    "tshirts": CategoryProfile(
        base_units_per_day=1.6,
        price_min=99,
        price_max=199,
        temp_beta=0.35,
        elasticity=2.2,
        size_kind="apparel",
        season="SS",
        prefix="TS",
    ),
    "jeans": CategoryProfile(
        base_units_per_day=1.1,
        price_min=299,
        price_max=599,
        temp_beta=-0.05,
        elasticity=2.0,
        size_kind="apparel",
        season="core",
        prefix="JN",
    ),
    "dresses": CategoryProfile(
        base_units_per_day=0.8,
        price_min=299,
        price_max=699,
        temp_beta=0.3,
        elasticity=2.2,
        size_kind="apparel",
        season="SS",
        prefix="DR",
    ),
    "sandals": CategoryProfile(
        base_units_per_day=0.8,
        price_min=199,
        price_max=399,
        temp_beta=0.5,
        elasticity=2.0,
        size_kind="shoes",
        season="SS",
        prefix="SD",
    ),
    "hoodies": CategoryProfile(
        base_units_per_day=0.9,
        price_min=299,
        price_max=499,
        temp_beta=-0.4,
        elasticity=2.0,
        size_kind="apparel",
        season="AW",
        prefix="HD",
    ),
}

#: Size runs (smallest first) and the share of a style's demand each size takes.
SIZE_RUNS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "shoes": (
        ("35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45"),
        (0.03, 0.06, 0.10, 0.13, 0.14, 0.14, 0.13, 0.11, 0.08, 0.05, 0.03),
    ),
    "apparel": (
        ("XS", "S", "M", "L", "XL", "XXL"),
        (0.06, 0.17, 0.28, 0.26, 0.16, 0.07),
    ),
    "covers": (("S", "M", "L", "XL"), (0.2, 0.35, 0.3, 0.15)),
    "one_size": (("OS",), (1.0,)),
}

#: Sizes a store must keep as an unbroken run (the middle of each run).
CORE_SIZES: dict[str, tuple[str, ...]] = {
    "shoes": ("37", "38", "39", "40", "41", "42"),
    "apparel": ("S", "M", "L", "XL"),
    "covers": ("M", "L"),
    "one_size": ("OS",),
}

COLOURS: tuple[tuple[str, str, str], ...] = (
    ("BLK", "black", "黑"),
    ("NVY", "navy", "藏青"),
    ("YEL", "yellow", "黄"),
    ("RED", "red", "红"),
    ("WHT", "white", "白"),
    ("GRY", "grey", "灰"),
    ("KHK", "khaki", "卡其"),
    ("PNK", "pink", "粉"),
)


class DemandParameters(BaseModel):
    """Every multiplier of the demand model (docs/demo-world.md §Demand)."""

    model_config = ConfigDict(frozen=True)

    rain_uplift: dict[RainBand, float] = Field(
        default={
            RainBand.NONE: 1.0,
            RainBand.LIGHT: 1.3,
            RainBand.MODERATE: 2.0,
            RainBand.HEAVY: 3.0,
            RainBand.RAINSTORM: 4.0,
        },
        description="Store demand multiplier of rain categories by the city's CMA band that day.",
    )
    store_footfall: dict[RainBand, float] = Field(
        default={
            RainBand.NONE: 1.0,
            RainBand.LIGHT: 0.95,
            RainBand.MODERATE: 0.85,
            RainBand.HEAVY: 0.7,
            RainBand.RAINSTORM: 0.55,
        },
        description="Store demand multiplier of the other categories (lost footfall).",
    )
    online_shift: float = Field(
        default=0.6, ge=0, le=1, description="Share of lost store demand that reappears online."
    )
    online_share: float = Field(
        default=0.2, gt=0, description="Online demand of a city as a share of its store demand."
    )
    online_rain_fraction: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Online rain-category uplift as a fraction of the store uplift (delivery lag).",
    )
    tier_demand: dict[str, float] = Field(default={"A": 1.0, "B": 0.6, "outlet": 0.45})
    tier_assortment: dict[str, float] = Field(
        default={"A": 0.8, "B": 0.55, "outlet": 0.4},
        description="Share of styles a store of this tier carries.",
    )
    outlet_price_factor: float = Field(default=0.7, description="Outlets sell at 30 % off.")
    weekday: tuple[float, ...] = Field(
        default=(0.85, 0.85, 0.9, 0.95, 1.1, 1.3, 1.25), description="Monday first."
    )
    holiday_store: float = Field(default=1.35, description="Public holidays (not Spring Festival).")
    spring_festival_store: float = Field(default=0.6, description="Stores quiet, people travel.")
    double11_online: float = Field(default=4.0, description="11 November, online only.")
    mid_year_online: float = Field(default=2.0, description="18 June (618), online only.")
    temp_reference_c: float = 15.0
    temp_smoothing_days: int = Field(default=14, description="Rolling mean so season, not noise.")
    promo_weekly_start_probability: float = 0.05
    promo_days: int = 7
    promo_discounts: tuple[float, ...] = (0.2, 0.3, 0.4)
    promo_plan_lead_days: int = Field(
        default=21, ge=0, description="The retailer plans each promo this long before it starts."
    )
    style_popularity_sigma: float = Field(default=0.5, description="Lognormal spread of styles.")
    store_size_sigma: float = Field(default=0.25, description="Lognormal spread of store sizes.")
    nb_shape: float = Field(
        default=2.0, gt=0, description="Negative-binomial shape r: variance = μ + μ²/r."
    )
    review_days: int = Field(default=7, description="Stores reorder once a week.")
    online_review_days: int = Field(default=1, description="The web warehouse reorders daily.")
    lead_days: int = Field(default=2, description="DC pick + delivery of a replenishment.")
    cover_sigma: float = Field(
        default=0.5,
        description="Lognormal spread of each store × style's stocking depth: the imbalance "
        "that makes transfers worthwhile (some stores run short, others sit on surplus).",
    )
    cover_factor: float = Field(default=1.3, description="Median order-up-to, in review+lead days.")
    min_stock_units: int = Field(default=2, description="Order-up-to floor: display + one.")
    overstock_share: float = Field(
        default=0.12, ge=0, le=1, description="Share of store × style allocations set too deep."
    )
    overstock_factor: float = Field(
        default=4.0, ge=1, description="How much deeper an over-allocated store × style is kept."
    )
    safety_days: float = 1.5
    plan_window_days: int = Field(default=28, description="Trailing window of the reorder rate.")


DEFAULT_PARAMETERS = DemandParameters()

#: Share of stores per city (the retailer is strongest in Shanghai and Beijing).
CITY_STORE_WEIGHTS: dict[str, float] = {
    "Shanghai": 0.26,
    "Beijing": 0.24,
    "Guangzhou": 0.2,
    "Chengdu": 0.17,
    "Shenyang": 0.13,
}

#: City centres (lat, lon) and the district names stores are named after.
CITY_CENTRES: dict[str, tuple[float, float]] = {
    "Beijing": (39.904, 116.407),
    "Shanghai": (31.230, 121.474),
    "Guangzhou": (23.129, 113.264),
    "Chengdu": (30.573, 104.066),
    "Shenyang": (41.806, 123.431),
}

CITY_CODES: dict[str, str] = {
    "Beijing": "BEI",
    "Shanghai": "SHA",
    "Guangzhou": "GUA",
    "Chengdu": "CHE",
    "Shenyang": "SHE",
}

#: Where the e-commerce warehouse of the ONLINE pool sits.
ONLINE_CITY = "Shanghai"
