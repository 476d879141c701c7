"""The candidate network: which positions may give or take, at what marginal value, by which lanes.

Each position's concave E[min(S, D)] becomes parallel arcs of decreasing value per pack (gains at
a destination, losses at a source), sampled on a geometric grid of pack counts, so a
transshipment over all SKUs at once stays a min-cost flow. Lanes that cannot pay even for their
first pack are pruned, and each destination keeps its ``max_sources_per_dest`` cheapest sources
(DESIGN §10: k = 40 loses ~0.03 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.plan_transfers.eligibility import movable_units, receivable_locations, usable_lanes
from tools.plan_transfers.expected_sales import expected_sales, position_curves
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.value import position_value

#: Pack counts at which each value curve is sampled; the last segment runs to the limit.
PACK_GRID = np.array([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 1 << 30])
MAX_SOURCES_PER_DEST = 40
DEST_SLACK = 3
MIN_DESTS = 20


@dataclass(frozen=True)
class Segments:
    """Parallel arcs of one side (sources or destinations): node, capacity (packs), value/pack."""

    node: np.ndarray
    capacity: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Network:
    pack: int
    node_loc: np.ndarray
    node_sku: np.ndarray
    give: Segments
    take: Segments
    lane_from: np.ndarray
    lane_to: np.ndarray
    lane_id: np.ndarray
    lane_capacity: np.ndarray
    lane_cost: np.ndarray
    """Variable cost per pack on each lane arc."""
    movable_packs: np.ndarray
    reasons: dict[str, int]

    @property
    def empty(self) -> bool:
        return self.lane_id.size == 0


def _segments(
    problem: TransferProblem,
    locs: np.ndarray,
    skus: np.ndarray,
    limit: np.ndarray,
    direction: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per position, sampled segments of the value curve: (row, packs, value per pack)."""
    pack = problem.constraints.pack_multiple
    curves = position_curves(problem, locs, skus)
    top = int(limit.max()) if limit.size else 0
    columns = int(np.searchsorted(PACK_GRID, top, "left")) + 1
    grid = np.minimum(PACK_GRID[None, :columns], limit[:, None]).astype(float)
    stock = problem.stock[locs, skus].astype(float)[:, None]
    sold = expected_sales(curves, stock + direction * pack * grid)
    width = np.diff(grid, axis=1)
    # A destination's gain is valued net of the received units that will not sell; a source only
    # gives up margin. A source's loss comes out positive: its arcs carry it as a cost.
    delta = direction * position_value(
        problem.margin[locs, skus][:, None],
        problem.unsold_cost[locs, skus][:, None],
        np.diff(sold, axis=1),
        pack * width if direction > 0 else 0.0,
    )
    per_pack = np.divide(delta, width, out=np.zeros_like(delta), where=width > 0)
    rows, cols = np.nonzero(width > 0)
    return rows, width[rows, cols].astype(np.int64), per_pack[rows, cols]


def lane_matrix(problem: TransferProblem, mask: np.ndarray) -> np.ndarray:
    """Dense (source, dest) → lane index of usable lanes, −1 elsewhere."""
    n_loc = len(problem.locations)
    mat = np.full((n_loc, n_loc), -1, dtype=np.int64)
    idx = np.nonzero(mask)[0]
    mat[problem.lanes.source[idx], problem.lanes.dest[idx]] = idx
    return mat


def build_network(
    problem: TransferProblem, *, max_sources_per_dest: int = MAX_SOURCES_PER_DEST
) -> Network:
    """Candidate arcs of the whole problem; ``reasons`` counts what was pruned and why."""
    pack = problem.constraints.pack_multiple
    lane_ok = usable_lanes(problem)
    mat = lane_matrix(problem, lane_ok)
    lane_pack_cost = problem.lanes.cost_per_unit * pack
    movable_packs = movable_units(problem) // pack
    reasons = {
        "lanes_usable": int(lane_ok.sum()),
        "lanes_too_slow": int((problem.lanes.lead_time_hours >= problem.window_hours).sum()),
        "positions_with_surplus": int((movable_packs > 0).sum()),
    }
    src_loc, src_sku = np.nonzero(movable_packs > 0)
    has_out_lane = (mat >= 0).any(axis=1)
    keep = has_out_lane[src_loc]
    src_loc, src_sku = src_loc[keep], src_sku[keep]

    receivable = receivable_locations(problem) & (mat >= 0).any(axis=0)
    sku_has_source = np.zeros(len(problem.skus), dtype=bool)
    sku_has_source[src_sku] = True
    dst_mask = receivable[:, None] & sku_has_source[None, :]
    dst_mask &= problem.demand_quantiles[:, :, -1] + problem.demand_mean > 0
    # A position that gives a SKU never also receives it: a unit shipped in to replace one
    # shipped out is cross-shipping (two trips, double handling), and the shipments' values,
    # each priced alone, would no longer add up to the plan's.
    dst_mask[src_loc, src_sku] = False
    dst_loc, dst_sku = np.nonzero(dst_mask)
    if dst_loc.size:
        curves = position_curves(problem, dst_loc, dst_sku)
        room = np.ceil((curves.saturation - problem.stock[dst_loc, dst_sku]) / pack)
        cheapest_in = np.full(len(problem.locations), np.inf)
        np.minimum.at(cheapest_in, problem.lanes.dest[lane_ok], lane_pack_cost[lane_ok])
        score = _first_pack_gain(problem, dst_loc, dst_sku) - cheapest_in[dst_loc]
        keep = (room > 0) & (score > 0)
        keep &= _top_per_sku(
            dst_sku, score, _supply_per_sku(problem, src_sku, movable_packs, src_loc)
        )
        dst_loc, dst_sku, room = dst_loc[keep], dst_sku[keep], room[keep]
    else:
        room = np.zeros(0)
    reasons["positions_short"] = int(dst_loc.size)

    give_rows, give_cap, give_val = _segments(
        problem, src_loc, src_sku, movable_packs[src_loc, src_sku], -1
    )
    take_rows, take_cap, take_val = _segments(problem, dst_loc, dst_sku, room.astype(np.int64), 1)
    positive = take_val > 0
    take_rows, take_cap, take_val = take_rows[positive], take_cap[positive], take_val[positive]

    n_src = src_loc.size
    n_loc = len(problem.locations)
    keys = np.concatenate([src_sku * n_loc + src_loc, dst_sku * n_loc + dst_loc])
    # One node per position (a position either gives or takes); nodes are numbered SKU by SKU
    # so each SKU's component is a contiguous block.
    unique_keys, node_of = np.unique(keys, return_inverse=True)
    src_node, dst_node = node_of[:n_src], node_of[n_src:]
    first_loss = np.full(n_src, np.inf)
    np.minimum.at(first_loss, give_rows, give_val)
    first_gain = np.zeros(dst_loc.size)
    np.maximum.at(first_gain, take_rows, take_val)

    pairs = _candidate_pairs(
        src_sku,
        dst_sku,
        src_loc,
        dst_loc,
        mat,
        lane_pack_cost,
        first_loss,
        first_gain,
        max_sources_per_dest,
    )
    p_src, p_dst, p_lane = pairs
    return Network(
        pack=pack,
        node_loc=unique_keys % n_loc,
        node_sku=unique_keys // n_loc,
        give=Segments(src_node[give_rows], give_cap, give_val),
        take=Segments(dst_node[take_rows], take_cap, take_val),
        lane_from=src_node[p_src],
        lane_to=dst_node[p_dst],
        lane_id=p_lane,
        lane_capacity=movable_packs[src_loc[p_src], src_sku[p_src]],
        lane_cost=lane_pack_cost[p_lane],
        movable_packs=movable_packs,
        reasons=reasons,
    )


