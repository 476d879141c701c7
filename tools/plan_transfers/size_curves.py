"""Size × store demand from the style's forecast and a pooled size curve.

One size of one style in one store sells 0.1–0.5 units in a rain window; a forecaster fitted on
series that sparse cannot tell a size that sells from one that happened to sell last month, and
the plan then ships units to the wrong sizes (measured on the act worlds of the evals:
``benchmarks/decisions.py --bound``). The style's total at a store is far better determined, and so
is the style's size curve across the network. So each (location, style) keeps the forecast's
total, and the total is shared over the sizes (and colours) it carries by the location's own
sales mix, shrunk towards the network's mix with as many pseudo-units as the scatter of the
locations' mixes beyond sampling noise supports (``curve_concentration``, at least
``PRIOR_UNITS``): a store that has sold hundreds of units of a style whose stores differ keeps
its own curve, a store whose mix is sampling noise gets the network's.

Only what is known at the clock is used: sales before today, and the forecast itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from inventory.models import DailySales
from tools.plan_transfers.expected_sales import scale_counts

#: Weight of the network's size curve at a location, in units of the style sold there: the
#: ``fixed`` pooling's weight, and the floor of the estimated one.
PRIOR_UNITS = 20.0
#: Sales history the curves are read from (a year covers every season's size mix).
CURVE_DAYS = 365
#: What a location's size mix is shrunk to (``size_shares``): fixed | network | city. Shipped:
#: ``network`` with the estimated weight (session 31; with the alert hurdle at 0.25 the 30 act
#: worlds of seeds 7/11/12 earn ¥15,439 against ¥14,814, docs/optimizer.md "Levers").
SizePooling = Literal["fixed", "network", "city"]
SIZE_POOLING: SizePooling = "network"
#: Added to every SKU's network sales so a SKU nobody bought yet keeps a small share.
NETWORK_PSEUDO_UNITS = 0.5


def sales_by_position(
    conn: Connection,
    location_codes: Sequence[str],
    sku_codes: Sequence[str],
    today: dt.date,
) -> np.ndarray:
    """Units sold per (location, SKU) over the ``CURVE_DAYS`` before ``today``."""
    shape = (len(location_codes), len(sku_codes))
    if not location_codes or not sku_codes:
        return np.zeros(shape)
    rows = conn.execute(
        select(DailySales.location_code, DailySales.sku_code, func.sum(DailySales.units))
        .where(
            DailySales.location_code.in_(location_codes),  # type: ignore[attr-defined]
            DailySales.sku_code.in_(sku_codes),  # type: ignore[attr-defined]
            DailySales.date < today,
            DailySales.date >= today - dt.timedelta(days=CURVE_DAYS),
        )
        .group_by(DailySales.location_code, DailySales.sku_code)
    ).all()
    sold = np.zeros(shape)
    if rows:
        frame = pd.DataFrame(rows, columns=["location", "sku", "units"])
        i = pd.Index(location_codes).get_indexer(frame["location"])
        j = pd.Index(sku_codes).get_indexer(frame["sku"])
        sold[i, j] = frame["units"].to_numpy(dtype=float)
    return sold


def size_shares(
    sold: np.ndarray,
    style_of: np.ndarray,
    cities: np.ndarray | None = None,
    pooling: SizePooling | None = None,
) -> np.ndarray:
    """Each SKU's share of its style's demand at each location, shape (locations, skus); the
    shares of one style sum to 1 at every location.

    ``pooling`` (default ``SIZE_POOLING``) says what a location's own mix is shrunk to, and how
    hard: ``fixed`` — the network's mix with ``PRIOR_UNITS`` pseudo-units; ``network`` — the
    network's mix with the weight the locations' scatter supports (``curve_concentration``);
    ``city`` — its city's mix (``cities``, one per location), itself shrunk to the network's
    with the weight the cities' scatter supports, each weight estimated the same way."""
    mode = pooling or SIZE_POOLING
    if mode == "fixed":
        return _shrunk(sold, style_of, _network_mixes(sold, style_of), PRIOR_UNITS)
    network = _network_mixes(sold, style_of)
    if mode == "network" or cities is None:
        return _shrunk(sold, style_of, network, curve_concentration(sold, style_of, network))
    if mode != "city":
        raise ValueError(f"unknown size pooling {mode!r}")
    names, city_index = np.unique(cities, return_inverse=True)
    by_city = np.zeros((names.size, sold.shape[1]))
    np.add.at(by_city, city_index, sold)
    city_net = np.broadcast_to(network[:1], by_city.shape)
    city_curves = _shrunk(
        by_city, style_of, city_net, curve_concentration(by_city, style_of, city_net)
    )
    target = city_curves[city_index]
    return _shrunk(sold, style_of, target, curve_concentration(sold, style_of, target))


