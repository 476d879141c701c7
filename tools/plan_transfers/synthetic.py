"""Seeded synthetic networks for the benchmark and the tests.

Shaped like the demo world, not like the solver: stock was allocated against a noisy,
weather-blind estimate, then rain lifts demand in some cities, so surplus and shortage are
sparse and scattered. Nothing here knows which method will be run on it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tools.plan_transfers.models import TransferConstraints
from tools.plan_transfers.problem import LaneArrays, LocationNode, SkuNode, TransferProblem

CITIES = (
    ("Shanghai", "East", 31.23, 121.47),
    ("Beijing", "North", 39.90, 116.40),
    ("Guangzhou", "South", 23.13, 113.26),
    ("Chengdu", "Southwest", 30.66, 104.07),
    ("Shenyang", "Northeast", 41.80, 123.43),
)
LEVELS = np.array([0.1, 0.5, 0.9])
SIZES = ("35", "36", "37", "38", "39", "40", "41", "42", "43", "44")


def demand_quantiles(mean: np.ndarray, levels: np.ndarray = LEVELS) -> np.ndarray:
    """Gamma quantiles with the over-dispersion of retail counts (var = μ + 0.3 μ²)."""
    mu = np.maximum(mean, 1e-6)
    shape = 1.0 / (1.0 / mu + 0.3)
    scale = mu / shape
    q = stats.gamma.ppf(levels[None, :], shape.reshape(-1, 1), scale=scale.reshape(-1, 1))
    return q.reshape((*mean.shape, levels.size))


def _lanes(
    rng: np.random.Generator, locs: list[LocationNode], lat: np.ndarray, lon: np.ndarray
) -> LaneArrays:
    city = np.array([loc.city for loc in locs])
    n = len(locs)
    src, dst = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    src, dst = src.ravel(), dst.ravel()
    same_city = city[src] == city[dst]
    cross = ~same_city & (rng.random(src.size) < 0.02)
    keep = (src != dst) & (same_city | cross)
    src, dst = src[keep], dst[keep]
    km = 111.0 * np.hypot(lat[src] - lat[dst], (lon[src] - lon[dst]) * 0.85)
    lead = 8.0 + km / 30.0 + rng.gamma(2.0, 6.0, src.size)
    return LaneArrays(
        source=src,
        dest=dst,
        lead_time_hours=lead,
        cost_per_unit=1.5 + km * 0.01,
        cost_per_shipment=rng.uniform(20.0, 60.0, src.size),
    )


def generate(
    *,
    stores: int,
    skus: int,
    seed: int = 7,
    window_days: int = 3,
    rain_cities: tuple[str, ...] = ("Shanghai", "Guangzhou"),
    assortment: float = 0.35,
    constraints: TransferConstraints | None = None,
) -> TransferProblem:
    """A network of ``stores`` stores (plus one DC per city) and ``skus`` SKU-sizes."""
    rng = np.random.default_rng(seed)
    locs: list[LocationNode] = []
    lat: list[float] = []
    lon: list[float] = []
    for i, (name, region, clat, clon) in enumerate(CITIES):
        locs.append(LocationNode(f"DC-{name[:3].upper()}", name, region, kind="dc", sells=False))
        lat.append(clat)
        lon.append(clon)
        for k in range(i, stores, len(CITIES)):
            tier = "outlet" if rng.random() < 0.05 else ("A" if rng.random() < 0.5 else "B")
            locs.append(LocationNode(f"{name[:3].upper()}-S{k:03d}", name, region, tier=tier))
            lat.append(clat + rng.normal(0, 0.25))
            lon.append(clon + rng.normal(0, 0.25))
    sku_nodes: list[SkuNode] = []
    style = 0
    while len(sku_nodes) < skus:
        run = int(rng.integers(5, 9))
        first = int(rng.integers(0, len(SIZES) - run + 1))
        price = float(rng.choice([129.0, 199.0, 299.0, 399.0, 599.0]))
        for pos in range(run):
            if len(sku_nodes) == skus:
                break
            core = 1 <= pos < run - 1
            sku_nodes.append(
                SkuNode(
                    f"ST{style:04d}-BLK-{SIZES[first + pos]}",
                    f"ST{style:04d}",
                    SIZES[first + pos],
                    pos,
                    price,
                    core,
                )
            )
        style += 1

    n_loc, n_sku = len(locs), len(sku_nodes)
    is_store = np.array([loc.kind == "store" for loc in locs])
    size_factor = np.where(is_store, rng.lognormal(0.0, 0.4, n_loc), 0.0)
    rain = np.array([2.5 if loc.city in rain_cities else 1.0 for loc in locs])
    size_pos = np.array([s.size_index for s in sku_nodes], dtype=float)
    size_curve = np.exp(-0.5 * ((size_pos - 3.0) / 2.0) ** 2)
    popularity = rng.lognormal(-0.3, 0.6, n_sku) * size_curve
    # A store carries about a third of the styles (all sizes of a style together).
    style_of = np.array([int(s.style[2:]) for s in sku_nodes])
    carries = rng.random((n_loc, style_of.max() + 1)) < assortment
    planned = np.outer(size_factor, popularity) * carries[:, style_of]
    mean = planned * rain[:, None] * rng.lognormal(0.0, 0.3, (n_loc, n_sku))
    allocated = planned * 1.4 * rng.lognormal(0.0, 0.6, (n_loc, n_sku))
    stock = rng.poisson(allocated)
    dc = ~is_store
    stock[dc] = rng.poisson(3.0, (int(dc.sum()), n_sku)) * (
        rng.random((int(dc.sum()), n_sku)) < 0.3
    )
    safety = np.minimum(stock, (rng.random((n_loc, n_sku)) < 0.2).astype(np.int64))
    min_display = np.where(is_store[:, None], (rng.random((n_loc, n_sku)) < 0.3).astype(int), 0)
    days = np.where(rng.random((n_loc, n_sku)) < 0.08, rng.uniform(0, 7, (n_loc, n_sku)), np.inf)
    return TransferProblem(
        locations=locs,
        skus=sku_nodes,
        stock=stock.astype(np.int64),
        atp=(stock - safety).astype(np.int64),
        min_display=min_display.astype(np.int64),
        days_since_received=days,
        demand_levels=LEVELS,
        demand_quantiles=demand_quantiles(mean),
        demand_mean=mean,
        lanes=_lanes(rng, locs, np.array(lat), np.array(lon)),
        window_days=window_days,
        constraints=constraints or TransferConstraints(),
    )
