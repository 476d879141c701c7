"""E[min(S, D)]: expected units sold from stock S against uncertain window demand D.

The demand CDF is taken piecewise-linear through the forecast quantiles, from (0, 0) to the
top quantile and on, at the last slope, to probability 1. Then E[min(S, D)] = ∫₀ˢ (1 − F(x)) dx
is exact, concave and increasing in S, which is what keeps the transfer problem a network flow
with parallel arcs of decreasing marginal value. Levels 0 and 1 with equal quantiles d give
min(S, d): known (realised) demand for hindsight plans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