def _network_mixes(sold: np.ndarray, style_of: np.ndarray) -> np.ndarray:
    """The network's mix of each style, repeated on every location's row."""
    mix = np.zeros(sold.shape[1])
    for style in np.unique(style_of):
        cols = np.flatnonzero(style_of == style)
        network = sold[:, cols].sum(axis=0) + NETWORK_PSEUDO_UNITS
        mix[cols] = network / network.sum()
    return np.broadcast_to(mix, sold.shape)


def _shrunk(sold: np.ndarray, style_of: np.ndarray, target: np.ndarray, prior: float) -> np.ndarray:
    """Each row's own mix of each style shrunk to ``target`` (same shape) with ``prior``
    pseudo-units (inf: the target itself)."""
    if not np.isfinite(prior):
        return np.array(target, dtype=float)
    shares = np.zeros_like(sold, dtype=float)
    for style in np.unique(style_of):
        cols = np.flatnonzero(style_of == style)
        local = sold[:, cols]
        shares[:, cols] = (local + prior * target[:, cols]) / (
            local.sum(axis=1, keepdims=True) + prior
        )
    return shares


def curve_concentration(sold: np.ndarray, style_of: np.ndarray, target: np.ndarray) -> float:
    """How many units of the ``target`` curve (a mix per row and style) a row's own sales are
    worth: the concentration A of a Dirichlet-multinomial in which each row's size mix scatters
    around its target, estimated by moments from the pool's history (``PRIOR_UNITS`` is its
    floor; commit 8431573).

    A row that sold n units of a style with K SKUs has a Pearson statistic
    X = Σ (x − n·π)² / (n·π), whose expectation is (K − 1)(n + A)/(1 + A): K − 1 if every row
    shares the target's mix (A → ∞), (K − 1)·n if each has its own (A → 0). Summed over every
    row × style with sales, S = Σ X/(K − 1), N = Σ n and L the count give A = (N − S)/(S − L).
    At a few units per position a year most of a store's apparent size mix is sampling noise;
    where rows do differ the statistic says so and their own mix keeps its weight. Returns
    ``inf`` when the scatter is no more than sampling noise."""
    s_total = n_total = count = 0.0
    for style in np.unique(style_of):
        cols = np.flatnonzero(style_of == style)
        if cols.size < 2:
            continue
        local = sold[:, cols]
        n = local.sum(axis=1)
        rows = n > 0
        if rows.sum() < 2:
            continue
        expected = n[rows, None] * target[rows][:, cols]
        x = (((local[rows] - expected) ** 2) / np.maximum(expected, 1e-12)).sum(axis=1)
        s_total += float(x.sum()) / (cols.size - 1)
        n_total += float(n[rows].sum())
        count += float(rows.sum())
    if count == 0 or s_total <= count:
        return float("inf")
    return max((n_total - s_total) / (s_total - count), PRIOR_UNITS)


def pool_sizes(
    mean: np.ndarray,
    quantiles: np.ndarray,
    shares: np.ndarray,
    style_of: np.ndarray,
    style_total: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Window demand per (location, SKU) re-shared over the sizes each location carries.

    A (location, style) keeps its total: ``style_total`` (locations, skus: each SKU's column
    holds its style's total at the location, NaN where unknown) when given — the style-level
    forecast — else the sum of the SKU forecasts. Only SKUs the forecast covers there (mean > 0)
    receive a share, renormalised over them. Each position's quantiles follow its mean with the
    forecast's dispersion kept (``expected_sales.scale_counts``).
    """
    pooled = np.zeros_like(mean, dtype=float)
    carried = mean > 0
    for style in np.unique(style_of):
        cols = np.flatnonzero(style_of == style)
        weight = np.where(carried[:, cols], shares[:, cols], 0.0)
        norm = weight.sum(axis=1, keepdims=True)
        total = mean[:, cols].sum(axis=1, keepdims=True)
        if style_total is not None:
            given = style_total[:, cols[:1]]
            total = np.where(np.isfinite(given), given, total)
        pooled[:, cols] = np.divide(total * weight, norm, out=np.zeros_like(weight), where=norm > 0)
    ratio = np.divide(pooled, mean, out=np.zeros_like(pooled), where=carried)
    return pooled, scale_counts(mean, quantiles, ratio)[1]


def match_level(
    mean: np.ndarray, quantiles: np.ndarray, reference: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` and ``quantiles`` scaled, per ``group`` of positions (same shape as ``mean``),
    so each group's total equals ``reference``'s: the reference sets the level, ``mean`` keeps
    how the level is shared among the group's positions. A group ``mean`` puts nothing in keeps
    its values."""
    codes, inverse = np.unique(group, return_inverse=True)
    inverse = inverse.reshape(mean.shape)
    ours = np.bincount(inverse.ravel(), weights=mean.ravel(), minlength=codes.size)
    theirs = np.bincount(inverse.ravel(), weights=reference.ravel(), minlength=codes.size)
    factor = np.divide(theirs, ours, out=np.ones_like(ours), where=ours > 0)[inverse]
    return scale_counts(mean, quantiles, factor)
