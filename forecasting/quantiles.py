"""Quantiles around a mean forecast, calibrated on backtest residuals.

Demand counts are over-dispersed, so a negative binomial with one dispersion (fitted by moments on
the backtest) gives the shape; the probability integral transform (PIT) of the backtest actuals
then re-maps the levels so that, on the backtest, the P90 really is exceeded 10 % of the time
(Kuleshov et al., 2018). Both maps are monotone, so quantiles never cross. The horizon *total*
gets its own dispersion and map: summing daily quantiles would overstate its spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import nbinom

_GRID = np.linspace(0.0, 1.0, 201)
_MIN_DISPERSION = 1e-3
_LEVEL_CLIP = (1e-3, 1.0 - 1e-3)
_MEAN_FLOOR = 1e-6


def quantile_key(level: float) -> str:
    """'p10' for 0.1, 'p50' for 0.5, 'p975' for 0.975."""
    text = f"{level * 100:.4g}".replace(".", "")
    return f"p{text}"


def validate_levels(levels: list[float]) -> list[float]:
    """Sorted unique levels strictly inside (0, 1); raises naming the bad one."""
    for level in levels:
        if not 0.0 < level < 1.0:
            raise ValueError(f"quantile level {level} must be strictly between 0 and 1")
    if not levels:
        raise ValueError("quantiles must not be empty")
    return sorted(set(levels))


@dataclass(frozen=True)
class PitMap:
    """Level τ → the NB level whose quantile was exceeded a share 1−τ of the time on backtest."""

    pit_quantiles: np.ndarray  # quantiles of the backtest PIT values on _GRID

    @classmethod
    def fit(cls, pit: np.ndarray) -> PitMap:
        if len(pit) == 0:
            return cls(pit_quantiles=_GRID.copy())
        return cls(pit_quantiles=np.quantile(pit, _GRID))

    def __call__(self, level: float) -> float:
        mapped = float(np.interp(level, _GRID, self.pit_quantiles))
        return float(np.clip(mapped, *_LEVEL_CLIP))


#: Horizon lengths whose totals get their own spread (the spread of a sum depends on its length).
TOTAL_LENGTHS = (1, 3, 7, 14, 21, 28)


@dataclass(frozen=True)
class TotalSpread:
    dispersion: float
    pit_map: PitMap


@dataclass(frozen=True)
class QuantileCalibrator:
    """Negative-binomial spread + PIT recalibration, for days and for horizon totals."""

    daily_dispersion: float
    daily_map: PitMap
    totals: dict[int, TotalSpread]

    @classmethod
    def fit(
        cls, mean: np.ndarray, actual: np.ndarray, usable: np.ndarray, *, seed: int = 0
    ) -> QuantileCalibrator:
        """Fit on backtest forecasts: mean, actual and usable are (series, horizon) arrays."""
        rng = np.random.default_rng(seed)
        mean = np.maximum(mean, _MEAN_FLOOR)
        mu, y = mean[usable], actual[usable]
        daily_dispersion = moment_dispersion(mu, y)
        totals: dict[int, TotalSpread] = {}
        lengths = sorted({n for n in TOTAL_LENGTHS if n <= mean.shape[1]} | {mean.shape[1]})
        for length in lengths:
            window = usable[:, :length]
            total_mu = np.where(window, mean[:, :length], 0.0).sum(axis=1)
            total_y = np.where(window, actual[:, :length], 0.0).sum(axis=1)
            has_days = window.any(axis=1)
            total_mu = np.maximum(total_mu[has_days], _MEAN_FLOOR)
            total_y = total_y[has_days]
            dispersion = moment_dispersion(total_mu, total_y)
            pit = randomised_pit(total_mu, total_y, dispersion, rng)
            totals[length] = TotalSpread(dispersion=dispersion, pit_map=PitMap.fit(pit))
        return cls(
            daily_dispersion=daily_dispersion,
            daily_map=PitMap.fit(randomised_pit(mu, y, daily_dispersion, rng)),
            totals=totals,
        )

    def daily(self, mean: np.ndarray, levels: list[float]) -> dict[float, np.ndarray]:
        return _nb_quantiles(mean, self.daily_dispersion, levels, self.daily_map)

    def total(
        self, total_mean: np.ndarray, levels: list[float], horizon: int
    ) -> dict[float, np.ndarray]:
        """Quantiles of the sum over ``horizon`` days, with the spread learnt for the nearest
        calibrated length."""
        length = min(self.totals, key=lambda n: (abs(n - horizon), -n))
        spread = self.totals[length]
        return _nb_quantiles(total_mean, spread.dispersion, levels, spread.pit_map)


def moment_dispersion(mu: np.ndarray, y: np.ndarray) -> float:
    """α of Var = μ + α μ², by the method of moments (Poisson when there is no excess)."""
    if len(mu) == 0:
        return _MIN_DISPERSION
    excess = float(np.sum((y - mu) ** 2 - mu))
    return max(_MIN_DISPERSION, excess / float(np.sum(mu**2)))


def _nb_params(mu: np.ndarray, dispersion: float) -> tuple[float, np.ndarray]:
    size = 1.0 / dispersion
    return size, size / (size + np.maximum(mu, _MEAN_FLOOR))


def randomised_pit(
    mu: np.ndarray, y: np.ndarray, dispersion: float, rng: np.random.Generator
) -> np.ndarray:
    """PIT of counts, randomised within the jump so a calibrated model gives uniform values."""
    size, p = _nb_params(mu, dispersion)
    y = np.round(y)
    upper = nbinom.cdf(y, size, p)
    lower = np.where(y > 0, nbinom.cdf(y - 1, size, p), 0.0)
    return lower + rng.uniform(size=len(mu)) * (upper - lower)


def _nb_quantiles(
    mean: np.ndarray, dispersion: float, levels: list[float], pit_map: PitMap
) -> dict[float, np.ndarray]:
    # nbinom.ppf costs ~0.6 µs per value; 100,000 series × 14 days share a few thousand distinct
    # means once rounded to 4 significant digits (0.01 % of a unit), so solve those only.
    rounded = _round_significant(np.maximum(mean, _MEAN_FLOOR), 4)
    distinct, position = np.unique(rounded, return_inverse=True)
    size, p = _nb_params(distinct, dispersion)
    out: dict[float, np.ndarray] = {}
    previous: np.ndarray | None = None
    for level in validate_levels(levels):
        values = (
            nbinom.ppf(pit_map(level), size, p).astype(np.float32)[position].reshape(mean.shape)
        )
        # ppf is monotone in the level; the maximum only guards float ties at the clip edges.
        values = values if previous is None else np.maximum(values, previous)
        out[level] = values
        previous = values
    return out


def _round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    magnitude = np.floor(np.log10(values))
    factor = 10.0 ** (digits - 1 - magnitude)
    return np.round(values * factor) / factor
