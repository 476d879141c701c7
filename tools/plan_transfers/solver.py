"""``solve(problem) -> SolvedPlan``: the pure core of plan_transfers, no database.

``auto`` runs the min-cost flow and the greedy baseline and keeps the better plan (so a plan is
never worse than greedy, and says which method produced it); ``flow``, ``lp`` (the monolithic
MILP, for small instances) and ``greedy`` run one method. A failing or late solver falls back to
greedy, and the plan's notes say so. An alert's plan is then held to its loss if the warned rain
does not fall (``false_alarm``).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from tools.plan_transfers.eligibility import usable_lanes
from tools.plan_transfers.exact import ExactSolverError, solve_exact
from tools.plan_transfers.false_alarm import hold_false_alarm_bound
from tools.plan_transfers.flow import FlowSolverError, solve_by_flow
from tools.plan_transfers.greedy import greedy_moves
from tools.plan_transfers.network import Network, build_network, lane_matrix
from tools.plan_transfers.problem import SolvedPlan, TransferProblem
from tools.plan_transfers.shipments import Selection, apply_shipment_rules, plan_objective

Method = Literal["auto", "flow", "lp", "greedy"]
METHODS: tuple[str, ...] = ("auto", "flow", "lp", "greedy")
AUTO_GREEDY_GUARD_ARCS = 200_000


def solve(
    problem: TransferProblem, *, method: Method = "auto", time_limit_s: float = 20.0
) -> SolvedPlan:
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; choose one of {', '.join(METHODS)}")
    started = time.monotonic()
    deadline = started + time_limit_s
    # The lanes a plan may use do not depend on the hit rate: one matrix for every solve below.
    lane_of = lane_matrix(problem, usable_lanes(problem))
    plan = _solve_once(problem, method, lane_of, started, deadline)
    return hold_false_alarm_bound(
        problem,
        plan,
        lane_of,
        lambda lowered: _solve_once(lowered, method, lane_of, started, deadline),
    )


def _solve_once(
    problem: TransferProblem, method: Method, lane_of: np.ndarray, started: float, deadline: float
) -> SolvedPlan:
    network = build_network(problem, max_sources_per_dest=1 << 30 if method == "lp" else 40)
    notes: list[str] = []
    if network.empty:
        return SolvedPlan(
            method=method,
            shipments=[],
            objective=0.0,
            wall_s=time.monotonic() - started,
            empty_reason=_why_no_candidates(problem, network),
        )

    chosen: Selection | None = None
    used = method
    if method in ("auto", "flow"):
        try:
            chosen, rounds = solve_by_flow(problem, network, lane_of, deadline=deadline)
            used = "flow"
            notes.append(f"min-cost flow: {rounds} slope-scaling round(s)")
        except FlowSolverError as exc:
            notes.append(f"flow solver failed ({exc}); fell back to greedy")
    elif method == "lp":
        try:
            exact = solve_exact(problem, network, time_limit_s=max(deadline - time.monotonic(), 1))
            chosen = apply_shipment_rules(problem, exact.moves, lane_of)
            notes.append(f"HiGHS MILP: {exact.status}; objective {exact.milp_objective:.2f}")
        except ExactSolverError as exc:
            notes.append(f"MILP failed ({exc}); fell back to greedy")
    if chosen is None:
        chosen = apply_shipment_rules(problem, greedy_moves(network), lane_of)
        used = "greedy" if method == "greedy" else "greedy (fallback)"
    elif method == "auto" and network.lane_id.size <= AUTO_GREEDY_GUARD_ARCS:
        # Cheap on small networks: keep the greedy plan if it ever beats the flow's.
        greedy = apply_shipment_rules(problem, greedy_moves(network), lane_of)
        if plan_objective(greedy.shipments) > plan_objective(chosen.shipments):
            chosen, used = greedy, "greedy"
            notes.append("greedy beat the flow plan on this instance; greedy plan kept")
    return _plan(problem, network, chosen, used, started, notes)


def _plan(
    problem: TransferProblem,
    network: Network,
    selection: Selection,
    method: str,
    started: float,
    notes: list[str],
) -> SolvedPlan:
    empty_reason = None
    if not selection.shipments:
        empty_reason = (
            f"{network.reasons['positions_short']} short position(s) reachable from "
            f"{network.reasons['positions_with_surplus']} with surplus, but every candidate "
            "shipment failed a shipment rule (net value ≤ 0, below the minimum "
            f"value of {problem.constraints.min_value_per_shipment:g}, over the shipment caps "
            "or the cost budget)"
        )
    return SolvedPlan(
        method=method,
        shipments=selection.shipments,
        objective=plan_objective(selection.shipments),
        wall_s=time.monotonic() - started,
        empty_reason=empty_reason,
        notes=notes,
    )


def _why_no_candidates(problem: TransferProblem, network: Network) -> str:
    r = network.reasons
    if len(problem.lanes) == 0 or r["lanes_usable"] == 0:
        slow = r["lanes_too_slow"]
        return (
            f"no usable lane: {slow} of {len(problem.lanes)} lane(s) are slower than the "
            f"{problem.window_days}-day window, the rest are outside the allowed scope "
            f"({problem.constraints.allowed_lanes}) or not entitled"
        )
    if r["positions_with_surplus"] == 0:
        return "no surplus: no source has stock above its protected level (ATP, display, forecast)"
    if r["positions_short"] == 0:
        return "no destination is short: stock already covers the forecast everywhere reachable"
    return "no move pays for itself: expected value recovered ≤ value lost at source + lane cost"
