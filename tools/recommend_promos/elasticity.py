"""Price elasticity of demand per category, from the pool's own sales history.

Within-style regression of log(1 + units) on log(price paid / full price) over style-days, with
stock-out days left out (their sales are censored). The slope is the elasticity; its 95 %
interval comes from the OLS standard error. With too little price variation the estimate is not
identified and a documented prior is returned instead, with a wide interval and a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Apparel/footwear markdown elasticities in the literature sit around −1 to −3.
PRIOR_ELASTICITY = -1.8
PRIOR_INTERVAL = (-3.5, -0.5)
MIN_DISCOUNTED_DAYS = 10


@dataclass(frozen=True)
class Elasticity:
    value: float
    interval: tuple[float, float]
    observations: int
    source: str
    """'history' when estimated, 'prior' when the data could not identify it."""


def estimate_elasticity(
    style: np.ndarray, units: np.ndarray, price_ratio: np.ndarray
) -> Elasticity:
    """Elasticity from style-day rows: style id, units sold, price paid / full price (≤ 1)."""
    if not (style.shape == units.shape == price_ratio.shape):
        raise ValueError("style, units and price_ratio must have the same length")
    if np.any(units < 0):
        raise ValueError("units: negative sales in the history")
    ok = (price_ratio > 0) & np.isfinite(price_ratio)
    style, units, price_ratio = style[ok], units[ok], price_ratio[ok]
    x = np.log(np.minimum(price_ratio, 1.0))
    discounted = int((x < -0.01).sum())
    if discounted < MIN_DISCOUNTED_DAYS or units.size < 3 * MIN_DISCOUNTED_DAYS:
        return Elasticity(PRIOR_ELASTICITY, PRIOR_INTERVAL, int(units.size), "prior")
    y = np.log1p(units.astype(float))
    _, group = np.unique(style, return_inverse=True)
    n_groups = int(group.max()) + 1
    counts = np.bincount(group, minlength=n_groups)
    x_c = x - (np.bincount(group, weights=x, minlength=n_groups) / counts)[group]
    y_c = y - (np.bincount(group, weights=y, minlength=n_groups) / counts)[group]
    sxx = float(x_c @ x_c)
    if sxx <= 1e-12:
        return Elasticity(PRIOR_ELASTICITY, PRIOR_INTERVAL, int(units.size), "prior")
    beta = float(x_c @ y_c) / sxx
    dof = max(units.size - n_groups - 1, 1)
    residual = y_c - beta * x_c
    se = float(np.sqrt((residual @ residual) / dof / sxx))
    # log1p damps the response at low volumes; rescale by the mean level so the slope reads as a
    # proportional change in units (d log(1+u) ≈ u/(1+u) · d log u).
    damp = float(np.mean(units / (1.0 + units))) or 1.0
    value, half = beta / damp, 1.96 * se / damp
    return Elasticity(value, (value - half, value + half), int(units.size), "history")
