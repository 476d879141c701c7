"""Where the forecast loses the capture: plans made with one part of the forecast set to the truth.

The planner's window demand per (location, SKU) factors, in each of its two cases (the warned
rain falls, or it stays dry: ``TransferProblem.mixed``), as

    mean = level[g] · uplift[g] · placement[location | g] · styles[style | location, category]
           · sizes[SKU | location, style]

with g = city × channel × category (the groups ``pool.match_level`` sets the forecast's level
on): ``level`` the group's dry-window total, ``uplift`` its rain-window total ÷ its dry one (1 in
the dry case), ``placement`` a location's share of the group, ``styles`` a style's share of the
location's category, ``sizes`` a SKU's share of its style there; and around each mean a count
distribution whose ``spread`` the quantiles carry. The world's expected demand factors the same
way, so any part can be swapped for the world's while the rest stays the model's. The swapped
problem keeps the planner's rules (hit rate, hurdle); its plan, valued exactly under the world's
expected demand (``oracle.modelled_net``), says what knowing that part would have earned.

The world's two cases are its expected demand under the weather the forecast was given: the
alert's band on the alert's days and the city's climatology (band probabilities of past
same-season days, ``forecast_demand.pool_panel.horizon_climate``) on the others, or climatology
on every day — the world's demand under each band (``oracle.expected_demand(window_bands=)``)
mixed with those probabilities (``weather_mix``), which is exact since the world's weather
multiplies each day's demand. What the forecast was asked, not what then fell: the weather's own
error is the alert's.

Measurement only (benchmarks): no deciding code imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evals.oracle import P10_P90_Z, Key, oracle_problem
from forecasting.rain import BANDS
from inventory.demo_world.params import DemandParameters
from inventory.vocabulary import RainBand
from tools.plan_transfers.expected_sales import scale_counts
from tools.plan_transfers.problem import TransferProblem

#: The parts of the forecast, outermost first.
COMPONENTS: tuple[str, ...] = ("level", "uplift", "placement", "styles", "sizes", "spread")


@dataclass(frozen=True)
class Case:
    """One case's demand on the problem's (location, SKU) grid: window means, P10/P50/P90, and the
    world's extra-Poisson spread per position (var = μ + α·μ²; None for a forecast)."""

    mean: np.ndarray
    quantiles: np.ndarray
    alpha: np.ndarray | None = None


@dataclass(frozen=True)
class Parts:
    """A case's mean factored per position: each array has the grid's shape."""

    level: np.ndarray
    uplift: np.ndarray
    placement: np.ndarray
    styles: np.ndarray
    sizes: np.ndarray
    defined: dict[str, np.ndarray]
    """Per factor: where it is defined (its denominator is positive)."""


