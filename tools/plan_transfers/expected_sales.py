"""E[min(S, D)]: expected units sold from stock S against uncertain window demand D.

The demand CDF is taken piecewise-linear through the forecast quantiles, from (0, 0) to the
top quantile and on, at the last slope, to probability 1. Then E[min(S, D)] = ∫₀ˢ (1 − F(x)) dx
is exact, concave and increasing in S, which is what keeps the transfer problem a network flow
with parallel arcs of decreasing marginal value. Levels 0 and 1 with equal quantiles d give
min(S, d): known (realised) demand for hindsight plans.

Unit sales are counts, and at the low volumes of one size in one store over a few days (mean
0.1–0.5) three integer quantiles say little: P10 = P50 = 0, P90 = 1 is read by the linear CDF as
P(D > x) falling from 0.5 to 0.1 over the first unit, i.e. 0.31 expected sales from one unit,
while the forecast's own mean is 0.13 — and a source with P90 = 0 looks as if it could never
sell, whatever its mean. Problems built from a forecast therefore use ``count_curves``: a
negative binomial (Poisson when the quantiles show no extra spread) with the forecast's mean and
the quantiles' spread, whose E[min(S, D)] = Σ_{k<S} P(D > k) is exact at whole units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from tools.plan_transfers.problem import TransferProblem

#: A step of the count CDF is drawn as a drop over this width, so integer stock sees exact steps.
STEP = 1e-6
#: Count curves run to this quantile of the fitted distribution; beyond it nothing sells.
COUNT_TAIL = 0.9995


@dataclass(frozen=True)
class DemandCurves:
    """CDF knots per position: ``x`` (n, k) units and the survival ``1 − F`` at each knot."""

    x: np.ndarray
    survival: np.ndarray

    @property
    def saturation(self) -> np.ndarray:
        """The stock beyond which one more unit sells with probability zero."""
        return self.x[:, -1]


def demand_curves(levels: np.ndarray, quantiles: np.ndarray) -> DemandCurves:
    """Knots of the piecewise-linear CDF for each row of ``quantiles`` (n, q)."""
    quantiles = np.maximum.accumulate(np.maximum(quantiles, 0.0), axis=1)
    n, q = quantiles.shape
    top = quantiles[:, -1]
    if levels[-1] >= 1.0:
        tail_end = top
    elif q >= 2 and levels[-1] > levels[-2]:
        slope = (quantiles[:, -1] - quantiles[:, -2]) / (levels[-1] - levels[-2])
        tail_end = top + (1.0 - levels[-1]) * slope
    else:
        tail_end = top / max(levels[-1], 1e-9)
    x = np.concatenate([np.zeros((n, 1)), quantiles, tail_end[:, None]], axis=1)
    cdf = np.concatenate([[0.0], levels, [1.0]])
    survival = np.broadcast_to(1.0 - cdf, x.shape).copy()
    return DemandCurves(x=x, survival=survival)


def expected_sales(curves: DemandCurves, stock: np.ndarray) -> np.ndarray:
    """E[min(S, D)] for stock levels ``stock`` of shape (n,) or (n, m), row-aligned with curves."""
    stock = np.asarray(stock, dtype=float)
    squeeze = stock.ndim == 1
    s = stock[:, None] if squeeze else stock
    total = np.zeros_like(s)
    x, surv = curves.x, curves.survival
    for k in range(x.shape[1] - 1):
        width = (x[:, k + 1] - x[:, k])[:, None]
        a = surv[:, k][:, None]
        b = surv[:, k + 1][:, None]
        t = np.clip(s - x[:, k][:, None], 0.0, width)
        slope = np.divide(a - b, width, out=np.zeros_like(width), where=width > 0)
        total += a * t - 0.5 * slope * t * t
    return total[:, 0] if squeeze else total


def count_curves(levels: np.ndarray, quantiles: np.ndarray, mean: np.ndarray) -> DemandCurves:
    """Step curves of a count distribution with mean ``mean`` (n,) and the quantiles' spread.

    The spread is read as a normal-equivalent standard deviation between the outer quantiles; a
    variance above the mean makes it a negative binomial, otherwise a Poisson. Knots sit at whole
    units (and a hair after), so E[min(S, D)] = Σ_{k<S} P(D > k) exactly for whole S.
    """
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    n = mean.size
    var = count_variance(mean, quantiles, levels)
    over = (var > mean * (1 + 1e-6)) & (mean > 0)
    # Negative binomial size r and success probability p (used only where ``over``).
    r = np.where(over, mean**2 / np.where(over, var - mean, 1.0), 1.0)
    p = np.where(over, r / (r + mean), 0.5)
    top = np.zeros(n)
    point_top = np.ceil(mean)
    if n:
        top = np.where(
            over,
            stats.nbinom.ppf(COUNT_TAIL, r, p),
            stats.poisson.ppf(COUNT_TAIL, mean),
        )
        top = np.nan_to_num(top, nan=0.0)
    k_max = int(max(top.max(), point_top.max())) + 1 if n else 1
    k = np.arange(k_max + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = np.where(
            over[:, None],
            stats.nbinom.sf(k[None, :], r[:, None], p[:, None]),
            stats.poisson.sf(k[None, :], mean[:, None]),
        )
    sf = np.nan_to_num(sf, nan=0.0)
    # A forecast whose every quantile is its mean is known demand d: E[min(S, D)] = min(S, d).
    point = np.all(np.abs(quantiles - mean[:, None]) < 1e-9, axis=1)
    sf[point] = np.clip(mean[point, None] - k[None, :], 0.0, 1.0)
    top[point] = np.ceil(mean[point])
    # Each row ends at its own tail quantile, whatever else shares the batch, so a position is
    # valued the same wherever it is evaluated.
    sf[(k[None, :] >= top[:, None]) | (sf < 1e-9)] = 0.0
    # Knots k and k + STEP for k = 0..k_max: P(D > k − 1) drops to P(D > k) just after k.
    knots = k_max + 1
    x = np.empty(2 * knots)
    x[0::2], x[1::2] = k, k + STEP
    survival = np.empty((n, 2 * knots))
    survival[:, 0::2] = np.concatenate([np.ones((n, 1)), sf[:, :-1]], axis=1)
    survival[:, 1::2] = sf
    survival[mean <= 0] = 0.0
    x = np.broadcast_to(x, survival.shape).copy()
    return DemandCurves(x=x, survival=survival)


def _reads_spread(levels: np.ndarray) -> bool:
    return bool(levels.size >= 2 and levels[0] < 0.5 < levels[-1])


def _spread_sd(quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The normal-equivalent standard deviation between the outer quantiles."""
    z = float(stats.norm.ppf(levels[-1]) - stats.norm.ppf(levels[0]))
    return (quantiles[..., -1] - quantiles[..., 0]) / z


