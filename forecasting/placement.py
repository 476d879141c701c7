"""Where a group's demand goes: each series' share of its city × channel × category total.

Why a separate step. A transfer plan needs to know *which* store and *which* size will sell, and
a series of one size (or style) at one store sells a few units a month. The model forecasts
every series from its own recent level, so its split of a city's category total over stores and
items is as noisy as those few units: on the 10 act worlds of the evals, fixing only this split
(the level kept) recovered ¥752 of the ¥1,507 the forecast cost the plans
(``benchmarks/decisions.py``), more than fixing the level. The group total is well determined;
the split is better read from a longer history, pooled the way demand is structured.

Model. Within a channel × category block (every city), a series of location l and item k (a SKU,
or a style at the style level) has a demand rate per in-stock, non-promo day

    λ_lk = R_l · C_k · θ_lk

R_l the location's effect (its size, its format), C_k the item's (its popularity and, for a SKU,
its size's share), both pooled across every city and estimated by Poisson maximum likelihood of
the main-effects model with exposure (iterative proportional fitting), each pulled towards its
block's average by ``PSEUDO_UNITS`` so a store or item with little history gets the average. θ
is what a store's taste adds to the product (mean 1, variance τ²), estimated by empirical Bayes:
τ² from how a series' deviation from R·C in the first half of the window persists into the
second (day-to-day noise does not persist, a real preference does), the day-level spread κ by
moments, and each series keeps Z = τ² / (τ² + v) of its own deviation, v its sampling variance.
Where the history shows no store × item preference, the split is the main-effects model's; where
it shows a real one, a well-sold series keeps it.

Forecast. The model's horizon total of each city × channel × category group (over the panel's
series) is kept and shared in proportion to λ, each series keeping its own day-to-day shape; a
series the estimate never saw gets R·C when its location and item are known, else keeps the
model's own forecast outside the sharing.

Only the history before the fit's ``end`` is read. Series are named ``location|item`` (the
pool's panels); a panel whose ids do not say that (the synthetic speed panel) is left as
forecast. Nothing here knows a world's constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.panel import Panel, observed_demand
from forecasting.rain import series_channels

#: History the shares are read from (half a year: long enough to pool thin series, short enough
#: to follow an assortment's life cycle).
PLACEMENT_DAYS = 182
#: Pseudo-units at the block's average rate added to each location's and item's total.
PSEUDO_UNITS = 1.0
#: Rounds of iterative proportional fitting (the main effects stop moving well before).
IPF_ROUNDS = 30
#: Upper bound of the interaction variance τ² (a store selling 3× or ⅓ of the product is plenty).
MAX_TAU2 = 4.0


@dataclass(frozen=True)
class Placement:
    """Demand rate per series (``rate``, by series id) and the main effects for unseen series."""

    rate: pd.Series
    location_effect: pd.Series  # index "channel|category|location"
    item_effect: pd.Series  # index "channel|category|item"
    #: Per "channel|category" block: interaction variance τ² and day-level overdispersion κ.
    tau2: pd.Series
    kappa: pd.Series


def _split_ids(panel: Panel) -> tuple[np.ndarray, np.ndarray] | None:
    ids = panel.series.index.astype(str)
    if not ids.str.contains("|", regex=False).all():
        return None
    parts = ids.str.split("|", n=1)
    return parts.str[0].to_numpy(dtype=object), parts.str[1].to_numpy(dtype=object)


def _blocks(panel: Panel) -> np.ndarray:
    return (
        pd.Series(series_channels(panel)).astype(str)
        + "|"
        + panel.series["category"].astype(str).to_numpy()
    ).to_numpy(dtype=object)


def estimate_placement(panel: Panel, end: int, days: int | None = None) -> Placement | None:
    """The rates from the ``days`` (default ``PLACEMENT_DAYS``) before ``end`` (None when series
    ids name no location)."""
    names = _split_ids(panel)
    if names is None or end <= 1:
        return None
    location, item = names
    block = _blocks(panel)
    start = max(0, end - (days or PLACEMENT_DAYS))
    demand = observed_demand(panel.units[:, start:end], panel.stockout[:, start:end])
    demand[panel.promo[:, start:end]] = np.nan
    seen = ~np.isnan(demand)
    mid = (end - start) // 2
    y = np.nansum(demand, axis=1)
    n = seen.sum(axis=1).astype(float)
    halves = [
        (np.nansum(demand[:, part], axis=1), seen[:, part].sum(axis=1).astype(float))
        for part in (slice(0, mid), slice(mid, None))
    ]
    b, block_names = pd.factorize(block)
    lc, loc_names = pd.factorize(block + "|" + location)
    kc, item_names = pd.factorize(block + "|" + item)
    block_of_l = np.zeros(len(loc_names), dtype=np.int64)
    block_of_l[lc] = b
    block_of_k = np.zeros(len(item_names), dtype=np.int64)
    block_of_k[kc] = b
    R, C = _main_effects(y, n, lc, kc, block_of_l, block_of_k, len(block_names))
    mu_rate = R[lc] * C[kc]
    tau2, kappa = _interaction(demand, y, n, halves, mu_rate, b, len(block_names))
    mu = mu_rate * n
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (1.0 + kappa[b] * np.where(n > 0, mu / np.maximum(n, 1.0), 0.0)) / mu
        z = np.where(mu > 0, tau2[b] / (tau2[b] + v), 0.0)
        own = np.where(mu > 0, y / mu, 1.0)
    theta = 1.0 + z * (own - 1.0)
    index = panel.series.index
    return Placement(
        rate=pd.Series(mu_rate * theta, index=index),
        location_effect=pd.Series(R, index=loc_names),
        item_effect=pd.Series(C, index=item_names),
        tau2=pd.Series(tau2, index=block_names),
        kappa=pd.Series(kappa, index=block_names),
    )


def _main_effects(
    y: np.ndarray,
    n: np.ndarray,
    lc: np.ndarray,
    kc: np.ndarray,
    block_of_l: np.ndarray,
    block_of_k: np.ndarray,
    n_blocks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson ML of y ~ R_l · C_k · n with ``PSEUDO_UNITS`` at the block average on each effect."""
    n_l, n_k = block_of_l.size, block_of_k.size
    Y_l = np.bincount(lc, weights=y, minlength=n_l)
    Y_k = np.bincount(kc, weights=y, minlength=n_k)
    R = np.ones(n_l)
    C = np.ones(n_k)
    for _ in range(IPF_ROUNDS):
        E_l = np.bincount(lc, weights=C[kc] * n, minlength=n_l)
        avg = _ratio(
            np.bincount(block_of_l, weights=Y_l, minlength=n_blocks),
            np.bincount(block_of_l, weights=E_l, minlength=n_blocks),
        )[block_of_l]
        R = _ratio(Y_l + PSEUDO_UNITS, E_l + _ratio(PSEUDO_UNITS, avg)) * (avg > 0)
        E_k = np.bincount(kc, weights=R[lc] * n, minlength=n_k)
        avg_k = _ratio(
            np.bincount(block_of_k, weights=Y_k, minlength=n_blocks),
            np.bincount(block_of_k, weights=E_k, minlength=n_blocks),
        )[block_of_k]
        C = _ratio(Y_k + PSEUDO_UNITS, E_k + _ratio(PSEUDO_UNITS, avg_k)) * (avg_k > 0)
    return R, C


