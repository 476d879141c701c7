"""The transshipment as min-cost flows, one per SKU (OR-Tools), over the candidate network.

Shipment fixed costs and the rules that couple SKUs on a lane are not linear; they are handled
by dynamic slope scaling (a used lane's fixed cost is spread over the packs it carried last round)
and by refusing lanes whose shipments broke a rule, then solving again; the best plan after the
shipment rules is kept (Kim & Pardalos 1999, "dynamic slope scaling").

Where the shipment caps bite, which lanes ship decides most of the remaining gap to the full
MILP, so two steps follow while time allows: lanes chosen by an exact capped matching on the
values the rounds gave them (``lane_selection``), then a local search that closes, opens and swaps
lanes, scored exactly on the SKUs each move touches (``lane_search``).
"""

from __future__ import annotations

import time

import numpy as np
from ortools.graph.python import min_cost_flow

from tools.plan_transfers.lane_search import LaneSearchError, search_lanes
from tools.plan_transfers.lane_selection import select_lanes
from tools.plan_transfers.network import Network
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.shipments import Moves, Selection, apply_shipment_rules, plan_objective

COST_SCALE = 100.0
"""OR-Tools wants integer costs: values and costs in cents per pack."""
SEARCH_SECONDS_PER_ARC = 1e-4
"""About what the lane search spends per lane arc to score its starting lanes (measured on 2
shared cores, ~0.4 s for the 4,000 arcs of 50 stores × 500 SKUs)."""


class FlowSolverError(RuntimeError):
    """The min-cost flow did not reach an optimum; callers fall back to greedy."""