def count_variance(mean: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The variance a count with this mean and these quantiles is read with: the quantiles'
    normal-equivalent spread, never below the mean's Poisson variance."""
    mean = np.asarray(mean, dtype=float)
    levels = np.asarray(levels, dtype=float)
    if not _reads_spread(levels):
        return mean.copy()
    sd = _spread_sd(np.asarray(quantiles, dtype=float), levels)
    return np.maximum(mean, sd * sd)


def count_dispersion(mean: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """α in variance = μ + α·μ²: the extra-Poisson part of ``count_variance`` (0 for a Poisson
    or where there is no mean)."""
    mean = np.asarray(mean, dtype=float)
    extra = count_variance(mean, quantiles, levels) - mean
    return np.divide(extra, mean * mean, out=np.zeros_like(mean), where=mean > 0)


#: The window quantiles the planner asks the forecast for and reads its count curves from.
WINDOW_LEVELS = (0.1, 0.5, 0.9)


def scale_counts(
    mean: np.ndarray,
    quantiles: np.ndarray,
    factor: np.ndarray,
    levels: tuple[float, ...] | np.ndarray = WINDOW_LEVELS,
) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` × ``factor`` and its quantiles, with the count's extra-Poisson dispersion kept.

    ``count_curves`` reads a position's demand as variance μ + α·μ² (α from the quantiles'
    spread, 0 for a Poisson). When a rule moves a position's mean (sizes pooled, a store's share
    of its city, the level matched or corrected) its Poisson part moves with the mean and only
    the extra part with its square; scaling every quantile with the mean would keep the
    coefficient of variation instead, so a position tripled by its store's sales would carry
    nine times the variance, read as a negative binomial far wider than such demand is, and its
    first units would be valued as if they might well not sell. The quantiles are stretched about
    their median to the new spread (and shifted up if the lowest would fall below zero: only the
    spread and the mean are read). Positions without a mean, or without a spread to stretch
    (every quantile equal), are scaled as before.
    """
    mean = np.asarray(mean, dtype=float)
    quantiles = np.asarray(quantiles, dtype=float)
    factor = np.broadcast_to(np.asarray(factor, dtype=float), mean.shape)
    scaled_mean = mean * factor
    levels = np.asarray(levels, dtype=float)
    plain = quantiles * factor[..., None]
    if not _reads_spread(levels):
        return scaled_mean, plain
    sd = _spread_sd(quantiles, levels)
    has = (mean > 0) & (sd > 0)
    alpha = count_dispersion(mean, quantiles, levels)
    # A spread at or below Poisson stays at or below the new mean's Poisson spread.
    target = np.where(
        alpha > 0,
        np.sqrt(scaled_mean + alpha * scaled_mean**2),
        np.minimum(factor * sd, np.sqrt(scaled_mean)),
    )
    stretch = np.divide(target, sd, out=np.zeros_like(sd), where=has)
    middle = quantiles[..., int(np.argmin(np.abs(levels - 0.5)))][..., None]
    stretched = factor[..., None] * middle + stretch[..., None] * (quantiles - middle)
    stretched += np.maximum(-stretched[..., :1], 0.0)
    return scaled_mean, np.where(has[..., None], stretched, plain)


def mix_count_curves(weight: float, a: DemandCurves, b: DemandCurves) -> DemandCurves:
    """The count curves of the mixture ``weight``·A + (1 − weight)·B: survival is linear in the
    mixing weight, so E[min(S, D)] of the mixture is the same mix of the two (count knots are
    shared, the shorter curve runs on at zero)."""
    width = max(a.x.shape[1], b.x.shape[1])

    def padded(c: DemandCurves) -> np.ndarray:
        return np.pad(c.survival, ((0, 0), (0, width - c.survival.shape[1])))

    base = a.x if a.x.shape[1] == width else b.x
    survival = weight * padded(a) + (1.0 - weight) * padded(b)
    return DemandCurves(x=base.copy(), survival=survival)


def position_curves(problem: TransferProblem, locs: np.ndarray, skus: np.ndarray) -> DemandCurves:
    """The demand curves of positions (``locs[i]``, ``skus[i]``) as the problem models them: with
    a rain alert that may not verify (``problem.mixed``), the mixture of the rain and dry curves."""
    quantiles = problem.demand_quantiles[locs, skus]
    if problem.demand_kind != "counts":
        return demand_curves(problem.demand_levels, quantiles)
    rain = count_curves(problem.demand_levels, quantiles, problem.demand_mean[locs, skus])
    if not problem.mixed:
        return rain
    assert problem.dry_quantiles is not None and problem.dry_mean is not None
    dry = count_curves(
        problem.demand_levels, problem.dry_quantiles[locs, skus], problem.dry_mean[locs, skus]
    )
    return mix_count_curves(problem.rain_hit_rate, rain, dry)
