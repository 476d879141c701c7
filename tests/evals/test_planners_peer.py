"""The greedy peer is the merchandiser's top-up rule, not the optimiser under another name: it
makes moves the value model declines, never cross-ships, and is scored like every plan."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evals.kpis import Move, ReplayInputs, score_plan, simulate
from evals.oracle import modelled_net
from evals.planners import TOPUP_SOLVER, planner, solve_topup, topup_moves, topup_plan
from tools.plan_transfers.eligibility import protected_stock
from tools.plan_transfers.models import TransferConstraints
from tools.plan_transfers.problem import LaneArrays, LocationNode, SkuNode, TransferProblem
from tools.plan_transfers.shipments import Moves, plan_objective, value_moves
from tools.plan_transfers.solver import solve
from tools.plan_transfers.synthetic import generate
from tools.plan_transfers.value import freight

MARGIN = 40.0  # price 100 − cost 60
PER_UNIT, PER_TRIP = 2.0, 60.0


def _thin_case(*, min_net_to_cost: float = 0.5) -> TransferProblem:
    """One Shanghai store (A) short one unit of its forecast, two stores with surplus: B near
    (12 h) and C far (30 h, cheaper). One unit's margin (¥40 at best) cannot pay a ¥62 trip."""
    locations = [LocationNode(code, "Shanghai", "East") for code in ("A", "B", "C")]
    skus = [SkuNode("UMB-M", "UMB", "M", 0, price=100.0, cost=60.0, category="umbrella")]
    stock = np.array([[0], [10], [10]])
    mean = np.array([[1.0], [1.0], [1.0]])
    return TransferProblem(
        locations=locations,
        skus=skus,
        stock=stock,
        atp=stock.copy(),
        min_display=np.zeros((3, 1), dtype=np.int64),
        days_since_received=np.full((3, 1), np.inf),
        demand_levels=np.array([0.1, 0.5, 0.9]),
        demand_quantiles=np.array([[[0.0, 1.0, 2.0]]] * 3),
        demand_mean=mean,
        lanes=LaneArrays(
            source=np.array([1, 2]),
            dest=np.array([0, 0]),
            lead_time_hours=np.array([12.0, 30.0]),
            cost_per_unit=np.array([PER_UNIT, 1.0]),
            cost_per_shipment=np.array([PER_TRIP, 40.0]),
        ),
        window_days=3,
        constraints=TransferConstraints(min_net_to_cost=min_net_to_cost),
        destinations=frozenset({"A"}),
    )


def _lines(problem: TransferProblem, shipments: list) -> list[tuple[str, str, str, int]]:
    return sorted(
        (
            problem.locations[s.source].code,
            problem.locations[s.dest].code,
            problem.skus[line.sku].code,
            line.qty,
        )
        for s in shipments
        for line in s.lines
    )


@pytest.mark.parametrize("hurdle", [0.0, 0.5])
def test_the_peer_tops_up_where_the_value_model_declines_a_thin_move(hurdle: float) -> None:
    problem = _thin_case(min_net_to_cost=hurdle)
    optimiser = solve(problem)
    assert optimiser.shipments == [], "the case must be one the value model declines"
    peer = solve_topup(problem)
    # The nearest source, not the cheaper far one; exactly the shortfall to the forecast.
    assert _lines(problem, peer.shipments) == [("B", "A", "UMB-M", 1)]
    assert peer.method == TOPUP_SOLVER
    # The peer's own books say the move loses money: it decides without the value model.
    assert peer.objective < 0


def test_the_peer_never_takes_a_source_below_its_forecast_nor_fills_past_the_target() -> None:
    problem = dataclasses.replace(_thin_case(), demand_mean=np.array([[4.4], [9.2], [1.0]]))
    moves = topup_moves(problem)
    sent = {int(s): int(q) for s, q in zip(moves.source, moves.qty, strict=True)}
    # A wants round(4.4) = 4; the near B keeps ceil(9.2) = 10 of its 10, so the far C gives.
    assert sent == {2: 4}
    assert problem.stock[2, 0] - sent[2] >= protected_stock(problem)[2, 0]


def test_the_peer_never_cross_ships_and_respects_source_limits() -> None:
    problem = dataclasses.replace(generate(stores=30, skus=40, seed=11), demand_kind="counts")
    moves = topup_moves(problem)
    assert len(moves) > 10, "the case must give the peer something to move"
    givers = set(zip(moves.source.tolist(), moves.sku.tolist(), strict=True))
    takers = set(zip(moves.dest.tolist(), moves.sku.tolist(), strict=True))
    assert not givers & takers
    out = np.zeros(problem.shape, dtype=np.int64)
    np.add.at(out, (moves.source, moves.sku), moves.qty)
    inn = np.zeros(problem.shape, dtype=np.int64)
    np.add.at(inn, (moves.dest, moves.sku), moves.qty)
    assert np.all(problem.atp - out >= protected_stock(problem) * (out > 0))
    target = np.floor(problem.demand_mean + 0.5)
    assert np.all(problem.stock + inn <= np.maximum(target, problem.stock))
    # It is not the optimiser: the plans differ on this network too.
    optimiser = solve(problem)
    assert _lines(problem, solve_topup(problem).shipments) != _lines(problem, optimiser.shipments)


