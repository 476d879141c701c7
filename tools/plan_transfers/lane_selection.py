"""Which lanes to open when the shipment caps bite: a degree-capped matching over lanes.

Given an estimate of each lane's net value if it ships (value recovered minus variable and fixed
cost), choosing the lanes that maximise the total under "at most k shipments per source, m per
destination" is a maximum-weight b-matching on the bipartite graph sources × destinations. Its
LP is totally unimodular, so one small min-cost flow (OR-Tools) solves it exactly, in
milliseconds even at network scale. Keeping shipments greedily by net value instead, as the
shipment rules do, can waste a capped store's slots on lanes whose ends had better uses.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

VALUE_SCALE = 100.0
"""OR-Tools wants integer costs: lane values in cents."""


def select_lanes(
    source: np.ndarray,
    dest: np.ndarray,
    value: np.ndarray,
    *,
    max_per_source: int | None,
    max_per_dest: int | None,
) -> np.ndarray:
    """Mask of the lanes (parallel arrays) to open: maximum total ``value`` within the caps.

    Lanes with value ≤ 0 are never opened; without caps every lane that pays is.
    """
    chosen = value > 0
    if (max_per_source is None and max_per_dest is None) or not chosen.any():
        return chosen
    idx = np.nonzero(chosen)[0]
    src_ids, src_node = np.unique(source[idx], return_inverse=True)
    dst_ids, dst_node = np.unique(dest[idx], return_inverse=True)
    n_src, n_dst = src_ids.size, dst_ids.size
    hub, sink = n_src + n_dst, n_src + n_dst + 1
    cap_src = max_per_source or idx.size
    cap_dst = max_per_dest or idx.size
    supply = idx.size
    tails = np.concatenate(
        [np.full(n_src, hub), src_node, n_src + np.arange(n_dst), np.array([hub])]
    )
    heads = np.concatenate(
        [np.arange(n_src), n_src + dst_node, np.full(n_dst, sink), np.array([sink])]
    )
    caps = np.concatenate(
        [np.full(n_src, cap_src), np.ones(idx.size), np.full(n_dst, cap_dst), np.array([supply])]
    ).astype(np.int64)
    costs = np.concatenate(
        [
            np.zeros(n_src),
            -np.round(value[idx] * VALUE_SCALE),
            np.zeros(n_dst),
            np.zeros(1),
        ]
    ).astype(np.int64)
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supplies = np.zeros(n_src + n_dst + 2, dtype=np.int64)
    supplies[hub], supplies[sink] = supply, -supply
    solver.set_nodes_supplies(np.arange(supplies.size, dtype=np.int32), supplies)
    if solver.solve() != solver.OPTIMAL:
        return chosen  # the shipment rules still enforce the caps greedily
    lane_arcs = np.arange(n_src, n_src + idx.size, dtype=np.int32)
    picked = solver.flows(lane_arcs) > 0
    out = np.zeros(value.size, dtype=bool)
    out[idx[picked]] = True
    return out
