"""An explicit **promo lift** per category, estimated from the history like the rain uplift.

lift(depth) = (1 − depth)^−elasticity on a promo day (constant price elasticity), elasticity per
category, empirical-Bayes shrunk towards the elasticity of all categories pooled
(``forecasting.rain._shrink``: the same DerSimonian–Laird estimate the rain uplift uses). It
multiplies the model's own forecast of the day *without* the promo (the flag off, the regular
price), so it is measured against exactly the baseline it is applied to.

Why: the global model learns a promo's lift only from the few promo rows of its 4 training
origins (~5 % of its rows, split over categories and depths); on the 16 × 30 demo hold-out its
learnt lift was ×1.53 where the world's was ×1.97 (seed 7; promo days forecast at 0.78 of the
world's expected demand, non-promo days 1.05), while its promo-free baseline on those days was
right (0.51 × 1.97 ≈ 1.00). A ratio of sums over every promo day of the last half year reads the
lift from far more promo episodes than the model's training rows hold. See docs/forecasting.md
"Promo lift" (2026-12-07).

Estimate: at weekly origins over the ``weeks`` before ``end``, the baseline forecasts the next 7
days of every series with a promo day in them, with those days' promo flag off and the regular
price; on each promo day with known demand (``forecasting.panel.observed_demand``: sell-out days
count) O = demand and B = that forecast. Per category the elasticity e solves
Σ O = Σ B · (1 − d)^−e; the sampling variance of its log lift is the cluster-robust one over
style × days (a promo is the style's, every location at once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.panel import Panel, observed_demand, regular_price

#: Weekly origins (7 days each) over which promo days are read.
PROMO_WEEKS = 26
#: A promo day of less than this discount carries no price signal: it keeps the model's forecast.
MIN_DEPTH = 0.01
_MAX_ELASTICITY = 6.0
#: Series of regular days per week the baseline's own error is read from (a sample above it).
REFERENCE_SERIES = 20_000
#: Units of the category's all-weeks error a week's is shrunk towards (a pseudo-count).
REFERENCE_PRIOR_UNITS = 30.0

#: (panel, origin, horizon) → the baseline's mean forecast (series, horizon), before any lift.
Baseline = Callable[[Panel, int, int], np.ndarray]


@dataclass
class PromoLift:
    """Elasticity per category (shrunk) and what stands behind it."""

    #: category, elasticity, raw (unpooled), weight (its own data's), days (style-days),
    #: episodes (style-weeks), units, baseline (scaled by the week's regular-day error), depth
    table: pd.DataFrame
    pooled: float  # elasticity of all categories together
    pooled_days: int

    def elasticity(self, categories: np.ndarray) -> np.ndarray:
        known = dict(zip(self.table["category"], self.table["elasticity"], strict=True))
        return np.array([known.get(str(c), self.pooled) for c in categories], dtype=np.float64)

    def factor(self, panel: Panel, origin: int, horizon: int) -> np.ndarray:
        """(series, horizon): the lift of each day (1 where no promo with a discount)."""
        depth = promo_depth(panel)[:, origin : origin + horizon]
        e = self.elasticity(panel.series["category"].astype(str).to_numpy())[:, None]
        on = depth >= MIN_DEPTH
        lift = np.power(1.0 - np.where(on, depth, 0.0), -e)
        return np.where(on, lift, 1.0).astype(np.float32)

    def support(self, category: str) -> dict[str, float | int | str]:
        """The row an explanation cites: elasticity, past promo days (style-days), pooling."""
        row = self.table[self.table["category"] == category]
        if row.empty:
            return {"category": category, "elasticity": self.pooled, "days": 0, "weight": 0.0}
        r = row.iloc[0]
        return {
            "category": category,
            "elasticity": float(r["elasticity"]),
            "days": int(r["days"]),
            "weight": float(r["weight"]),
        }


def promo_depth(panel: Panel) -> np.ndarray:
    """(series, days) discount of each promo day as a fraction of the series' regular price
    (0 on regular days)."""
    regular = regular_price(panel.price_ratio, panel.promo)
    depth = 1.0 - panel.price_ratio / np.maximum(regular, 1e-6)
    return np.where(panel.promo, np.clip(depth, 0.0, 0.95), 0.0)


def without_promo(panel: Panel, origin: int, horizon: int) -> Panel:
    """``panel`` with the promo days of [origin, origin + horizon) that carry a discount set to
    regular days (flag off, regular price); the history before ``origin`` is kept."""
    days = slice(origin, origin + horizon)
    on = promo_depth(panel)[:, days] >= MIN_DEPTH
    if not on.any():
        return panel
    regular = regular_price(panel.price_ratio, panel.promo)
    promo = panel.promo.copy()
    price = panel.price_ratio.copy()
    promo[:, days] &= ~on
    price[:, days] = np.where(on, regular[:, days], price[:, days])
    return dataclasses.replace(panel, promo=promo, price_ratio=price.astype(np.float32))


def estimate_promo_lift(
    baseline: Baseline, panel: Panel, end: int, *, weeks: int = PROMO_WEEKS, min_origin: int = 28
) -> PromoLift | None:
    """The lift table from the promo days before column ``end`` (None: no promo day seen)."""
    from forecasting.rain import _shrink

    depth_all = promo_depth(panel)
    categories = panel.series["category"].astype(str).to_numpy()
    style = (
        panel.series["style"].astype(str).to_numpy()
        if "style" in panel.series
        else np.array([str(s) for s in panel.series.index])
    )
    names, cat_code_all = np.unique(categories, return_inverse=True)
    n = len(names)
    rng = np.random.default_rng(0)
    o_parts, b_parts, d_parts, code_parts, cluster_parts, week_parts = [], [], [], [], [], []
    day_parts: list[np.ndarray] = []
    week_o, week_b = [], []  # per origin: Σ demand and Σ baseline on regular days, per category
    for origin in range(end - 7, max(min_origin, end - 7 * weeks) - 1, -7):
        days = slice(origin, origin + 7)
        on = depth_all[:, days] >= MIN_DEPTH
        promo_rows = np.flatnonzero(on.any(axis=1))
        if len(promo_rows) == 0:
            continue
        # The reference: the same categories' regular days of the same week (every series of
        # them, or a sample), which the baseline forecast the same way.
        same = np.isin(cat_code_all, np.unique(cat_code_all[promo_rows]))
        others = np.flatnonzero(same & ~on.any(axis=1))
        if len(others) > REFERENCE_SERIES:
            others = rng.choice(others, REFERENCE_SERIES, replace=False)
        rows = np.sort(np.concatenate([promo_rows, others]))
        part = panel.take(rows)
        demand = observed_demand(part.units[:, days], part.stockout[:, days])
        base = baseline(without_promo(part, origin, 7), origin, 7).astype(np.float64)
        known = ~np.isnan(demand)
        code = cat_code_all[rows]
        regular = known & ~on[rows] & ~part.promo[:, days]
        r, h = np.nonzero(regular)
        week_o.append(np.bincount(code[r], weights=demand[r, h], minlength=n))
        week_b.append(np.bincount(code[r], weights=base[r, h], minlength=n))
        cells = on[rows] & known & (base > 0)
        r, h = np.nonzero(cells)
        o_parts.append(demand[r, h])
        b_parts.append(base[r, h])
        d_parts.append(depth_all[rows[r], origin + h])
        code_parts.append(code[r])
        cluster_parts.append(style[rows[r]] + "|" + str(origin))  # a promo episode
        day_parts.append(style[rows[r]] + "|" + (origin + h).astype(str))
        week_parts.append(np.full(len(r), len(week_o) - 1))
    if not o_parts:
        return None
    # The baseline's own error on the category's regular days of the week (its season, its
    # level), shrunk towards the category's over all weeks: a promo day's baseline is scaled by
    # it, so the lift measures the promo alone (a difference in differences).
    wo, wb = np.array(week_o), np.array(week_b)
    overall = _safe_ratio(wo.sum(axis=0), wb.sum(axis=0))
    weekly = (wo + REFERENCE_PRIOR_UNITS * overall) / (wb + REFERENCE_PRIOR_UNITS)
    week, code = np.concatenate(week_parts), np.concatenate(code_parts)
    o = np.concatenate(o_parts)
    b = np.concatenate(b_parts) * weekly[week, code]
    d = np.concatenate(d_parts)
    cat = names[code]
    cluster = np.concatenate(cluster_parts)
    style_days = pd.factorize(pd.Series(cat + "#" + np.concatenate(day_parts)))[0]
    x = -np.log1p(-d)  # log lift per unit elasticity
    pooled = _solve_elasticity(o, b, x)
    units = np.bincount(code, weights=o, minlength=n)
    base = np.bincount(code, weights=b, minlength=n)
    mean_x = np.bincount(code, weights=b * x, minlength=n) / np.maximum(base, 1e-12)
    raw = np.array([_solve_elasticity(o[code == c], b[code == c], x[code == c]) for c in range(n)])
    # Log lift at each category's own depth mix: what the shrinkage weighs.
    lifted = b * np.exp(raw[code] * x)
    expected = units * base / np.maximum(np.bincount(code, weights=lifted, minlength=n), 1e-12)
    cluster_code, _ = pd.factorize(pd.Series(cat + "#" + cluster))
    per_cluster_o = np.bincount(cluster_code, weights=o)
    per_cluster_e = np.bincount(cluster_code, weights=lifted)
    cluster_cat = np.zeros(cluster_code.max() + 1, dtype=int)
    cluster_cat[cluster_code] = code
    residual = np.bincount(cluster_cat, weights=(per_cluster_o - per_cluster_e) ** 2, minlength=n)
    episodes = np.bincount(cluster_cat, minlength=n).astype(float)
    day_cat = np.zeros(style_days.max() + 1, dtype=int)
    day_cat[style_days] = code
    days = np.bincount(day_cat, minlength=n)
    log_lift, weight = _shrink(
        units, expected, residual, episodes, pooled * mean_x, np.zeros(n, dtype=int)
    )
    seen = base > 0
    elasticity = np.clip(log_lift / np.maximum(mean_x, 1e-9), 0.0, _MAX_ELASTICITY)
    table = pd.DataFrame(
        {
            "category": names,
            "elasticity": elasticity,
            "raw": raw,
            "weight": weight,
            "days": days,
            "episodes": episodes.astype(int),
            "units": units,
            "baseline": base,
            "depth": 1.0 - np.exp(-mean_x),
        }
    )[seen].reset_index(drop=True)
    return PromoLift(table=table, pooled=float(pooled), pooled_days=int(days.sum()))


def _safe_ratio(units: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((base > 0) & (units > 0), units / base, 1.0)


def _solve_elasticity(o: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    """e ≥ 0 with Σ b·exp(e·x) = Σ o (bisection: the left side grows with e)."""
    target = float(o.sum())
    if target <= float(b.sum()) or not (x > 0).any():
        return 0.0
    lo, hi = 0.0, _MAX_ELASTICITY
    if float((b * np.exp(hi * x)).sum()) <= target:
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if float((b * np.exp(mid * x)).sum()) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