def _supply_per_sku(
    problem: TransferProblem, src_sku: np.ndarray, movable_packs: np.ndarray, src_loc: np.ndarray
) -> np.ndarray:
    return np.bincount(
        src_sku, weights=movable_packs[src_loc, src_sku], minlength=len(problem.skus)
    )


def _top_per_sku(sku: np.ndarray, score: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """Keep, per SKU, the destinations that could matter: at most ``DEST_SLACK`` × the packs
    available (floor ``MIN_DESTS``), best first pack net of their cheapest lane first. With only
    P packs to move, at most P destinations receive any; the slack covers lanes that are missing
    or dearer than the cheapest."""
    order = np.lexsort((-score, sku))
    sorted_sku = sku[order]
    rank = np.arange(sku.size) - np.searchsorted(sorted_sku, sorted_sku, "left")
    limit = np.maximum(DEST_SLACK * supply[sorted_sku], MIN_DESTS)
    keep = np.zeros(sku.size, dtype=bool)
    keep[order] = rank < limit
    return keep


def _first_pack_gain(problem: TransferProblem, locs: np.ndarray, skus: np.ndarray) -> np.ndarray:
    pack = problem.constraints.pack_multiple
    curves = position_curves(problem, locs, skus)
    stock = problem.stock[locs, skus].astype(float)
    sold = expected_sales(curves, np.stack([stock, stock + pack], axis=1))
    return position_value(
        problem.margin[locs, skus], problem.unsold_cost[locs, skus], sold[:, 1] - sold[:, 0], pack
    )


def _candidate_pairs(
    src_sku: np.ndarray,
    dst_sku: np.ndarray,
    src_loc: np.ndarray,
    dst_loc: np.ndarray,
    mat: np.ndarray,
    lane_pack_cost: np.ndarray,
    first_loss: np.ndarray,
    first_gain: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source row, dest row, lane) for every pair of the same SKU whose first pack pays."""
    empty = np.zeros(0, dtype=np.int64)
    if src_sku.size == 0 or dst_sku.size == 0:
        return empty, empty, empty
    s_order = np.argsort(src_sku, kind="stable")
    d_order = np.argsort(dst_sku, kind="stable")
    skus = np.intersect1d(src_sku, dst_sku)
    s_lo = np.searchsorted(src_sku[s_order], skus, "left")
    s_hi = np.searchsorted(src_sku[s_order], skus, "right")
    d_lo = np.searchsorted(dst_sku[d_order], skus, "left")
    d_hi = np.searchsorted(dst_sku[d_order], skus, "right")
    out_s, out_d, out_l = [], [], []
    for i in range(skus.size):
        srows = s_order[s_lo[i] : s_hi[i]]
        drows = d_order[d_lo[i] : d_hi[i]]
        lanes = mat[src_loc[srows][:, None], dst_loc[drows][None, :]]
        ss, dd = np.nonzero(lanes >= 0)
        if ss.size == 0:
            continue
        lane = lanes[ss, dd]
        margin = first_gain[drows[dd]] - first_loss[srows[ss]] - lane_pack_cost[lane]
        pay = margin > 0
        ss, dd, lane = ss[pay], dd[pay], lane[pay]
        if ss.size > k * drows.size:
            order = np.lexsort((lane_pack_cost[lane], dd))
            ss, dd, lane = ss[order], dd[order], lane[order]
            starts = np.searchsorted(dd, dd, "left")
            rank = np.arange(dd.size) - starts
            near = rank < k
            ss, dd, lane = ss[near], dd[near], lane[near]
        out_s.append(srows[ss])
        out_d.append(drows[dd])
        out_l.append(lane)
    if not out_s:
        return empty, empty, empty
    return np.concatenate(out_s), np.concatenate(out_d), np.concatenate(out_l)
