"""From raw moves to explained shipments, and the rules that couple SKUs on a lane.

Moves are valued exactly with E[min(S, D)] and the one value definition (``value``): margin on a
destination's extra expected sales, less the expected cost of received units that do not sell,
less the margin a source gives up; these are shared among the lines that cause them in proportion
to units, so every line's numbers add up to the plan's objective.

Shipment-level rules (fixed cost, minimum value, shipments per source and per
destination, total cost cap) are enforced here by keeping the best shipments first; dropping a
shipment only raises the value of those that stay (concavity), so one pass order is stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.plan_transfers.expected_sales import expected_sales, position_curves
from tools.plan_transfers.problem import PlanLine, SolvedPlan, SolvedShipment, TransferProblem
from tools.plan_transfers.value import freight, position_value


@dataclass(frozen=True)
class Moves:
    """Units of each SKU moved from source to dest (location indices), one row per line."""

    sku: np.ndarray
    source: np.ndarray
    dest: np.ndarray
    qty: np.ndarray

    @classmethod
    def empty(cls) -> Moves:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z)

    @classmethod
    def of_plan(cls, plan: SolvedPlan) -> Moves:
        """Every positive line of a solved plan, in its problem's indices."""
        rows = [
            (line.sku, line.source, line.dest, line.qty)
            for shipment in plan.shipments
            for line in shipment.lines
            if line.qty > 0
        ]
        if not rows:
            return cls.empty()
        sku, source, dest, qty = np.array(rows, dtype=np.int64).T
        return cls(sku=sku, source=source, dest=dest, qty=qty)

    def select(self, mask: np.ndarray) -> Moves:
        return Moves(self.sku[mask], self.source[mask], self.dest[mask], self.qty[mask])

    def __len__(self) -> int:
        return int(self.sku.size)