def test_the_peer_respects_the_shipment_caps() -> None:
    base = dataclasses.replace(generate(stores=30, skus=40, seed=11), demand_kind="counts")
    problem = dataclasses.replace(
        base, constraints=base.constraints.model_copy(update={"max_shipments_per_dest": 1})
    )
    moves = topup_moves(problem)
    pairs = set(zip(moves.source.tolist(), moves.dest.tolist(), strict=True))
    dests = [d for _, d in pairs]
    assert len(dests) == len(set(dests)) and dests
    assert len(set(zip(topup_moves(base).source, topup_moves(base).dest, strict=True))) > len(pairs)


def test_the_peers_plan_is_valued_and_scored_by_the_one_value_definition() -> None:
    problem = _thin_case()
    peer = solve_topup(problem)
    # Its lines carry the optimiser's valuation of the same moves ...
    moves = Moves(sku=np.array([0]), source=np.array([1]), dest=np.array([0]), qty=np.array([1]))
    every_lane = np.array([[-1, -1, -1], [0, -1, -1], [1, -1, -1]])
    assert peer.objective == pytest.approx(plan_objective(value_moves(problem, moves, every_lane)))
    assert modelled_net(problem, problem, peer) == pytest.approx(peer.objective)
    # ... and the replay scores it with value.py: the unit sells (wet) or does not (dry).
    cost = float(freight(1, PER_UNIT, PER_TRIP))
    sent = [Move(source="B", dest="A", sku="UMB-M", qty=1, arrival_day=1)]
    for wanted, expected in (([0, 0, 1], MARGIN - cost), ([0, 0, 0], -7.0 - cost)):
        inputs = ReplayInputs(
            days=3,
            stock={("A", "UMB-M"): 0, ("B", "UMB-M"): 10},
            demand={("A", "UMB-M"): wanted, ("B", "UMB-M"): [0, 0, 0]},
            price={"UMB-M": 100.0},
            margin={("A", "UMB-M"): MARGIN, ("B", "UMB-M"): MARGIN},
            unsold_cost={("A", "UMB-M"): 7.0},
        )
        score = score_plan(inputs, simulate(inputs, []), sent, cost)
        assert score.net_value == pytest.approx(expected)


def test_the_greedy_kind_runs_the_peer_in_the_service_and_restores_the_optimiser() -> None:
    import agents.graphs.alert_response.nodes as alert_nodes
    import tools.plan_transfers.tool as tool_module

    shipped = tool_module.plan_transfers
    with planner("greedy"):
        assert tool_module.plan_transfers is topup_plan
        assert alert_nodes.plan_transfers is topup_plan
    assert tool_module.plan_transfers is shipped and alert_nodes.plan_transfers is shipped


def test_the_peer_plans_over_a_real_pool_with_the_alerts_forecast_and_no_dry_case(engine) -> None:
    """Through the tool's own pool read: Shanghai's S02 is short 6 a size; the peer tops it up
    from in-region, entitled stock (not the outlet, not Beijing), asks only for the alert's
    forecast (no dry case: no hit rate) and returns a plan whose books add up."""
    from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
    from tools.context import ToolContext
    from tools.forecast_demand.models import RainScenario
    from tools.plan_transfers.models import PlanTransfersInput

    build_pool(engine)
    base = fake_forecast({"SHA-S02": 6.0, "SHA-S01": 1.0, "SHA-S03": 1.0, "BEI-S01": 1.0})
    asked: list = []

    def provider(ctx, request):
        asked.append(request)
        return base(ctx, request)

    rain = RainScenario(city="Shanghai", start=NOW.date(), days=3, precipitation_mm_per_day=40.0)
    plan = topup_plan(
        ToolContext(engine=engine, now=NOW),
        PlanTransfersInput(city="Shanghai", category="rain_boots", window_days=3, rain=[rain]),
        forecast_provider=provider,
    )
    assert plan.solver == TOPUP_SOLVER and plan.forecast_model == "fake"
    assert plan.shipments, plan.empty_reason
    assert all(r.rain == [rain] for r in asked), "the peer asked for a dry forecast"
    received: dict[str, int] = {}
    for ship in plan.shipments:
        assert ship.dest == "SHA-S02"
        assert ship.source in {"SHA-S01", "DC-SHA"}, "outlet or other-region stock moved"
        assert ship.net_value == pytest.approx(ship.expected_value - ship.cost, abs=0.05)
        for line in ship.lines:
            received[line.sku] = received.get(line.sku, 0) + line.qty
    assert len(received) == 5 and all(qty == 6 for qty in received.values()), received
    assert plan.totals.units == 30 == sum(s.units for s in plan.shipments)
