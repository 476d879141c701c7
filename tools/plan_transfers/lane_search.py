"""Local search over which lanes ship, scored exactly on the SKUs each move touches.

With the set of open lanes fixed, the plan decomposes into one small min-cost flow per SKU, so
opening or closing one lane changes only the flows of the SKUs it carries. Each lane's exact
toggle gain (flows of its SKUs re-solved with the lane toggled, plus or minus its fixed cost) is
kept up to date; moves are: close a lane that does not pay, open one where both ends have a
shipment slot, or swap — close the weakest lane at a store that is at its shipment cap to open a
better one there. Swaps are re-scored exactly on the union of their SKUs before they are taken.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from tools.plan_transfers.network import Network
from tools.plan_transfers.problem import TransferProblem

COST_SCALE = 100.0
"""Same integer cost scale as the flow solver: cents per pack."""


class LaneSearchError(RuntimeError):
    """A per-SKU flow did not reach an optimum; the caller keeps the plan it had."""


@dataclass(frozen=True)
class _SkuBlock:
    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    costs: np.ndarray
    lane_pos: np.ndarray
    """Positions of this SKU's lane arcs within its arcs."""
    lane_arcs: np.ndarray
    """Indices of those lane arcs in the network."""
    source: int
    sink: int
    total: int


class SkuFlows:
    """Per-SKU min-cost flows over the network with a chosen set of lanes open."""

    def __init__(self, network: Network) -> None:
        give, take = network.give, network.take
        n_give, n_take = give.node.size, take.node.size
        tails = np.concatenate([np.full(n_give, -1), take.node, network.lane_from])
        heads = np.concatenate([give.node, np.full(n_take, -2), network.lane_to])
        caps = np.concatenate([give.capacity, take.capacity, network.lane_capacity])
        costs = np.concatenate([give.value, -take.value, network.lane_cost])
        costs = np.round(costs * COST_SCALE).astype(np.int64)
        owner = np.concatenate([give.node, take.node, network.lane_from])
        arc_sku = network.node_sku[owner]
        order = np.argsort(arc_sku, kind="stable")
        skus, starts = np.unique(arc_sku[order], return_index=True)
        ends = np.append(starts[1:], order.size)
        node_start = np.searchsorted(network.node_sku, skus, "left")
        node_end = np.searchsorted(network.node_sku, skus, "right")
        first_lane = n_give + n_take
        self.blocks: list[_SkuBlock] = []
        self.arc_block = np.full(network.lane_id.size, -1, dtype=np.int64)
        for k in range(skus.size):
            arcs = order[starts[k] : ends[k]]
            lo, n = int(node_start[k]), int(node_end[k] - node_start[k])
            t, h = tails[arcs] - lo, heads[arcs] - lo
            t[tails[arcs] == -1] = n
            h[heads[arcs] == -2] = n + 1
            is_lane = arcs >= first_lane
            lane_pos = np.nonzero(is_lane)[0]
            self.arc_block[arcs[is_lane] - first_lane] = k
            self.blocks.append(
                _SkuBlock(
                    tails=t.astype(np.int32),
                    heads=h.astype(np.int32),
                    caps=caps[arcs].astype(np.int64),
                    costs=costs[arcs],
                    lane_pos=lane_pos,
                    lane_arcs=arcs[is_lane] - first_lane,
                    source=n,
                    sink=n + 1,
                    total=int(caps[arcs][tails[arcs] == -1].sum()),
                )
            )

    def value(self, k: int, arc_open: np.ndarray) -> float:
        """Value of SKU block ``k``'s best flow (gains − losses − variable cost), lanes given by
        the network-wide arc mask ``arc_open``."""
        b = self.blocks[k]
        if b.total == 0 or b.lane_arcs.size == 0:
            return 0.0
        caps = b.caps.copy()
        caps[b.lane_pos] = np.where(arc_open[b.lane_arcs], caps[b.lane_pos], 0)
        solver = min_cost_flow.SimpleMinCostFlow()
        solver.add_arcs_with_capacity_and_unit_cost(
            np.append(b.tails, b.source),
            np.append(b.heads, b.sink),
            np.append(caps, b.total),
            np.append(b.costs, 0),
        )
        n = b.sink + 1
        supplies = np.zeros(n, dtype=np.int64)
        supplies[b.source], supplies[b.sink] = b.total, -b.total
        solver.set_nodes_supplies(np.arange(n, dtype=np.int32), supplies)
        if solver.solve() != solver.OPTIMAL:
            raise LaneSearchError(f"min-cost flow for SKU block {k} did not reach an optimum")
        return -solver.optimal_cost() / COST_SCALE