def _interaction(
    demand: np.ndarray,
    y: np.ndarray,
    n: np.ndarray,
    halves: list[tuple[np.ndarray, np.ndarray]],
    rate: np.ndarray,
    b: np.ndarray,
    n_blocks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per block: τ² = weighted mean of z₁·z₂ (z = y ÷ R·C·n − 1 in each half: the noise of
    the two halves is independent, a store × item preference is shared), and the day-level
    overdispersion κ from Σ (y_d − ȳ)² = Σ ȳ + κ Σ ȳ² over each series' in-stock days."""
    (y1, n1), (y2, n2) = halves
    m1, m2 = rate * n1, rate * n2
    both = (m1 > 0) & (m2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(both, (y1 / m1 - 1.0) * (y2 / m2 - 1.0), 0.0)
        w = np.where(both, m1 * m2 / (m1 + m2), 0.0)
    tau2 = np.clip(
        _ratio(
            np.bincount(b, weights=w * z, minlength=n_blocks),
            np.bincount(b, weights=w, minlength=n_blocks),
        ),
        0.0,
        MAX_TAU2,
    )
    mean = _ratio(y, n)
    squares = np.nansum(demand * demand, axis=1) - n * mean * mean
    excess = squares - np.maximum(n - 1.0, 0.0) * mean
    kappa = np.maximum(
        _ratio(
            np.bincount(b, weights=excess, minlength=n_blocks),
            np.bincount(b, weights=np.maximum(n - 1.0, 0.0) * mean * mean, minlength=n_blocks),
        ),
        0.0,
    )
    return tau2, kappa


def _ratio(a: np.ndarray | float, b: np.ndarray) -> np.ndarray:
    a = np.broadcast_to(np.asarray(a, dtype=float), np.shape(b))
    return np.divide(a, b, out=np.zeros(np.shape(b)), where=b > 0)


def series_rates(panel: Panel, placement: Placement) -> np.ndarray:
    """λ per series of ``panel``: its own estimate, else R·C of its location and item, else NaN."""
    rate = placement.rate.reindex(panel.series.index).to_numpy(dtype=float)
    missing = np.isnan(rate)
    names = _split_ids(panel)
    if missing.any() and names is not None:
        block = _blocks(panel)
        location, item = names
        r = placement.location_effect.reindex(block + "|" + location).to_numpy(dtype=float)
        c = placement.item_effect.reindex(block + "|" + item).to_numpy(dtype=float)
        rate = np.where(missing, r * c, rate)
    return rate


def place(panel: Panel, mean: np.ndarray, placement: Placement | None) -> np.ndarray:
    """``mean`` (series, horizon) with each city × channel × category group's horizon total
    kept and shared over its series by their rates; each series keeps its own day-to-day shape
    (a weekday, a holiday, a promotion it knows of), so only its level moves. Series without a
    rate keep their own forecast."""
    if placement is None or mean.size == 0:
        return mean
    rate = series_rates(panel, placement)
    placed = np.isfinite(rate)
    group = panel.series["city"].astype(str).to_numpy(dtype=object) + "|" + _blocks(panel)
    g, groups = pd.factorize(group)
    g = np.where(placed, g, len(groups))  # the unplaced share one dummy group, never written
    weight = np.where(placed, rate, 0.0)
    norm = np.bincount(g, weights=weight, minlength=len(groups) + 1)
    own = mean.astype(np.float64).sum(axis=1)
    total = np.bincount(g, weights=own, minlength=len(groups) + 1)
    target = _ratio(weight, norm[g]) * total[g]
    # A series the model put nothing on has no shape of its own: a flat one.
    flat = np.full(mean.shape, 1.0 / mean.shape[1])
    shape = np.divide(mean, own[:, None], out=flat, where=own[:, None] > 0)
    write = placed & (norm[g] > 0)
    out = mean.astype(np.float64, copy=True)
    out[write] = target[write, None] * shape[write]
    return out.astype(mean.dtype, copy=False)