def _position_change(
    problem: TransferProblem, locs: np.ndarray, skus: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Expected units sold after minus before, per position, for a stock change ``delta``."""
    if locs.size == 0:
        return np.zeros(0)
    curves = position_curves(problem, locs, skus)
    stock = problem.stock[locs, skus].astype(float)
    sold = expected_sales(curves, np.stack([stock, stock + delta], axis=1))
    return sold[:, 1] - sold[:, 0]


def _net_by_position(
    locs: np.ndarray, skus: np.ndarray, qty: np.ndarray, n_sku: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    keys = locs * n_sku + skus
    uniq, inv = np.unique(keys, return_inverse=True)
    total = np.bincount(inv, weights=qty, minlength=uniq.size)
    return uniq // n_sku, uniq % n_sku, total, inv


@dataclass(frozen=True)
class LineNumbers:
    """Per-line attributed numbers, and each line's shipment (index into ``lanes``)."""

    units_saved: np.ndarray
    value: np.ndarray
    """Margin recovered less the expected cost of moved units that do not sell (``value``)."""
    unsold_risk: np.ndarray
    cost: np.ndarray
    lane: np.ndarray
    shipment: np.ndarray
    dest_inflow: np.ndarray
    source_outflow: np.ndarray

    def shipment_totals(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.lane.size
        return (
            np.bincount(self.shipment, weights=self.value, minlength=n),
            np.bincount(self.shipment, weights=self.cost, minlength=n),
        )


def line_numbers(problem: TransferProblem, moves: Moves, lane_of: np.ndarray) -> LineNumbers:
    """Exact E[min(S, D)] changes, shared among the lines that cause them in proportion to units."""
    n_sku = len(problem.skus)
    qty = moves.qty.astype(float)
    d_loc, d_sku, d_in, d_inv = _net_by_position(moves.dest, moves.sku, qty, n_sku)
    s_loc, s_sku, s_out, s_inv = _net_by_position(moves.source, moves.sku, qty, n_sku)
    gain = _position_change(problem, d_loc, d_sku, d_in)
    loss = -_position_change(problem, s_loc, s_sku, -s_out)
    d_share, s_share = qty / d_in[d_inv], qty / s_out[s_inv]
    units_saved = gain[d_inv] * d_share - loss[s_inv] * s_share
    dest_margin = problem.margin[d_loc, d_sku]
    dest_unsold = problem.unsold_cost[d_loc, d_sku]
    dest_value = position_value(dest_margin, dest_unsold, gain, d_in)
    source_value = position_value(problem.margin[s_loc, s_sku], 0.0, -loss, 0.0)
    unsold_risk = dest_margin * gain - dest_value
    lanes = problem.lanes
    lane = lane_of[moves.source, moves.dest]
    ship_lanes, shipment = np.unique(lane, return_inverse=True)
    ship_units = np.bincount(shipment, weights=qty)
    # Each shipment's freight, shared among its lines in proportion to units.
    per_shipment = freight(
        ship_units, lanes.cost_per_unit[ship_lanes], lanes.cost_per_shipment[ship_lanes]
    )
    cost = per_shipment[shipment] * qty / ship_units[shipment]
    return LineNumbers(
        units_saved=units_saved,
        value=dest_value[d_inv] * d_share + source_value[s_inv] * s_share,
        unsold_risk=unsold_risk[d_inv] * d_share,
        cost=cost,
        lane=ship_lanes,
        shipment=shipment,
        dest_inflow=d_in[d_inv],
        source_outflow=s_out[s_inv],
    )


def value_moves(
    problem: TransferProblem, moves: Moves, lane_of: np.ndarray
) -> list[SolvedShipment]:
    """Explained shipments, one per lane, best net value first."""
    if len(moves) == 0:
        return []
    nums = line_numbers(problem, moves, lane_of)
    rate = problem.expected_mean[moves.dest, moves.sku] / problem.window_days
    stock_before = problem.stock[moves.dest, moves.sku].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        before = np.where(rate > 0, stock_before / rate, np.nan)
        after = np.where(rate > 0, (stock_before + nums.dest_inflow) / rate, np.nan)
    atp_after = problem.atp[moves.source, moves.sku] - nums.source_outflow
    lanes = problem.lanes
    order = np.argsort(nums.shipment, kind="stable")
    bounds = np.searchsorted(nums.shipment[order], np.arange(nums.lane.size + 1))
    shipments: list[SolvedShipment] = []
    for p, lane_idx in enumerate(nums.lane.tolist()):
        rows = order[bounds[p] : bounds[p + 1]]
        lines = [
            PlanLine(
                source=int(moves.source[r]),
                dest=int(moves.dest[r]),
                sku=int(moves.sku[r]),
                qty=int(moves.qty[r]),
                expected_units_saved=float(nums.units_saved[r]),
                expected_value=float(nums.value[r]),
                cost=float(nums.cost[r]),
                dest_days_to_stockout_before=None if np.isnan(before[r]) else float(before[r]),
                dest_days_to_stockout_after=None if np.isnan(after[r]) else float(after[r]),
                source_atp_after=int(atp_after[r]),
                unsold_risk=float(nums.unsold_risk[r]),
            )
            for r in rows.tolist()
        ]
        lines.sort(key=lambda line: -line.expected_value)
        shipments.append(
            SolvedShipment(
                source=int(lanes.source[lane_idx]),
                dest=int(lanes.dest[lane_idx]),
                lead_time_hours=float(lanes.lead_time_hours[lane_idx]),
                lines=lines,
                expected_value=float(sum(line.expected_value for line in lines)),
                cost=float(sum(line.cost for line in lines)),
            )
        )
    shipments.sort(key=lambda s: -s.net_value)
    return shipments


@dataclass(frozen=True)
class Selection:
    moves: Moves
    shipments: list[SolvedShipment]
    rejected: set[tuple[int, int]]
    """(source, dest) pairs refused by a shipment rule, for the solver to route around."""
    offered_lanes: np.ndarray | None = None
    offered_net: np.ndarray | None = None
    """Each lane of the moves as offered (before any rule) and its net value then."""


def apply_shipment_rules(problem: TransferProblem, moves: Moves, lane_of: np.ndarray) -> Selection:
    """Keep the best shipments that pay, meet the minimum value, and fit the caps and budget."""
    rejected: set[tuple[int, int]] = set()
    offered: tuple[np.ndarray, np.ndarray] | None = None
    while len(moves):
        nums = line_numbers(problem, moves, lane_of)
        if offered is None:
            value, cost = nums.shipment_totals()
            offered = (nums.lane, value - cost)
        refused_lanes = _refused_shipments(problem, nums)
        if refused_lanes.size == 0:
            break
        lanes = problem.lanes
        rejected |= set(
            zip(
                lanes.source[refused_lanes].tolist(),
                lanes.dest[refused_lanes].tolist(),
                strict=True,
            )
        )
        moves = moves.select(~np.isin(nums.lane[nums.shipment], refused_lanes))
    return Selection(
        moves,
        value_moves(problem, moves, lane_of),
        rejected,
        *(offered if offered is not None else (None, None)),
    )


def _refused_shipments(problem: TransferProblem, nums: LineNumbers) -> np.ndarray:
    """Lanes whose shipment breaks a rule, judged best net value first."""
    c = problem.constraints
    value, cost = nums.shipment_totals()
    net = value - cost
    ok = (net > 0) & (value >= c.min_value_per_shipment) & (net >= c.min_net_to_cost * cost)
    order = np.argsort(-net, kind="stable")
    sources = problem.lanes.source[nums.lane]
    dests = problem.lanes.dest[nums.lane]
    per_source: dict[int, int] = {}
    per_dest: dict[int, int] = {}
    cap_source = c.max_shipments_per_source or 1 << 30
    cap_dest = c.max_shipments_per_dest or 1 << 30
    budget = np.inf if c.max_total_cost is None else c.max_total_cost + 1e-9
    spent = 0.0
    for i in order.tolist():
        if not ok[i]:
            continue
        s, d = int(sources[i]), int(dests[i])
        if (
            per_source.get(s, 0) >= cap_source
            or per_dest.get(d, 0) >= cap_dest
            or spent + cost[i] > budget
        ):
            ok[i] = False
        else:
            per_source[s] = per_source.get(s, 0) + 1
            per_dest[d] = per_dest.get(d, 0) + 1
            spent += cost[i]
    return nums.lane[~ok]


def plan_objective(shipments: list[SolvedShipment]) -> float:
    return float(sum(s.net_value for s in shipments))
