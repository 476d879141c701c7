"""One min-cost flow over every SKU at once (disjoint components share a super source and sink).

Shipment fixed costs and the rules that couple SKUs on a lane are not linear; they are handled
by dynamic slope scaling (a used lane's fixed cost is spread over the packs it carried last round)
and by refusing lanes whose shipments broke a rule, then solving again; the best plan after the
shipment rules is kept (Kim & Pardalos 1999, "dynamic slope scaling").
"""

from __future__ import annotations

import time

import numpy as np
from ortools.graph.python import min_cost_flow

from tools.plan_transfers.network import Network
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.shipments import Moves, Selection, apply_shipment_rules, plan_objective

COST_SCALE = 100.0
"""OR-Tools wants integer costs: values and costs in cents per pack."""


class FlowSolverError(RuntimeError):
    """The min-cost flow did not reach an optimum; callers fall back to greedy."""


def min_cost_flow_moves(
    network: Network, lane_extra: np.ndarray, banned: np.ndarray
) -> tuple[Moves, np.ndarray]:
    """Optimal flow for the current arc costs: the moves and the packs on each lane arc."""
    n_nodes = network.node_loc.size
    source, sink = n_nodes, n_nodes + 1
    give, take = network.give, network.take
    total = int(give.capacity.sum())
    lane_cost = network.lane_cost + lane_extra[network.lane_id]
    lane_cap = np.where(banned, 0, network.lane_capacity)
    tails = np.concatenate([np.full(give.node.size, source), take.node, network.lane_from, [source]])
    heads = np.concatenate([give.node, np.full(take.node.size, sink), network.lane_to, [sink]])
    caps = np.concatenate([give.capacity, take.capacity, lane_cap, [total]])
    costs = np.concatenate([give.value, -take.value, lane_cost, [0.0]])
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        caps.astype(np.int64),
        np.round(costs * COST_SCALE).astype(np.int64),
    )
    supplies = np.zeros(n_nodes + 2, dtype=np.int64)
    supplies[source], supplies[sink] = total, -total
    solver.set_nodes_supplies(np.arange(n_nodes + 2, dtype=np.int32), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise FlowSolverError(f"min-cost flow ended with status {status}")
    first_lane = give.node.size + take.node.size
    packs = solver.flows(np.arange(first_lane, first_lane + network.lane_id.size))
    used = packs > 0
    moves = Moves(
        sku=network.node_sku[network.lane_from[used]],
        source=network.node_loc[network.lane_from[used]],
        dest=network.node_loc[network.lane_to[used]],
        qty=packs[used].astype(np.int64) * network.pack,
    )
    return moves, packs


def solve_by_flow(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    *,
    deadline: float,
    max_rounds: int = 6,
) -> tuple[Selection, int]:
    """Best plan over slope-scaling rounds; returns it and the number of rounds run."""
    fixed = problem.lanes.cost_per_shipment
    lane_extra = np.zeros(len(problem.lanes))
    banned = np.zeros(network.lane_id.size, dtype=bool)
    best: Selection | None = None
    best_value = -np.inf
    rounds = 0
    for _ in range(max_rounds):
        rounds += 1
        moves, packs = min_cost_flow_moves(network, lane_extra, banned)
        selection = apply_shipment_rules(problem, moves, lane_of)
        value = plan_objective(selection.shipments)
        if value > best_value:
            best, best_value = selection, value
        if time.monotonic() > deadline:
            break
        newly_banned = _arcs_on_pairs(network, selection.rejected) & ~banned
        lane_packs = np.bincount(network.lane_id, weights=packs, minlength=len(problem.lanes))
        used = lane_packs > 0
        new_extra = lane_extra.copy()
        new_extra[used] = fixed[used] / lane_packs[used]
        if not newly_banned.any() and np.allclose(new_extra, lane_extra):
            break
        banned |= newly_banned
        lane_extra = new_extra
    assert best is not None
    return best, rounds


def _arcs_on_pairs(network: Network, pairs: set[tuple[int, int]]) -> np.ndarray:
    if not pairs:
        return np.zeros(network.lane_id.size, dtype=bool)
    src = network.node_loc[network.lane_from].tolist()
    dst = network.node_loc[network.lane_to].tolist()
    return np.array([(s, d) in pairs for s, d in zip(src, dst, strict=True)], dtype=bool)