def min_cost_flow_moves(
    network: Network, lane_extra: np.ndarray, banned: np.ndarray
) -> tuple[Moves, np.ndarray]:
    """Optimal flow for the current arc costs, one small min-cost flow per SKU (DESIGN §10: far
    faster than one graph holding every SKU). Returns the moves and the packs on each lane arc."""
    give, take = network.give, network.take
    sku_of_node = network.node_sku
    n_nodes = sku_of_node.size
    tails = np.concatenate([np.full(give.node.size, -1), take.node, network.lane_from])
    heads = np.concatenate([give.node, np.full(take.node.size, -2), network.lane_to])
    caps = np.concatenate(
        [give.capacity, take.capacity, np.where(banned, 0, network.lane_capacity)]
    ).astype(np.int64)
    costs = np.concatenate(
        [give.value, -take.value, network.lane_cost + lane_extra[network.lane_id]]
    )
    costs = np.round(costs * COST_SCALE).astype(np.int64)
    owner = np.concatenate([give.node, take.node, network.lane_from])
    arc_sku = sku_of_node[owner] if n_nodes else owner
    order = np.argsort(arc_sku, kind="stable")
    skus, starts = np.unique(arc_sku[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    node_start = np.searchsorted(sku_of_node, skus, "left")
    node_end = np.searchsorted(sku_of_node, skus, "right")
    flows = np.zeros(order.size, dtype=np.int64)
    for k in range(skus.size):
        arcs = order[starts[k] : ends[k]]
        lo, n = int(node_start[k]), int(node_end[k] - node_start[k])
        source, sink = n, n + 1
        t = tails[arcs] - lo
        h = heads[arcs] - lo
        t[tails[arcs] == -1] = source
        h[heads[arcs] == -2] = sink
        is_give = tails[arcs] == -1
        total = int(caps[arcs][is_give].sum())
        if total == 0:
            continue
        solver = min_cost_flow.SimpleMinCostFlow()
        solver.add_arcs_with_capacity_and_unit_cost(
            np.append(t, source).astype(np.int32),
            np.append(h, sink).astype(np.int32),
            np.append(caps[arcs], total),
            np.append(costs[arcs], 0),
        )
        supplies = np.zeros(n + 2, dtype=np.int64)
        supplies[source], supplies[sink] = total, -total
        solver.set_nodes_supplies(np.arange(n + 2, dtype=np.int32), supplies)
        status = solver.solve()
        if status != solver.OPTIMAL:
            raise FlowSolverError(f"min-cost flow for SKU index {skus[k]} ended with {status}")
        flows[arcs] = solver.flows(np.arange(arcs.size, dtype=np.int32))
    first_lane = give.node.size + take.node.size
    packs = flows[first_lane:]
    used = packs > 0
    moves = Moves(
        sku=network.node_sku[network.lane_from[used]],
        source=network.node_loc[network.lane_from[used]],
        dest=network.node_loc[network.lane_to[used]],
        qty=packs[used] * network.pack,
    )
    return moves, packs


def solve_by_flow(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    *,
    deadline: float,
    max_rounds: int = 10,
) -> tuple[Selection, int]:
    """Best plan over slope-scaling rounds; returns it and the number of rounds run.

    Shipment caps are priced in as a Lagrangian-style penalty per shipment at each source or
    destination that the last round's flow over-used, added to the lanes' fixed cost before it is
    spread over their packs.
    """
    c = problem.constraints
    lanes = problem.lanes
    n_loc = len(problem.locations)
    penalty_src = np.zeros(n_loc)
    penalty_dst = np.zeros(n_loc)
    lane_packs = np.zeros(len(lanes))
    banned = np.zeros(network.lane_id.size, dtype=bool)
    best: Selection | None = None
    best_value = -np.inf
    estimate = np.full(len(lanes), -np.inf)
    rounds = 0
    for _ in range(max_rounds):
        round_started = time.monotonic()
        rounds += 1
        fixed = lanes.cost_per_shipment + penalty_src[lanes.source] + penalty_dst[lanes.dest]
        typical = np.median(lane_packs[lane_packs > 0]) if (lane_packs > 0).any() else np.inf
        lane_extra = fixed / np.where(lane_packs > 0, lane_packs, typical)
        moves, packs = min_cost_flow_moves(network, lane_extra, banned)
        selection = apply_shipment_rules(problem, moves, lane_of)
        if selection.offered_lanes is not None:
            np.maximum.at(estimate, selection.offered_lanes, selection.offered_net)
        value = plan_objective(selection.shipments)
        if value > best_value:
            best, best_value = selection, value
        # Start another round only if one more, as long as this one, still fits.
        if 2 * time.monotonic() - round_started > deadline:
            break
        lane_packs = np.bincount(network.lane_id, weights=packs, minlength=len(lanes))
        used = lane_packs > 0
        step = 0.2 * max(value, 1.0) / max(len(selection.shipments), 1) / rounds
        over = False
        for cap, ends, penalty in (
            (c.max_shipments_per_source, lanes.source, penalty_src),
            (c.max_shipments_per_dest, lanes.dest, penalty_dst),
        ):
            if cap is None:
                continue
            count = np.bincount(ends[used], minlength=n_loc)
            excess = np.maximum(count - cap, 0)
            penalty += step * excess / cap
            over |= bool(excess.any())
        newly_banned = _arcs_on_pairs(network, selection.rejected - _pairs(selection)) & ~banned
        if not over and not newly_banned.any() and rounds > 1:
            break
        if not over:
            banned |= newly_banned
    assert best is not None
    round_seconds = time.monotonic() - round_started
    best = _polish(problem, network, lane_of, best, deadline, round_seconds)
    selected = _select_lanes_and_resolve(
        problem, network, lane_of, best, estimate, deadline, round_seconds
    )
    if selected is not best:
        best = _polish(problem, network, lane_of, selected, deadline, round_seconds)
    return _search(problem, network, lane_of, best, deadline, round_seconds), rounds


def _search(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    best: Selection,
    deadline: float,
    round_seconds: float,
) -> Selection:
    """Lane local search (close, open, swap under the caps) from the best plan's lanes, then the
    flows re-solved on the lanes it keeps; the better plan of the two is returned."""
    lanes = problem.lanes
    # Keep a round in hand for the final re-solve and the shipment rules; skip the search when
    # even scoring the starting lanes (one small flow per lane arc) cannot fit.
    search_deadline = deadline - 1.5 * round_seconds
    if time.monotonic() + SEARCH_SECONDS_PER_ARC * network.lane_id.size > search_deadline:
        return best
    start = np.zeros(len(lanes), dtype=bool)
    start[lane_of[best.moves.source, best.moves.dest]] = True
    try:
        found = search_lanes(problem, network, start, deadline=search_deadline)
    except LaneSearchError:
        return best  # the search only ever improves a plan; without it the plan stands
    if found is None or np.array_equal(found, start):
        return best
    opened = set(zip(lanes.source[found].tolist(), lanes.dest[found].tolist(), strict=True))
    moves, _ = min_cost_flow_moves(network, np.zeros(len(lanes)), ~_arcs_on_pairs(network, opened))
    searched = apply_shipment_rules(problem, moves, lane_of)
    if plan_objective(searched.shipments) > plan_objective(best.shipments):
        return searched
    return best


def _select_lanes_and_resolve(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    best: Selection,
    estimate: np.ndarray,
    deadline: float,
    round_seconds: float,
    max_iterations: int = 6,
) -> Selection:
    """Choose the lanes to open by an exact capped matching on estimated lane values, then
    re-solve the flows on those lanes only (their fixed costs are sunk). Lanes that realise less
    than estimated are re-valued at what they realised and the choice is made again, so slots
    move to lanes whose estimate has not been disproved yet."""
    c = problem.constraints
    lanes = problem.lanes
    best_value = plan_objective(best.shipments)
    estimate = estimate.copy()
    previous: np.ndarray | None = None
    for _ in range(max_iterations):
        # One iteration costs about a round and a half; keep a round in hand for the polish.
        if time.monotonic() + 3 * round_seconds > deadline:
            break
        cand = np.nonzero(estimate > 0)[0]
        if cand.size == 0:
            break
        pick = cand[
            select_lanes(
                lanes.source[cand],
                lanes.dest[cand],
                estimate[cand],
                max_per_source=c.max_shipments_per_source,
                max_per_dest=c.max_shipments_per_dest,
            )
        ]
        if previous is not None and np.array_equal(pick, previous):
            break
        previous = pick
        opened = set(zip(lanes.source[pick].tolist(), lanes.dest[pick].tolist(), strict=True))
        moves, _ = min_cost_flow_moves(
            network, np.zeros(len(lanes)), ~_arcs_on_pairs(network, opened)
        )
        selection = apply_shipment_rules(problem, moves, lane_of)
        realised = np.zeros(len(lanes))
        if selection.offered_lanes is not None:
            realised[selection.offered_lanes] = selection.offered_net
        estimate[pick] = np.minimum(estimate[pick], realised[pick])
        value = plan_objective(selection.shipments)
        if value > best_value:
            best, best_value = selection, value
    return best


def _pairs(selection: Selection) -> set[tuple[int, int]]:
    return set(zip(selection.moves.source.tolist(), selection.moves.dest.tolist(), strict=True))


def _polish(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    selection: Selection,
    deadline: float,
    round_seconds: float,
) -> Selection:
    """Local search on the set of opened lanes.

    Re-optimising volumes on the lanes already opened is exact for that lane set (their fixed
    costs are paid); then lanes whose two ends still have shipment slots are offered again at
    their amortised fixed cost, and kept if the plan improves.
    """
    step = round_seconds
    for _ in range(6):
        started = time.monotonic()
        if started + step > deadline or len(selection.moves) == 0:
            break
        improved = _restricted(problem, network, lane_of, _pairs(selection), with_slots=False)
        if plan_objective(improved.shipments) <= plan_objective(selection.shipments) + 1e-6:
            improved = _restricted(
                problem,
                network,
                lane_of,
                _pairs(selection),
                with_slots=True,
                typical_packs=_typical_packs(selection, network.pack),
            )
            improved = _restricted(problem, network, lane_of, _pairs(improved), with_slots=False)
            if plan_objective(improved.shipments) <= plan_objective(selection.shipments) + 1e-6:
                break
        selection = improved
        step = time.monotonic() - started
    return selection


def _typical_packs(selection: Selection, pack: int) -> float:
    """Median packs per shipment of a plan."""
    units = [s.units for s in selection.shipments]
    return float(np.median(units)) / pack if units else 1.0


def _restricted(
    problem: TransferProblem,
    network: Network,
    lane_of: np.ndarray,
    opened: set[tuple[int, int]],
    *,
    with_slots: bool,
    typical_packs: float = 1.0,
) -> Selection:
    c = problem.constraints
    lanes = problem.lanes
    is_open = _arcs_on_pairs(network, opened)
    allowed = is_open.copy()
    lane_extra = np.zeros(len(lanes))
    if with_slots:
        n_loc = len(problem.locations)
        src = np.array([s for s, _ in opened], dtype=np.int64)
        dst = np.array([d for _, d in opened], dtype=np.int64)
        free_src = np.bincount(src, minlength=n_loc) < (c.max_shipments_per_source or 1 << 30)
        free_dst = np.bincount(dst, minlength=n_loc) < (c.max_shipments_per_dest or 1 << 30)
        arc_src = network.node_loc[network.lane_from]
        arc_dst = network.node_loc[network.lane_to]
        allowed |= free_src[arc_src] & free_dst[arc_dst]
        # A new lane is priced as if it carried what an opened lane typically carries.
        lane_extra = lanes.cost_per_shipment / max(typical_packs, 1.0)
        open_lanes = np.unique(network.lane_id[is_open])
        lane_extra[open_lanes] = 0.0
    moves, _ = min_cost_flow_moves(network, lane_extra, ~allowed)
    return apply_shipment_rules(problem, moves, lane_of)


def _arcs_on_pairs(network: Network, pairs: set[tuple[int, int]]) -> np.ndarray:
    if not pairs:
        return np.zeros(network.lane_id.size, dtype=bool)
    n = int(network.node_loc.max()) + 1 if network.node_loc.size else 1
    n = max(n, *(max(s, d) + 1 for s, d in pairs))
    wanted = np.array([s * n + d for s, d in pairs], dtype=np.int64)
    keys = network.node_loc[network.lane_from] * n + network.node_loc[network.lane_to]
    return np.isin(keys, wanted)