def _sum_by(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each position's sum of ``values`` over the positions sharing its label."""
    codes, inverse = np.unique(labels, return_inverse=True)
    totals = np.bincount(inverse.ravel(), weights=values.ravel(), minlength=codes.size)
    return totals[inverse].reshape(values.shape)


def _labels(problem: TransferProblem) -> dict[str, np.ndarray]:
    """Grid labels of the nested groups: group (city × channel × category), location × category,
    location × style."""
    n_loc, n_sku = len(problem.locations), len(problem.skus)
    place = pd.factorize(pd.Series([f"{loc.city}|{loc.kind}" for loc in problem.locations]))[0]
    category = pd.factorize(pd.Series([sku.category for sku in problem.skus]))[0]
    style = pd.factorize(pd.Series([sku.style for sku in problem.skus]))[0]
    loc = np.arange(n_loc)[:, None]
    return {
        "group": np.broadcast_to(place[:, None] * n_sku + category[None, :], (n_loc, n_sku)),
        "location_category": loc * n_sku + category[None, :],
        "location_style": loc * n_sku + style[None, :],
    }


def _ratio(top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = bottom > 0
    return np.divide(top, bottom, out=np.zeros_like(top), where=ok), ok


def factor(problem: TransferProblem, rain: np.ndarray, dry: np.ndarray) -> tuple[Parts, Parts]:
    """The rain and dry cases' means factored (module docstring); both share the dry level."""
    labels = _labels(problem)

    def parts(mean: np.ndarray, level: np.ndarray, level_ok: np.ndarray) -> Parts:
        group = _sum_by(mean, labels["group"])
        loc_cat = _sum_by(mean, labels["location_category"])
        loc_style = _sum_by(mean, labels["location_style"])
        uplift, uplift_ok = _ratio(group, level)
        placement, placement_ok = _ratio(loc_cat, group)
        styles, styles_ok = _ratio(loc_style, loc_cat)
        sizes, sizes_ok = _ratio(mean, loc_style)
        return Parts(
            level=level,
            uplift=uplift,
            placement=placement,
            styles=styles,
            sizes=sizes,
            defined={
                "level": level_ok,
                "uplift": uplift_ok,
                "placement": placement_ok,
                "styles": styles_ok,
                "sizes": sizes_ok,
            },
        )

    level = _sum_by(dry, labels["group"])
    level_ok = np.ones(level.shape, dtype=bool)
    return parts(rain, level, level_ok), parts(dry, level, level_ok)


def compose(model: Parts, truth: Parts, swapped: Iterable[str]) -> np.ndarray:
    """The mean with the factors in ``swapped`` from ``truth``, the rest from ``model``; a model
    factor with nothing to divide by (e.g. a store the model gives no demand in a category) takes
    the truth's, since the model says nothing there."""
    swapped = set(swapped)
    mean = np.ones(model.level.shape)
    for name in ("level", "uplift", "placement", "styles", "sizes"):
        ours, theirs = getattr(model, name), getattr(truth, name)
        use_truth = np.full(mean.shape, name in swapped) | ~model.defined[name]
        mean = mean * np.where(use_truth, theirs, ours)
    return mean


def _spread(mean: np.ndarray, template: Case, truth: Case, world_spread: bool) -> np.ndarray:
    """Quantiles for ``mean``: the world's count spread (negative binomial, its α per position),
    or the model's dispersion at the new mean (``template``'s, scaled as the planner scales
    its quantiles, ``expected_sales.scale_counts``), the world's where the model has no mean
    to scale."""
    assert truth.alpha is not None
    var = mean + truth.alpha * mean**2
    spread = np.maximum(P10_P90_Z * np.sqrt(var), mean)
    world = np.stack([np.zeros_like(mean), mean, spread], axis=2)
    if world_spread:
        return world
    has = template.mean > 0
    ratio = np.divide(mean, template.mean, out=np.zeros_like(mean), where=has)
    model = scale_counts(template.mean, template.quantiles, ratio)[1]
    return np.where(has[:, :, None], model, world)


def weather_mix(
    by_band: Mapping[RainBand, dict[Key, np.ndarray]],
    probability: np.ndarray,
    certain: Mapping[int, RainBand] | None = None,
) -> dict[Key, np.ndarray]:
    """The world's expected daily demand when day d's band is drawn with ``probability[d]`` (over
    ``BANDS``, climatology), or is ``certain[d]`` (the alert's days): each band's expected demand
    (``by_band``: the whole window under that band) weighted per day."""
    days = probability.shape[0]
    weights = np.array(probability, dtype=float)
    for day, band in (certain or {}).items():
        if day < days:
            weights[day] = [1.0 if b == band else 0.0 for b in BANDS]
    keys = next(iter(by_band.values())).keys()
    return {
        key: sum(weights[:, n] * by_band[band][key][:days] for n, band in enumerate(BANDS))
        for key in keys
    }


def world_case(problem: TransferProblem, expected: dict[Key, np.ndarray]) -> Case:
    """The world's expected window demand on the problem's grid, with its spread (``oracle``)."""
    oracle = oracle_problem(problem, expected)
    shape = DemandParameters().nb_shape
    square = np.zeros(problem.shape)
    loc = {location.code: i for i, location in enumerate(problem.locations)}
    sku = {k.code: j for j, k in enumerate(problem.skus)}
    for (location, code), daily in expected.items():
        i, j = loc.get(location), sku.get(code)
        if i is not None and j is not None:
            square[i, j] = float((daily[: problem.window_days] ** 2).sum())
    mean = oracle.demand_mean
    # var = Σ μ_d + Σ μ_d² / r = μ + α μ² with α = Σ μ_d² / (r μ²); an even spread over the
    # window where the world expects nothing.
    alpha = np.divide(
        square / shape,
        mean**2,
        out=np.full(mean.shape, 1.0 / (shape * problem.window_days)),
        where=mean > 0,
    )
    return Case(mean=mean, quantiles=oracle.demand_quantiles, alpha=alpha)


def swap(
    problem: TransferProblem, rain: Case, dry: Case, swapped: Iterable[str]
) -> TransferProblem:
    """``problem`` (a mixed rain/dry problem as the alert path builds it) with the parts of its
    forecast in ``swapped`` (``COMPONENTS``) replaced by the world's ``rain`` and ``dry`` cases;
    rules, hit rate and hurdle unchanged."""
    swapped = set(swapped)
    unknown = swapped - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown forecast part(s) {sorted(unknown)}; choose from {COMPONENTS}")
    if not problem.mixed:
        raise ValueError("the ablation factors a rain/dry problem (rain_hit_rate < 1)")
    assert problem.dry_mean is not None and problem.dry_quantiles is not None
    model_rain, model_dry = factor(problem, problem.demand_mean, problem.dry_mean)
    true_rain, true_dry = factor(problem, rain.mean, dry.mean)
    rain_mean = compose(model_rain, true_rain, swapped)
    dry_mean = compose(model_dry, true_dry, swapped - {"uplift"})
    world_spread = "spread" in swapped
    return replace(
        problem,
        demand_mean=rain_mean,
        demand_quantiles=_spread(
            rain_mean, Case(problem.demand_mean, problem.demand_quantiles), rain, world_spread
        ),
        dry_mean=dry_mean,
        dry_quantiles=_spread(
            dry_mean, Case(problem.dry_mean, problem.dry_quantiles), dry, world_spread
        ),
    )


def shares_missed(problem: TransferProblem, rain: Case, dry: Case) -> dict[str, float]:
    """How far each factor of the forecast's rain case is from the world's, as one number each:
    level and uplift as the ratio model ÷ world of the summed dry and rain totals over the
    problem's groups with demand; placement, styles and sizes as the share of the world's rain
    demand the model puts elsewhere (half the L1 distance of the two splits, weighted by the
    world's demand)."""
    assert problem.dry_mean is not None
    labels = _labels(problem)
    out: dict[str, float] = {}
    model_dry, true_dry = float(problem.dry_mean.sum()), float(dry.mean.sum())
    model_rain, true_rain = float(problem.demand_mean.sum()), float(rain.mean.sum())
    out["level_ratio"] = round(model_dry / true_dry, 3) if true_dry else float("nan")
    out["uplift_model"] = round(model_rain / model_dry, 3) if model_dry else float("nan")
    out["uplift_world"] = round(true_rain / true_dry, 3) if true_dry else float("nan")
    total = float(rain.mean.sum())
    for name, child, parent in (
        ("placement", "location_category", "group"),
        ("styles", "location_style", "location_category"),
        ("sizes", None, "location_style"),
    ):
        # Each child (a location in its group, a style at its location, a SKU) counted once:
        # positions of a child share its split, so each carries 1 / (positions in the child).
        child_labels = (
            labels[child] if child else np.arange(rain.mean.size).reshape(rain.mean.shape)
        )
        once = 1.0 / _sum_by(np.ones(rain.mean.shape), child_labels)

        def split(
            mean: np.ndarray, child_labels: np.ndarray = child_labels, parent: str = parent
        ) -> np.ndarray:
            return _ratio(_sum_by(mean, child_labels), _sum_by(mean, labels[parent]))[0]

        gap = np.abs(split(problem.demand_mean) - split(rain.mean))
        weighted = 0.5 * gap * once * _sum_by(rain.mean, labels[parent])
        out[f"{name}_misplaced"] = (
            round(float(weighted.sum()) / total, 3) if total else float("nan")
        )
    return out
