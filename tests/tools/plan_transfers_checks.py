"""Invariants every transfer plan must keep, checked from the problem's raw arrays (not from the
solver's own helpers), so a solver bug cannot hide behind the same bug in the check."""

from __future__ import annotations

import math

import numpy as np

from tools.plan_transfers.expected_sales import expected_sales, position_curves
from tools.plan_transfers.problem import SolvedPlan, TransferProblem


def flows(problem: TransferProblem, plan: SolvedPlan) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros(problem.shape, dtype=np.int64)
    inflow = np.zeros(problem.shape, dtype=np.int64)
    for ship in plan.shipments:
        for line in ship.lines:
            out[line.source, line.sku] += line.qty
            inflow[line.dest, line.sku] += line.qty
    return out, inflow


def intact_runs(problem: TransferProblem, stock: np.ndarray) -> set[tuple[int, str]]:
    """(location, style) pairs holding ≥ run consecutive core sizes with ≥ 1 unit."""
    run = problem.constraints.min_consecutive_core_sizes
    by_style: dict[str, list[int]] = {}
    for j, sku in enumerate(problem.skus):
        if sku.core:
            by_style.setdefault(sku.style, []).append(j)
    found = set()
    for style, cols in by_style.items():
        cols = sorted(cols, key=lambda j: problem.skus[j].size_index)
        need = min(run, len(cols))
        for i in range(problem.shape[0]):
            streak = 0
            for j in cols:
                streak = streak + 1 if stock[i, j] >= 1 else 0
                if streak >= need:
                    found.add((i, style))
                    break
    return found


def assert_plan_keeps_the_rules(problem: TransferProblem, plan: SolvedPlan) -> None:
    c = problem.constraints
    lanes = problem.lanes
    lane_at = {
        (int(s), int(d)): k for k, (s, d) in enumerate(zip(lanes.source, lanes.dest, strict=True))
    }
    locs = problem.locations
    out, inflow = flows(problem, plan)
    assert not np.any((out > 0) & (inflow > 0)), "a position both gives and receives a SKU"
    total_cost = 0.0
    per_source: dict[int, int] = {}
    per_dest: dict[int, int] = {}
    for ship in plan.shipments:
        k = lane_at[(ship.source, ship.dest)]
        assert lanes.lead_time_hours[k] < problem.window_days * 24, "lane slower than the window"
        src, dst = locs[ship.source], locs[ship.dest]
        if c.lane_whitelist:
            assert (src.code, dst.code) in {tuple(p) for p in c.lane_whitelist}
        elif c.allowed_lanes in ("city", "region"):
            assert getattr(src, c.allowed_lanes) == getattr(dst, c.allowed_lanes)
        if c.respect_entitlements:
            assert dst.sells and dst.kind != "dc"
            assert src.tier != "outlet" or dst.tier == "outlet", "outlet stock to full price"
        if problem.destinations is not None:
            assert dst.code in problem.destinations
        for line in ship.lines:
            assert line.qty > 0 and line.qty % c.pack_multiple == 0, "pack multiple broken"
        assert ship.expected_value >= c.min_value_per_shipment - 1e-6
        assert ship.net_value > 0
        per_source[ship.source] = per_source.get(ship.source, 0) + 1
        per_dest[ship.dest] = per_dest.get(ship.dest, 0) + 1
        total_cost += ship.cost
    if c.max_shipments_per_source:
        assert max(per_source.values(), default=0) <= c.max_shipments_per_source
    if c.max_shipments_per_dest:
        assert max(per_dest.values(), default=0) <= c.max_shipments_per_dest
    if c.max_total_cost is not None:
        assert total_cost <= c.max_total_cost + 1e-6
    for shipment in plan.shipments:
        assert shipment.net_value >= c.min_net_to_cost * shipment.cost - 1e-6, "thin shipment"

    protected = problem.min_display.astype(float)
    if c.protect_source_forecast:
        protected = np.maximum(protected, np.ceil(problem.demand_mean - 1e-9))
    giving = out > 0
    assert np.all(out[giving] <= problem.atp[giving] - protected[giving]), "protected stock shipped"
    if c.no_reship_days:
        assert not np.any(giving & (problem.days_since_received < c.no_reship_days))
    if c.keep_size_run:
        before = intact_runs(problem, problem.stock)
        after = intact_runs(problem, problem.stock - out)
        assert before - after == set(), f"size run broken at {sorted(before - after)[:3]}"

    # The plan's objective is what the stock change is worth (margin on the change in expected
    # sales, less the received units expected not to sell at their unsold cost), less freight.
    if plan.shipments:
        locs, skus = np.indices(problem.shape).reshape(2, -1)
        curves = position_curves(problem, locs, skus)
        before_units = expected_sales(curves, problem.stock.reshape(-1).astype(float))
        after_units = expected_sales(
            curves, (problem.stock - out + inflow).reshape(-1).astype(float)
        )
        change = after_units - before_units
        received = inflow.reshape(-1).astype(float)
        unsold = np.maximum(received - np.maximum(change, 0.0), 0.0)
        gained = float(
            (problem.margin.reshape(-1) * change - problem.unsold_cost.reshape(-1) * unsold).sum()
        )
        assert math.isclose(plan.objective, gained - total_cost, rel_tol=1e-6, abs_tol=1e-3)
    assert plan.objective >= 0.0
