"""The solver's input and output: plain arrays, no database, so evals can feed realised demand.

A problem is dense over (location, SKU): the network is sparse in *what moves*, not in what is
stocked, and dense arrays keep every per-position rule a vectorised expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tools.plan_transfers.models import TransferConstraints
from tools.plan_transfers.value import NEUTRAL_TERMS, ValueTerms, position_economics

DEMAND_KINDS = ("quantiles", "counts")


class ProblemError(ValueError):
    """The problem is malformed; the message names the field and the offending value."""

    def __init__(self, message: str, *, field: str, value: object = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.value = value


@dataclass(frozen=True)
class LocationNode:
    code: str
    city: str
    region: str
    kind: str = "store"
    tier: str = "A"
    sells: bool = True
    """Whether the location is entitled to sell on its own channel (store or online)."""


@dataclass(frozen=True)
class SkuNode:
    code: str
    style: str
    size: str
    size_index: int
    price: float
    core: bool = False
    cost: float = 0.0
    """Landed unit cost: margin = price at the location − cost (``value.position_economics``)."""
    category: str = ""


@dataclass(frozen=True)
class LaneArrays:
    """Lanes as parallel arrays of location indices and their lead time and costs."""

    source: np.ndarray
    dest: np.ndarray
    lead_time_hours: np.ndarray
    cost_per_unit: np.ndarray
    cost_per_shipment: np.ndarray

    def __len__(self) -> int:
        return int(self.source.shape[0])


@dataclass(frozen=True)
class TransferProblem:
    """Everything the optimiser needs for one demand window.

    Attributes:
        stock: units that can sell at each position over the window (on hand − reserved +
            inbound arriving), shape (locations, skus).
        atp: available to promise (on hand − reserved − safety), what a source may give.
        min_display: units a location must keep on the shelf.
        days_since_received: days since the position last received stock (inf when never).
        demand_levels: quantile levels in [0, 1], increasing, shape (q,).
        demand_quantiles: quantiles of total window demand, shape (locations, skus, q).
        demand_mean: mean window demand, shape (locations, skus).
        destinations: location codes allowed to receive; None means every store.
        demand_kind: "quantiles" reads demand as the piecewise-linear CDF through the quantiles
            (synthetic and point-demand problems); "counts" as a count distribution with
            ``demand_mean`` and the quantiles' spread (forecasts of unit sales, see
            ``expected_sales.count_curves``).
        rain_hit_rate, dry_quantiles, dry_mean: when the demand above assumes a warned rain
            (an alert) that may not fall, the probability that it does and the window's demand
            if it does not (same shapes as ``demand_quantiles`` / ``demand_mean``). Demand is then
            the mixture: P(D > k) = p·P(D_rain > k) + (1 − p)·P(D_dry > k), so every expected
            value is p·value_if_rain + (1 − p)·value_if_dry (``expected_sales.position_curves``).
        no_rain_quantiles, no_rain_mean: the window's demand if not a drop falls where the alert
            warned (every window day at 0 mm there; the dry case above is the date's climate,
            which still rains some days). What a false alarm costs is read on it, and the plan is
            held to ``alert_verification.max_false_alarm_loss`` there (``false_alarm``).
    """

    locations: list[LocationNode]
    skus: list[SkuNode]
    stock: np.ndarray
    atp: np.ndarray
    min_display: np.ndarray
    days_since_received: np.ndarray
    demand_levels: np.ndarray
    demand_quantiles: np.ndarray
    demand_mean: np.ndarray
    lanes: LaneArrays
    window_days: int
    constraints: TransferConstraints = field(default_factory=TransferConstraints)
    destinations: frozenset[str] | None = None
    demand_kind: str = "quantiles"
    value_terms: ValueTerms = NEUTRAL_TERMS
    rain_hit_rate: float = 1.0
    dry_quantiles: np.ndarray | None = None
    dry_mean: np.ndarray | None = None
    no_rain_quantiles: np.ndarray | None = None
    no_rain_mean: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    """What the plan should tell its reader about how the problem was built."""
    margin: np.ndarray = field(init=False, repr=False)
    """Margin per unit sold at each (location, SKU): price at the location − unit cost."""
    unsold_cost: np.ndarray = field(init=False, repr=False)
    """Cost per moved unit that does not sell at each (location, SKU): return freight + markdown."""

    def __post_init__(self) -> None:
        validate_problem(self)
        margin, unsold = position_economics(self.locations, self.skus, self.lanes, self.value_terms)
        object.__setattr__(self, "margin", margin)
        object.__setattr__(self, "unsold_cost", unsold)

    @property
    def mixed(self) -> bool:
        """Whether demand is a rain/dry mixture (an alert that verifies with probability < 1)."""
        return self.dry_mean is not None and self.rain_hit_rate < 1.0

    @property
    def expected_mean(self) -> np.ndarray:
        """Mean window demand over the rain/dry mixture (``demand_mean`` when not mixed)."""
        if not self.mixed:
            return self.demand_mean
        p = self.rain_hit_rate
        return p * self.demand_mean + (1 - p) * self.dry_mean  # type: ignore[operator]

    def no_rain_case(self) -> TransferProblem | None:
        """The problem with the no-rain window as certain demand (None without one)."""
        if self.no_rain_mean is None or self.no_rain_quantiles is None:
            return None
        return replace(
            self,
            demand_quantiles=self.no_rain_quantiles,
            demand_mean=self.no_rain_mean,
            rain_hit_rate=1.0,
            dry_quantiles=None,
            dry_mean=None,
            no_rain_quantiles=None,
            no_rain_mean=None,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.locations), len(self.skus)

    @property
    def window_hours(self) -> float:
        return self.window_days * 24.0


def _check_array(
    name: str, arr: np.ndarray, shape: tuple[int, ...], *, allow_inf: bool = False
) -> None:
    if not isinstance(arr, np.ndarray):
        raise ProblemError("must be a numpy array", field=name, value=type(arr).__name__)
    if arr.shape != shape:
        raise ProblemError(f"shape {arr.shape} does not match {shape}", field=name)
    if np.any(np.isnan(arr)) or (not allow_inf and np.any(np.isinf(arr))):
        raise ProblemError("contains NaN or infinite values", field=name)
    if arr.size and np.any(arr < 0):
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ProblemError(
            f"negative value {arr[idx]!r} at index {idx}", field=name, value=arr[idx]
        )


def validate_problem(problem: TransferProblem) -> None:
    """Refuse what would make a silent wrong plan: negative stock, ragged arrays, bad quantiles."""
    n_loc, n_sku = problem.shape
    if problem.window_days < 1:
        raise ProblemError("must be at least 1 day", field="window_days", value=problem.window_days)
    if problem.constraints.allowed_lanes not in ("city", "region", "any"):
        raise ProblemError(
            "must be city, region or any",
            field="constraints.allowed_lanes",
            value=problem.constraints.allowed_lanes,
        )
    if problem.demand_kind not in DEMAND_KINDS:
        raise ProblemError(
            f"must be one of {', '.join(DEMAND_KINDS)}",
            field="demand_kind",
            value=problem.demand_kind,
        )
    codes = [loc.code for loc in problem.locations]
    if len(set(codes)) != len(codes):
        raise ProblemError("duplicate location codes", field="locations")
    for sku in problem.skus:
        if not np.isfinite(sku.price) or sku.price < 0:
            raise ProblemError(f"price {sku.price!r} of {sku.code}", field="skus", value=sku.price)
        if not np.isfinite(sku.cost) or sku.cost < 0:
            raise ProblemError(f"cost {sku.cost!r} of {sku.code}", field="skus", value=sku.cost)
    for name in ("stock", "atp", "min_display", "days_since_received", "demand_mean"):
        allow_inf = name == "days_since_received"
        _check_array(name, getattr(problem, name), (n_loc, n_sku), allow_inf=allow_inf)
    if np.any(problem.atp > problem.stock):
        raise ProblemError("atp exceeds sellable stock at some position", field="atp")
    levels = problem.demand_levels
    if levels.ndim != 1 or levels.size == 0:
        raise ProblemError("needs at least one quantile level", field="demand_levels")
    if np.any(levels < 0) or np.any(levels > 1) or np.any(np.diff(levels) <= 0):
        raise ProblemError(
            f"levels must increase within [0, 1], got {levels.tolist()}", field="demand_levels"
        )
    _check_array("demand_quantiles", problem.demand_quantiles, (n_loc, n_sku, levels.size))
    if np.any(np.diff(problem.demand_quantiles, axis=2) < -1e-9):
        raise ProblemError("quantiles must not decrease with the level", field="demand_quantiles")
    _validate_mixture(problem, (n_loc, n_sku, levels.size))
    lanes = problem.lanes
    for name in ("source", "dest", "lead_time_hours", "cost_per_unit", "cost_per_shipment"):
        arr = getattr(lanes, name)
        _check_array(f"lanes.{name}", arr, (len(lanes),))
    if len(lanes) and (lanes.source.max() >= n_loc or lanes.dest.max() >= n_loc):
        raise ProblemError("lane refers to an unknown location index", field="lanes")
    if problem.destinations is not None:
        unknown = sorted(problem.destinations - set(codes))
        if unknown:
            raise ProblemError(
                f"unknown location(s) {unknown}", field="destinations", value=unknown
            )


def _validate_mixture(problem: TransferProblem, shape: tuple[int, int, int]) -> None:
    p = problem.rain_hit_rate
    if not (np.isfinite(p) and 0.0 <= p <= 1.0):
        raise ProblemError("must be a probability in [0, 1]", field="rain_hit_rate", value=p)
    _validate_case("no_rain", problem.no_rain_mean, problem.no_rain_quantiles, shape)
    if _validate_case("dry", problem.dry_mean, problem.dry_quantiles, shape) and (
        problem.demand_kind != "counts"
    ):
        raise ProblemError(
            "a rain/dry mixture needs count demand", field="demand_kind", value=problem.demand_kind
        )


def _validate_case(
    name: str, mean: np.ndarray | None, quantiles: np.ndarray | None, shape: tuple[int, int, int]
) -> bool:
    """A second demand case (``dry``, ``no_rain``): both arrays or neither, on the problem's
    grid, quantiles not decreasing. Whether it is given."""
    if (mean is None) != (quantiles is None):
        raise ProblemError("give both or neither", field=f"{name}_mean")
    if mean is None or quantiles is None:
        return False
    _check_array(f"{name}_mean", mean, shape[:2])
    _check_array(f"{name}_quantiles", quantiles, shape)
    if np.any(np.diff(quantiles, axis=2) < -1e-9):
        raise ProblemError("quantiles must not decrease with the level", field=f"{name}_quantiles")
    return True


@dataclass(frozen=True)
class PlanLine:
    """One SKU on one lane, with the numbers that justify it."""

    source: int
    dest: int
    sku: int
    qty: int
    expected_units_saved: float
    expected_value: float
    cost: float
    dest_days_to_stockout_before: float | None
    dest_days_to_stockout_after: float | None
    source_atp_after: int
    unsold_risk: float = 0.0
    """Expected cost of this line's units that do not sell (already out of ``expected_value``)."""


@dataclass(frozen=True)
class SolvedShipment:
    source: int
    dest: int
    lead_time_hours: float
    lines: list[PlanLine]
    expected_value: float
    cost: float
    net_value_if_no_rain: float | None = None
    """Net value if not a drop of the warned rain falls (``false_alarm``); None off alerts."""

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)

    @property
    def net_value(self) -> float:
        return self.expected_value - self.cost


@dataclass(frozen=True)
class SolvedPlan:
    """A plan and how it came about. ``objective`` = expected margin recovered − expected cost of
    moved units that do not sell − freight (``value``)."""

    method: str
    shipments: list[SolvedShipment]
    objective: float
    wall_s: float
    empty_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    net_value_if_no_rain: float | None = None
    """The plan's net value if not a drop of the warned rain falls (``false_alarm``)."""
    cut_by_false_alarm_bound: bool = False
    """Whether ``false_alarm`` made the plan again (or emptied it) to hold its loss bound."""

    @property
    def units(self) -> int:
        return sum(s.units for s in self.shipments)
