"""What the retailer sells: styles over the vocabulary's categories, colours, ordered size runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from inventory.demo_world.params import (
    CATEGORY_PROFILES,
    COLOURS,
    CORE_SIZES,
    SIZE_RUNS,
    DemandParameters,
)
from inventory.demo_world.vocabulary import CATEGORY_ZH, RAIN_CATEGORIES
from inventory.models import Sku, Style

#: Category order used to deal styles out: rain categories first, so a small world has them all.
CATEGORY_ORDER: tuple[str, ...] = (
    "rain_boots",
    "umbrellas",
    "rain_jackets",
    "waterproof_shoes",
    "shoe_covers",
    "sneakers",
    "tshirts",
    "jeans",
    "dresses",
    "sandals",
    "hoodies",
)
#: Relative number of styles per category in a full-size world.
CATEGORY_STYLE_WEIGHT: dict[str, float] = {
    "rain_boots": 1.0,
    "umbrellas": 1.0,
    "rain_jackets": 0.8,
    "waterproof_shoes": 0.8,
    "shoe_covers": 0.5,
    "sneakers": 1.4,
    "tshirts": 1.4,
    "jeans": 1.0,
    "dresses": 1.0,
    "sandals": 0.8,
    "hoodies": 0.8,
}


@dataclass(frozen=True)
class Catalog:
    """Styles and SKUs plus the per-SKU arrays the demand model multiplies with."""

    styles: list[Style]
    skus: list[Sku]
    sku_style: np.ndarray  # index into styles, per SKU
    sku_share: np.ndarray  # colour share × size share: the SKU's part of its style's demand
    sku_core: np.ndarray  # bool: a core size
    style_popularity: np.ndarray

    def style_categories(self) -> list[str]:
        return [s.category for s in self.styles]


def styles_per_category(n_styles: int) -> dict[str, int]:
    """Every category once (as far as n allows), the rest by weight, largest remainder."""
    counts = {c: 0 for c in CATEGORY_ORDER}
    for category in CATEGORY_ORDER[:n_styles]:
        counts[category] = 1
    rest = n_styles - sum(counts.values())
    total = sum(CATEGORY_STYLE_WEIGHT.values())
    shares = {c: CATEGORY_STYLE_WEIGHT[c] / total * rest for c in CATEGORY_ORDER}
    for category in CATEGORY_ORDER:
        counts[category] += int(shares[category])
    leftover = n_styles - sum(counts.values())
    ranked = sorted(CATEGORY_ORDER, key=lambda c: shares[c] - int(shares[c]), reverse=True)
    for category in ranked[:leftover]:
        counts[category] += 1
    return counts


def season_of(kind: str, now: dt.date) -> tuple[str, str | None]:
    """Season label and end date relative to the world's clock (SS ends Aug 31, AW Feb 28)."""
    yy = now.year % 100
    if kind == "SS":
        return f"SS{yy:02d}", dt.date(now.year, 8, 31).isoformat()
    if kind == "AW":
        start_year = now.year if now.month >= 3 else now.year - 1
        return f"AW{start_year % 100:02d}", dt.date(start_year + 1, 2, 28).isoformat()
    return "core", None


def _price(low: float, high: float, rng: np.random.Generator) -> float:
    """Chinese retail prices end in 9."""
    raw = rng.uniform(low, high)
    return float(max(9, int(raw / 10) * 10 + 9))


def build_catalog(
    n_styles: int, now: dt.date, params: DemandParameters, rng: np.random.Generator
) -> Catalog:
    styles: list[Style] = []
    skus: list[Sku] = []
    sku_style: list[int] = []
    sku_share: list[float] = []
    sku_core: list[bool] = []
    numbers = dict.fromkeys(CATEGORY_ORDER, 0)
    for category, count in styles_per_category(n_styles).items():
        profile = CATEGORY_PROFILES[category]
        sizes, size_weights = SIZE_RUNS[profile.size_kind]
        for _ in range(count):
            numbers[category] += 1
            code = f"{profile.prefix}{numbers[category]:03d}"
            price = _price(profile.price_min, profile.price_max, rng)
            season, season_end = season_of(profile.season, now)
            n_colours = int(rng.integers(1, 4))
            colour_idx = rng.choice(len(COLOURS), size=n_colours, replace=False)
            colour_share = rng.dirichlet(np.full(n_colours, 4.0))
            style_index = len(styles)
            styles.append(
                Style(
                    code=code,
                    name_en=f"{category.replace('_', ' ').title()} {numbers[category]:03d}",
                    name_zh=f"{CATEGORY_ZH[category]} {numbers[category]:03d}",
                    category=category,
                    season=season,
                    season_end=season_end,
                    price=price,
                    cost=round(price * rng.uniform(0.35, 0.5), 2),
                    size_run=list(sizes),
                    core_sizes=list(CORE_SIZES[profile.size_kind]),
                    rain_sensitive=category in RAIN_CATEGORIES,
                )
            )
            for ci, cshare in zip(colour_idx, colour_share, strict=True):
                colour = COLOURS[int(ci)][0]
                for si, (size, sshare) in enumerate(zip(sizes, size_weights, strict=True)):
                    skus.append(
                        Sku(
                            code=f"{code}-{colour}-{size}",
                            style_code=code,
                            colour=colour,
                            size=size,
                            size_index=si,
                        )
                    )
                    sku_style.append(style_index)
                    sku_share.append(float(cshare) * sshare)
                    sku_core.append(size in CORE_SIZES[profile.size_kind])
    popularity = rng.lognormal(0.0, params.style_popularity_sigma, size=len(styles))
    return Catalog(
        styles=styles,
        skus=skus,
        sku_style=np.asarray(sku_style, dtype=np.int64),
        sku_share=np.asarray(sku_share, dtype=float),
        sku_core=np.asarray(sku_core, dtype=bool),
        style_popularity=popularity,
    )