def search_lanes(
    problem: TransferProblem,
    network: Network,
    open_lanes: np.ndarray,
    *,
    deadline: float,
    max_moves: int = 400,
) -> np.ndarray | None:
    """Improve a set of open lanes (boolean over ``problem.lanes``) by closing, opening and
    swapping lanes under the shipment caps. Every move taken is an exact improvement, so when
    the deadline comes the lanes reached so far are returned; None if there was not even time to
    score the starting set."""
    c = problem.constraints
    lanes = problem.lanes
    fixed = lanes.cost_per_shipment
    cap_src = c.max_shipments_per_source or 1 << 30
    cap_dst = c.max_shipments_per_dest or 1 << 30
    n_loc = len(problem.locations)
    flows = SkuFlows(network)
    arc_lane = network.lane_id
    is_open = open_lanes.copy()
    arc_open = is_open[arc_lane]
    base = np.zeros(len(flows.blocks))
    contrib = np.zeros(arc_lane.size)
    arcs_of_block = [b.lane_arcs for b in flows.blocks]

    def rescore(blocks: np.ndarray) -> bool:
        started = time.monotonic()
        for i, k in enumerate(blocks.tolist()):
            now = time.monotonic()
            # Give up early when the pace so far says the blocks cannot all be scored in time.
            if now > deadline or (
                i >= 20 and started + (now - started) * blocks.size / i > deadline
            ):
                return False
            base[k] = flows.value(k, arc_open)
            for a in arcs_of_block[k].tolist():
                # Within one SKU a lane has at most one arc: toggling the arc toggles the lane.
                arc_open[a] = not arc_open[a]
                contrib[a] = flows.value(k, arc_open) - base[k]
                arc_open[a] = not arc_open[a]
        return True

    if not rescore(np.arange(len(flows.blocks))):
        return None
    candidate = np.zeros(len(lanes), dtype=bool)
    candidate[arc_lane] = True
    tabu: set[tuple[int, int]] = set()
    for _ in range(max_moves):
        if time.monotonic() > deadline:
            break
        gain = np.bincount(arc_lane, weights=contrib, minlength=len(lanes))
        gain = np.where(is_open, gain + fixed, gain - fixed)
        gain[~candidate] = -np.inf
        n_src = np.bincount(lanes.source[is_open], minlength=n_loc)
        n_dst = np.bincount(lanes.dest[is_open], minlength=n_loc)
        move = _best_move(
            lanes.source, lanes.dest, is_open, gain, n_src, n_dst, cap_src, cap_dst, tabu
        )
        if move is None:
            break
        toggles = [lane for lane in move if lane >= 0]
        blocks = np.unique(flows.arc_block[np.isin(arc_lane, toggles)])
        trial = arc_open.copy()
        for lane in toggles:
            trial[arc_lane == lane] = ~trial[arc_lane == lane]
        exact = sum(flows.value(k, trial) - base[k] for k in blocks.tolist())
        exact += sum(fixed[lane] if is_open[lane] else -fixed[lane] for lane in toggles)
        if exact <= 1e-6:
            tabu.add(move)
            continue
        for lane in toggles:
            is_open[lane] = not is_open[lane]
        arc_open[:] = trial
        tabu.clear()
        if not rescore(blocks):
            break
    return is_open


def _best_move(
    source: np.ndarray,
    dest: np.ndarray,
    is_open: np.ndarray,
    gain: np.ndarray,
    n_src: np.ndarray,
    n_dst: np.ndarray,
    cap_src: int,
    cap_dst: int,
    tabu: set[tuple[int, int]],
) -> tuple[int, int] | None:
    """(lane to close or −1, lane to open or −1) with the best estimated gain, or None."""
    best: tuple[float, tuple[int, int]] | None = None

    def offer(score: float, move: tuple[int, int]) -> None:
        nonlocal best
        if score > 1e-6 and move not in tabu and (best is None or score > best[0]):
            best = (score, move)

    opened = np.nonzero(is_open)[0]
    for lane in opened[gain[opened] > 0].tolist():
        offer(float(gain[lane]), (lane, -1))
    closed = np.nonzero(~is_open & np.isfinite(gain) & (gain > 0))[0]
    for lane in closed[np.argsort(-gain[closed])][:200].tolist():
        s, d = int(source[lane]), int(dest[lane])
        full_s, full_d = n_src[s] >= cap_src, n_dst[d] >= cap_dst
        if not full_s and not full_d:
            offer(float(gain[lane]), (-1, lane))
            continue
        if full_s and full_d:
            continue  # would need two closures; left to later moves
        pool = opened[source[opened] == s] if full_s else opened[dest[opened] == d]
        for drop in pool.tolist():
            offer(float(gain[lane] + gain[drop]), (drop, lane))
    return None if best is None else best[1]
