"""Which store of a city will sell a style: the style's city total shared by a year of sales.

The forecaster predicts every (store, style) from that series' own recent weeks, so how it shares
a city's demand of a style over the stores is as noisy as the few units each store sold lately;
and the planner ships to the stores whose forecast is highest, so it selects that noise (the
stores it ships to were forecast 1.08–1.13× the world's demand there, docs/optimizer.md). With
the world's split in its place the held-out plans earned 0.03–0.04 more of the perfect-mean
plan (``truth:placement``, docs/optimizer.md "2026-12-07: where the held-out capture is lost").

So, as the size curves do for sizes, each style keeps the forecast's total over the stores of a
city (its level, its promotions, its weather), and that total is shared over the stores carrying
it by a rate read from the sales before the clock:

    λ_ls = R_l · C_s · θ_ls

R_l the location's effect (its size and format) and C_s the style's, the main effects of a
Poisson model of the units sold per (location, style) fitted by iterative proportional fitting
over every location of the same kind (stores, online, DCs) and every style in the plan, each
pulled towards its block's average by ``PSEUDO_UNITS``; θ what a store's own taste for a style
adds, shrunk by empirical Bayes: the between-cell variance τ² by moments (the scatter of the
cells around R·C beyond their Poisson noise), and each cell keeps Z = τ²μ ÷ (1 + τ²μ) of its own
deviation. Where the history shows no store × style taste beyond noise, the split is the main
effects'; where it shows one, a well-sold cell keeps it. Only sales before the clock are read.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from tools.plan_transfers.expected_sales import scale_counts

#: How the planner shares a style's city total over the stores: ``history`` (the rates above)
#: or ``forecast`` (each store's own forecast, the rule before 2026-12-07).
Placement = Literal["history", "forecast"]
PLACEMENT: Placement = "history"
#: Pseudo-units at the block's average rate added to each location's and style's total.
PSEUDO_UNITS = 1.0
#: Rounds of iterative proportional fitting (the effects stop moving well before).
IPF_ROUNDS = 30
#: Upper bound of τ² (a store selling 3× or ⅓ of the product is plenty).
MAX_TAU2 = 4.0


def location_style_rates(sold: np.ndarray, carried: np.ndarray, block: np.ndarray) -> np.ndarray:
    """λ per (location, style) cell, shape of ``sold``; 0 where not ``carried`` and at a location
    that sold nothing in the block (no history to share by).

    ``sold``: units sold per (location, style) before the clock; ``carried``: the cells the
    forecast covers; ``block``: one label per location (its kind), the effects are fitted within
    each block."""
    rates = np.zeros(sold.shape)
    for label in np.unique(block):
        rows = np.flatnonzero(block == label)
        rates[rows] = _block_rates(sold[rows], carried[rows])
    return rates


def _block_rates(y: np.ndarray, carried: np.ndarray) -> np.ndarray:
    y = np.where(carried, y, 0.0)
    cells = carried.astype(float)
    if cells.sum() == 0:
        return np.zeros(y.shape)
    average = y.sum() / cells.sum()
    if average <= 0:
        return np.zeros(y.shape)  # nothing sold yet: no rate, the forecast's split stays
    R = np.ones(y.shape[0])
    C = np.ones(y.shape[1])
    for _ in range(IPF_ROUNDS):
        exposure_l = cells @ C
        R = (y.sum(axis=1) + PSEUDO_UNITS) / (exposure_l + PSEUDO_UNITS / average)
        exposure_s = R @ cells
        C = (y.sum(axis=0) + PSEUDO_UNITS) / (exposure_s + PSEUDO_UNITS / average)
    mu = np.outer(R, C) * cells
    seen = mu > 0
    tau2 = 0.0
    if seen.any():
        excess = ((y - mu) ** 2 - y)[seen].sum()
        tau2 = float(np.clip(excess / (mu[seen] ** 2).sum(), 0.0, MAX_TAU2))
    z = np.where(seen, tau2 * mu / (1.0 + tau2 * mu), 0.0)
    own = np.divide(y, mu, out=np.ones_like(mu), where=seen)
    rates = mu * (1.0 + z * (own - 1.0))
    rates[y.sum(axis=1) == 0] = 0.0  # a location that sold nothing yet (new): its forecast stays
    return rates


def place_stores(
    mean: np.ndarray,
    quantiles: np.ndarray,
    sold: np.ndarray,
    style_of: np.ndarray,
    city_of: np.ndarray,
    kind_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` (locations, skus) and ``quantiles`` (locations, skus, levels) with each style's
    total over the locations of one city and kind kept and shared over them by
    ``location_style_rates``; within a location a style keeps its split over sizes and each
    position its dispersion (``expected_sales.scale_counts``). ``sold`` is units per
    (location, SKU) before the clock."""
    styles, style_index = np.unique(style_of, return_inverse=True)
    n_loc = mean.shape[0]
    by_style = np.zeros((n_loc, styles.size))
    np.add.at(by_style.T, style_index, mean.T)
    sold_style = np.zeros((n_loc, styles.size))
    np.add.at(sold_style.T, style_index, sold.T)
    carried = by_style > 0
    rates = location_style_rates(sold_style, carried, np.asarray(kind_of))
    group, _ = pd.factorize(pd.Series([f"{c}|{k}" for c, k in zip(city_of, kind_of, strict=True)]))
    target = by_style.copy()  # cells without a rate keep the forecast's total
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        rated = rates[rows] > 0
        total = np.where(rated, by_style[rows], 0.0).sum(axis=0)
        weight = rates[rows].sum(axis=0)
        share = np.divide(rates[rows], weight, out=np.zeros_like(rates[rows]), where=weight > 0)
        target[rows] = np.where(rated, share * total, by_style[rows])
    factor = np.divide(target, by_style, out=np.ones_like(target), where=carried)[:, style_index]
    return scale_counts(mean, quantiles, factor)
