"""The monolithic MILP over the same network: the yardstick for small instances.

Binary per lane for its shipment (fixed cost, shipments per source and per destination), integer
packs per lane arc, the concave value curves as bounded segments, and the total cost cap. The
minimum value per shipment is left out, so its optimum bounds every feasible plan from above;
its plan goes through the same shipment rules as the others before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from tools.plan_transfers.network import Network
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.shipments import Moves


class ExactSolverError(RuntimeError):
    """HiGHS found no feasible solution in time."""


@dataclass(frozen=True)
class ExactResult:
    moves: Moves
    milp_objective: float
    """The MILP's own objective (over the sampled curves, without the minimum-value rule)."""
    dual_bound: float
    status: str


def solve_exact(problem: TransferProblem, network: Network, *, time_limit_s: float) -> ExactResult:
    c = problem.constraints
    n_nodes = network.node_loc.size
    n_give, n_take, n_arc = network.give.node.size, network.take.node.size, network.lane_id.size
    lanes, lane_arc = np.unique(network.lane_id, return_inverse=True)
    n_lane = lanes.size
    o_take, o_arc, o_lane = n_give, n_give + n_take, n_give + n_take + n_arc
    n_var = o_lane + n_lane

    objective = np.concatenate(
        [
            network.give.value,
            -network.take.value,
            network.lane_cost,
            problem.lanes.cost_per_shipment[lanes],
        ]
    )
    upper = np.concatenate(
        [network.give.capacity, network.take.capacity, network.lane_capacity, np.ones(n_lane)]
    ).astype(float)
    integrality = np.concatenate([np.zeros(n_give + n_take), np.ones(n_arc + n_lane)])

    rows: list[sparse.csr_array] = []
    lower_b: list[np.ndarray] = []
    upper_b: list[np.ndarray] = []

    def add(matrix: sparse.coo_array, lo: np.ndarray, hi: np.ndarray) -> None:
        rows.append(matrix.tocsr())
        lower_b.append(lo)
        upper_b.append(hi)

    # Flow balance per node: given + received − shipped − taken = 0.
    arc_cols = np.arange(n_arc) + o_arc
    bal_r = np.concatenate(
        [network.give.node, network.take.node, network.lane_to, network.lane_from]
    )
    bal_c = np.concatenate([np.arange(n_give), np.arange(n_take) + o_take, arc_cols, arc_cols])
    bal_v = np.concatenate([np.ones(n_give), -np.ones(n_take), np.ones(n_arc), -np.ones(n_arc)])
    zeros = np.zeros(n_nodes)
    add(sparse.coo_array((bal_v, (bal_r, bal_c)), shape=(n_nodes, n_var)), zeros, zeros)

    # Packs on an arc only if its lane ships: x − cap·y ≤ 0.
    link_r = np.concatenate([np.arange(n_arc), np.arange(n_arc)])
    link_c = np.concatenate([arc_cols, lane_arc + o_lane])
    link_v = np.concatenate([np.ones(n_arc), -network.lane_capacity.astype(float)])
    add(
        sparse.coo_array((link_v, (link_r, link_c)), shape=(n_arc, n_var)),
        np.full(n_arc, -np.inf),
        np.zeros(n_arc),
    )
    for limit, ends in (
        (c.max_shipments_per_source, problem.lanes.source[lanes]),
        (c.max_shipments_per_dest, problem.lanes.dest[lanes]),
    ):
        if limit is None:
            continue
        groups, group_row = np.unique(ends, return_inverse=True)
        add(
            sparse.coo_array(
                (np.ones(n_lane), (group_row, np.arange(n_lane) + o_lane)),
                shape=(groups.size, n_var),
            ),
            np.full(groups.size, -np.inf),
            np.full(groups.size, float(limit)),
        )
    if c.max_total_cost is not None:
        cost_row = np.zeros((1, n_var))
        cost_row[0, o_arc:o_lane] = network.lane_cost
        cost_row[0, o_lane:] = problem.lanes.cost_per_shipment[lanes]
        add(sparse.coo_array(cost_row), np.array([-np.inf]), np.array([c.max_total_cost]))

    result = milp(
        objective,
        integrality=integrality,
        bounds=Bounds(np.zeros(n_var), upper),
        constraints=[
            LinearConstraint(
                sparse.vstack(rows).tocsr(), np.concatenate(lower_b), np.concatenate(upper_b)
            )
        ],
        options={"time_limit": time_limit_s, "disp": False},
    )
    if result.x is None:
        raise ExactSolverError(f"HiGHS MILP: {result.message}")
    packs = np.round(result.x[o_arc:o_lane]).astype(np.int64)
    used = packs > 0
    moves = Moves(
        sku=network.node_sku[network.lane_from[used]],
        source=network.node_loc[network.lane_from[used]],
        dest=network.node_loc[network.lane_to[used]],
        qty=packs[used] * network.pack,
    )
    dual_bound = getattr(result, "mip_dual_bound", None)
    return ExactResult(
        moves=moves,
        milp_objective=float(-result.fun),
        dual_bound=float(-dual_bound) if dual_bound is not None else float(-result.fun),
        status=str(result.message),
    )
