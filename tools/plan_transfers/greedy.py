"""Nearest-surplus greedy: the benchmark's baseline and the fallback when the flow solver fails.

Destinations are served most-urgent first (highest value of the next pack); each draws from its
cheapest lanes first while the next pack's gain beats the source's loss plus the lane cost. The
same candidate network and shipment rules as the flow solver, so the two differ only in method.
"""

from __future__ import annotations

import numpy as np

from tools.plan_transfers.network import Network
from tools.plan_transfers.shipments import Moves


def _segment_lists(node: np.ndarray, cap: np.ndarray, value: np.ndarray, n: int) -> list[list]:
    """Per node, a list of [remaining packs, value per pack] in the order they are used."""
    out: list[list] = [[] for _ in range(n)]
    for i, c, v in zip(node.tolist(), cap.tolist(), value.tolist(), strict=True):
        out[i].append([c, v])
    return out


def greedy_moves(network: Network) -> Moves:
    n = network.node_loc.size
    give = _segment_lists(network.give.node, network.give.capacity, network.give.value, n)
    take = _segment_lists(network.take.node, network.take.capacity, network.take.value, n)
    for segs in give:
        segs.sort(key=lambda seg: seg[1])
    for segs in take:
        segs.sort(key=lambda seg: -seg[1])
    order = np.lexsort((network.lane_cost, network.lane_to))
    into: dict[int, list[int]] = {}
    for arc in order.tolist():
        into.setdefault(int(network.lane_to[arc]), []).append(arc)
    urgency = sorted(into, key=lambda d: -(take[d][0][1] if take[d] else 0.0))
    flow = np.zeros(network.lane_id.size, dtype=np.int64)
    lane_from = network.lane_from.tolist()
    lane_cost = network.lane_cost.tolist()
    for dest in urgency:
        wants = take[dest]
        for arc in into[dest]:
            has = give[lane_from[arc]]
            while wants and has:
                gain, loss = wants[0][1], has[0][1]
                if gain - loss - lane_cost[arc] <= 0:
                    break
                packs = min(wants[0][0], has[0][0])
                flow[arc] += packs
                for segs, used in ((wants, packs), (has, packs)):
                    segs[0][0] -= used
                    if segs[0][0] == 0:
                        segs.pop(0)
            if not wants:
                break
    used = flow > 0
    return Moves(
        sku=network.node_sku[network.lane_from[used]],
        source=network.node_loc[network.lane_from[used]],
        dest=network.node_loc[network.lane_to[used]],
        qty=flow[used] * network.pack,
    )
