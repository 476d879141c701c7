"""The pure solver core on generated networks: rules as hypothesis properties, quality vs MILP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tools.plan_transfers_checks import assert_plan_keeps_the_rules
from tools.plan_transfers import flow as flow_module
from tools.plan_transfers.eligibility import usable_lanes
from tools.plan_transfers.exact import solve_exact
from tools.plan_transfers.models import TransferConstraints
from tools.plan_transfers.network import build_network, lane_matrix
from tools.plan_transfers.problem import LaneArrays, ProblemError, TransferProblem
from tools.plan_transfers.shipments import apply_shipment_rules, plan_objective
from tools.plan_transfers.solver import solve
from tools.plan_transfers.synthetic import generate

constraints_strategy = st.builds(
    TransferConstraints,
    protect_source_forecast=st.booleans(),
    keep_size_run=st.booleans(),
    min_consecutive_core_sizes=st.integers(1, 4),
    pack_multiple=st.integers(1, 3),
    allowed_lanes=st.sampled_from(["city", "region", "any"]),
    max_shipments_per_source=st.none() | st.integers(1, 4),
    max_shipments_per_dest=st.none() | st.integers(1, 3),
    no_reship_days=st.integers(0, 10),
    min_value_per_shipment=st.sampled_from([0.0, 100.0, 400.0]),
    min_net_to_cost=st.sampled_from([0.0, 1.0]),
    max_total_cost=st.none() | st.floats(0, 2000),
    respect_entitlements=st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    stores=st.integers(4, 14),
    skus=st.integers(3, 30),
    window=st.integers(1, 4),
    constraints=constraints_strategy,
    method=st.sampled_from(["auto", "flow", "greedy"]),
)
def test_every_plan_keeps_every_rule(seed, stores, skus, window, constraints, method):
    problem = generate(
        stores=stores, skus=skus, seed=seed, window_days=window, constraints=constraints
    )
    plan = solve(problem, method=method)
    assert_plan_keeps_the_rules(problem, plan)
    assert plan.shipments or plan.empty_reason


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), constraints=constraints_strategy)
def test_auto_never_below_greedy(seed, constraints):
    problem = generate(stores=12, skus=40, seed=seed, constraints=constraints)
    auto = solve(problem, method="auto")
    greedy = solve(problem, method="greedy")
    assert auto.objective >= greedy.objective - 1e-6


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flow_within_one_percent_of_the_full_milp(seed):
    problem = generate(stores=15, skus=120, seed=seed, constraints=TransferConstraints())
    plan = solve(problem, method="flow")
    network = build_network(problem, max_sources_per_dest=1 << 30)
    exact = solve_exact(problem, network, time_limit_s=30)
    lane_of = lane_matrix(problem, usable_lanes(problem))
    exact_value = plan_objective(apply_shipment_rules(problem, exact.moves, lane_of).shipments)
    assert exact_value > 0
    assert plan.objective >= 0.99 * exact_value


def test_flow_beats_greedy_on_a_rain_shaped_network():
    problem = generate(stores=40, skus=200, seed=11)
    flow = solve(problem, method="flow")
    greedy = solve(problem, method="greedy")
    assert flow.objective > greedy.objective > 0


def test_known_demand_moves_units_to_where_they_sell():
    problem = generate(
        stores=6, skus=5, seed=3, constraints=TransferConstraints(keep_size_run=False)
    )
    stock = np.zeros(problem.shape, dtype=np.int64)
    stock[1, 0] = 10  # a store with ten units and no demand
    demand = np.zeros(problem.shape)
    demand[2, 0] = 4.0  # a store in the same city that will sell four
    same_city = problem.locations[1].city == problem.locations[2].city
    assert same_city
    fast = LaneArrays(
        source=np.array([1]),
        dest=np.array([2]),
        lead_time_hours=np.array([10.0]),
        cost_per_unit=np.array([2.0]),
        cost_per_shipment=np.array([10.0]),
    )
    known = _with(problem, stock=stock, atp=stock, demand=demand, lanes=fast)
    plan = solve(known, method="flow")
    (ship,) = plan.shipments
    (line,) = ship.lines
    assert (ship.source, ship.dest, line.sku, line.qty) == (1, 2, 0, 4)
    price = known.skus[0].price
    assert plan.objective == pytest.approx(4 * price - 4 * 2.0 - 10.0)


def test_lane_slower_than_the_window_is_never_used():
    problem = generate(stores=10, skus=40, seed=5, window_days=1)
    slow = LaneArrays(
        source=problem.lanes.source,
        dest=problem.lanes.dest,
        lead_time_hours=np.full(len(problem.lanes), 24.0),
        cost_per_unit=problem.lanes.cost_per_unit,
        cost_per_shipment=problem.lanes.cost_per_shipment,
    )
    plan = solve(_with(problem, lanes=slow))
    assert plan.shipments == []
    assert "slower than the 1-day window" in (plan.empty_reason or "")


def test_flow_failure_falls_back_to_greedy(monkeypatch):
    def broken(*_args, **_kwargs):
        raise flow_module.FlowSolverError("status INFEASIBLE")

    monkeypatch.setattr(flow_module, "min_cost_flow_moves", broken)
    problem = generate(stores=10, skus=40, seed=2)
    plan = solve(problem, method="auto")
    assert plan.method == "greedy (fallback)"
    assert any("fell back to greedy" in note for note in plan.notes)
    assert plan.objective > 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stock": -1}, "stock"),
        ({"atp": -2}, "atp"),
        ({"quantiles_decreasing": True}, "demand_quantiles"),
        ({"levels": np.array([])}, "demand_levels"),
        ({"destinations": frozenset({"NOPE-S99"})}, "destinations"),
    ],
)
def test_bad_problem_is_refused_with_its_field(change, field):
    problem = generate(stores=5, skus=4, seed=1)
    stock, atp = problem.stock.copy(), problem.atp.copy()
    quantiles, levels = problem.demand_quantiles.copy(), problem.demand_levels
    if "stock" in change:
        stock[0, 0] = change["stock"]
    if "atp" in change:
        atp[1, 1] = change["atp"]
    if change.get("quantiles_decreasing"):
        quantiles[2, 2] = [5.0, 3.0, 1.0]
    if "levels" in change:
        levels = change["levels"]
    with pytest.raises(ProblemError) as err:
        _with(
            problem,
            stock=stock,
            atp=np.minimum(atp, np.maximum(stock, 0)) if "atp" not in change else atp,
            quantiles=quantiles,
            levels=levels,
            destinations=change.get("destinations"),
        )
    assert err.value.field == field


def _with(
    problem: TransferProblem,
    *,
    stock: np.ndarray | None = None,
    atp: np.ndarray | None = None,
    demand: np.ndarray | None = None,
    lanes: LaneArrays | None = None,
    quantiles: np.ndarray | None = None,
    levels: np.ndarray | None = None,
    destinations: frozenset[str] | None = None,
) -> TransferProblem:
    """A copy of ``problem`` with some arrays replaced; ``demand`` makes demand known exactly."""
    min_display, days_since = problem.min_display, problem.days_since_received
    mean = problem.demand_mean
    if demand is not None:
        levels = np.array([0.0, 1.0])
        quantiles = np.repeat(demand[:, :, None], 2, axis=2)
        mean = demand
        min_display = np.zeros(problem.shape, dtype=np.int64)
        days_since = np.full(problem.shape, np.inf)
    return TransferProblem(
        locations=problem.locations,
        skus=problem.skus,
        stock=problem.stock if stock is None else stock,
        atp=problem.atp if atp is None else atp,
        min_display=min_display,
        days_since_received=days_since,
        demand_levels=problem.demand_levels if levels is None else levels,
        demand_quantiles=problem.demand_quantiles if quantiles is None else quantiles,
        demand_mean=mean,
        lanes=problem.lanes if lanes is None else lanes,
        window_days=problem.window_days,
        constraints=problem.constraints,
        destinations=destinations,
    )
