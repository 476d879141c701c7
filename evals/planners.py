"""Peer planners for the harness: the optimiser as shipped, a do-nothing agent and a greedy one.

An eval suite earns trust only if it fails an agent that does nothing (issue 10), and a benchmark
says more when the optimiser is set beside a simpler rule in the same run. Both peers replace the
``plan_transfers`` tool wherever the service calls it (the alert graph's plan node and the chat
tool registry, which resolves the function on each call), so everything else — forecast, policy
gate, approvals, executor, replay — runs exactly as shipped.

The greedy peer (kind ``"greedy"``, ``topup_plan``) is the merchandiser's top-up rule, without the
value model: every destination store the request names (under an alert, the alert city's stores)
is topped up, SKU by SKU, to the forecast's window mean of the alert's weather, taken from the
nearest location that can spare the units. It sees the optimiser's forecast, lanes and policy
limits and is scored by the same replay and value definition (``tools.plan_transfers.value``); it
differs only in how it decides: no margin or unsold-risk valuation, no alert hit rate, no hurdle.
Until 2026-12-06 this peer was ``solve(method="greedy")`` on the optimiser's own problem, which
shipped the same lines as the flow on all 13 rain alert worlds (docs/optimizer.md, 2026-12-06)
and so told nothing apart; ``solver="greedy"`` stays the optimiser's fallback method.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from tools.context import ToolContext
from tools.plan_transfers.eligibility import movable_units, receivable_locations, usable_lanes
from tools.plan_transfers.models import PlanTotals, PlanTransfersInput, TransferPlan
from tools.plan_transfers.network import lane_matrix
from tools.plan_transfers.pool import ForecastProvider, build_problem, default_forecast_provider
from tools.plan_transfers.problem import SolvedPlan, TransferProblem
from tools.plan_transfers.shipments import Moves, plan_objective, value_moves

PlannerKind = Literal["optimizer", "do-nothing", "greedy"]
PLANNERS: tuple[PlannerKind, ...] = ("optimizer", "do-nothing", "greedy")
#: The ``solver`` the greedy peer's plans carry, so a reader never takes them for the optimiser's.
TOPUP_SOLVER = "topup-peer"


def do_nothing_plan(ctx: ToolContext, request: PlanTransfersInput, **_: Any) -> TransferPlan:
    """A plan that never moves anything."""
    return TransferPlan(
        as_of=ctx.now.isoformat(),
        window_days=request.window_days,
        solver="do-nothing",
        forecast_model="none",
        shipments=[],
        totals=PlanTotals(
            shipments=0,
            units=0,
            expected_units_saved=0.0,
            expected_value=0.0,
            cost=0.0,
            net_value=0.0,
        ),
        empty_reason="the do-nothing peer planner never moves stock",
    )


def topup_targets(problem: TransferProblem) -> np.ndarray:
    """Units each position should hold: its window mean rounded half up (the rain case of an
    alert's mixture: the peer takes the alert as certain)."""
    return np.floor(problem.demand_mean + 0.5).astype(np.int64)


def topup_moves(problem: TransferProblem) -> Moves:
    """The merchandiser's rule on a problem: each receivable position below its target
    (``topup_targets``) draws whole packs from the nearest source (lane lead time, then freight
    per unit, then per trip) until it reaches the target or no reachable source can spare more.

    Sources give only what the shared per-unit rules allow (``eligibility.movable_units``: ATP,
    minimum display, the source's own window forecast rounded up, size runs, no-reship, packs);
    lanes are the optimiser's (``usable_lanes``: fast enough, in scope, entitled). The plan
    respects the shipment caps and the cost budget of the constraints, in the order it opens
    trips; it applies no value rule (minimum value, net > 0, hurdle). A position that receives a
    SKU never gives it (no cross-shipping). Positions are served largest shortfall first."""
    c = problem.constraints
    pack = c.pack_multiple
    lanes = problem.lanes
    lane_ok = usable_lanes(problem)
    short = np.maximum(topup_targets(problem) - problem.stock.astype(np.int64), 0)
    short[~receivable_locations(problem)] = 0
    arrives = np.zeros(len(problem.locations), dtype=bool)
    arrives[lanes.dest[lane_ok]] = True
    short[~arrives] = 0
    spare = movable_units(problem).copy()
    spare[short > 0] = 0  # a position that receives a SKU never gives it
    into: dict[int, list[int]] = {}
    order = np.lexsort(
        (lanes.cost_per_shipment, lanes.cost_per_unit, lanes.lead_time_hours, lanes.dest)
    )
    for arc in order[lane_ok[order]].tolist():
        into.setdefault(int(lanes.dest[arc]), []).append(arc)
    cap_source = c.max_shipments_per_source or 1 << 30
    cap_dest = c.max_shipments_per_dest or 1 << 30
    budget = np.inf if c.max_total_cost is None else c.max_total_cost + 1e-9
    spent = 0.0
    trips_from: dict[int, int] = {}
    trips_into: dict[int, int] = {}
    opened: set[int] = set()
    rows: list[tuple[int, int, int, int]] = []
    dest_loc, dest_sku = np.nonzero(short)
    by_need = np.lexsort((dest_sku, dest_loc, -short[dest_loc, dest_sku]))
    for d, j in zip(dest_loc[by_need].tolist(), dest_sku[by_need].tolist(), strict=True):
        packs_wanted = -(-int(short[d, j]) // pack)
        for arc in into.get(d, []):
            if packs_wanted == 0:
                break
            s = int(lanes.source[arc])
            packs = min(packs_wanted, int(spare[s, j]) // pack)
            if packs == 0:
                continue
            new_trip = arc not in opened
            if new_trip and (
                trips_from.get(s, 0) >= cap_source or trips_into.get(d, 0) >= cap_dest
            ):
                continue
            per_unit = float(lanes.cost_per_unit[arc])
            per_trip = float(lanes.cost_per_shipment[arc]) if new_trip else 0.0
            if per_unit > 0 and np.isfinite(budget):
                packs = min(packs, int((budget - spent - per_trip) // (per_unit * pack)))
            if packs <= 0 or spent + per_trip > budget:
                continue
            if new_trip:
                opened.add(arc)
                trips_from[s] = trips_from.get(s, 0) + 1
                trips_into[d] = trips_into.get(d, 0) + 1
            spent += per_trip + per_unit * pack * packs
            spare[s, j] -= packs * pack
            packs_wanted -= packs
            rows.append((j, s, d, packs * pack))
    if not rows:
        return Moves.empty()
    sku, source, dest, qty = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    return Moves(sku=sku, source=source, dest=dest, qty=qty)


def solve_topup(problem: TransferProblem) -> SolvedPlan:
    """``topup_moves`` as a solved plan whose lines are valued by the optimiser's one value
    definition (``shipments.value_moves``), so every line explains itself like the optimiser's."""
    started = time.monotonic()
    moves = topup_moves(problem)
    lane_of = lane_matrix(problem, usable_lanes(problem))
    shipments = value_moves(problem, moves, lane_of)
    short = int(np.maximum(topup_targets(problem) - problem.stock, 0).sum())
    return SolvedPlan(
        method=TOPUP_SOLVER,
        shipments=shipments,
        objective=plan_objective(shipments),
        wall_s=time.monotonic() - started,
        empty_reason=None
        if shipments
        else f"no reachable source could spare stock for the {short} unit(s) short of forecast",
        notes=[
            "greedy peer: stores topped up to the forecast window mean (alert taken as certain) "
            "from the nearest location that can spare the units; no value model, no hurdle",
        ],
    )


def topup_plan(
    ctx: ToolContext,
    request: PlanTransfersInput,
    *,
    forecast_provider: ForecastProvider | None = None,
    **_: Any,
) -> TransferPlan:
    """The greedy peer in the place of ``plan_transfers``: the request's own scope, lanes, policy
    limits and forecast (the provider the caller hands in), the alert taken as certain (no hit
    rate, so no dry forecast), no hurdle; the plan's values are the rain case's."""
    from tools.plan_transfers.tool import to_transfer_plan

    # The constraints stay the request's: the rule reads only their per-unit and policy limits.
    peer_request = request.model_copy(update={"rain_hit_rate": 1.0})
    problem, forecast = build_problem(
        ctx, peer_request, forecast_provider or default_forecast_provider
    )
    return to_transfer_plan(
        problem, solve_topup(problem), as_of=ctx.now.isoformat(), forecast_model=forecast.model
    )


@contextmanager
def planner(kind: PlannerKind) -> Iterator[None]:
    """Run the service with ``kind`` as its transfer planner for the duration of the block."""
    if kind == "optimizer":
        yield
        return
    import agents.graphs.alert_response.nodes as alert_nodes
    import tools.plan_transfers.tool as tool_module

    replacement = do_nothing_plan if kind == "do-nothing" else topup_plan
    saved = (tool_module.plan_transfers, alert_nodes.plan_transfers)
    tool_module.plan_transfers = replacement  # type: ignore[assignment]
    alert_nodes.plan_transfers = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        tool_module.plan_transfers, alert_nodes.plan_transfers = saved
