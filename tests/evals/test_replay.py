"""Counterfactual replay on a small demo world, with the production optimiser in hindsight."""

from __future__ import annotations

import pytest

from evals.kpis import Move, score_plan, simulate
from evals.replay import ReplayError, hindsight_moves, replay, replay_inputs, snapshot_stock
from evals.scenario import Scenario
from evals.world import build_world

SCENARIO = Scenario.model_validate(
    {
        "id": "replay-test",
        "purpose": "A Shanghai rainstorm world for the replay tests.",
        "world": {"cities": ["Shanghai"], "stores": 8, "styles": 12},
        "clock": "2015-07-11T08:00:00",
        "trigger": {"chat": [{"content": "hi"}]},
    }
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    built = build_world(SCENARIO, tmp_path_factory.mktemp("replay"))
    yield built
    built.dispose()


def test_doing_nothing_scores_zero_and_hindsight_is_never_negative(world) -> None:
    start = snapshot_stock(world.engine)
    kpis = replay(world.engine, start, SCENARIO.clock, days=3)
    assert kpis.no_action_lost_units > 0  # the rainstorm leaves someone short
    assert kpis.executed.units_transferred == 0 and kpis.executed.net_value == 0
    assert kpis.hindsight is not None and kpis.hindsight.net_value >= 0
    assert kpis.capture_share in (0.0, None)


def test_hindsight_plan_respects_stock_and_beats_doing_nothing(world) -> None:
    start = snapshot_stock(world.engine)
    inputs = replay_inputs(world.engine, start, SCENARIO.clock, 3)
    moves, cost = hindsight_moves(world.engine, start, inputs, SCENARIO.clock)
    baseline = simulate(inputs, [])
    outcome = simulate(inputs, moves)
    assert outcome.short_moves == []  # never ships more than the source holds
    if moves:
        assert cost > 0
        assert score_plan(inputs, baseline, moves, cost).lost_units_avoided >= 0


def test_a_pointless_move_costs_money(world) -> None:
    start = snapshot_stock(world.engine)
    inputs = replay_inputs(world.engine, start, SCENARIO.clock, 3)
    baseline = simulate(inputs, [])
    # Move one unit of something nobody wants within the window into the DC.
    idle = next(
        (loc, sku)
        for (loc, sku), units in inputs.stock.items()
        if units > 0 and sum(inputs.demand.get((loc, sku), [0])) == 0 and loc.endswith("S01")
    )
    move = Move(source=idle[0], dest="DC-SHA", sku=idle[1], qty=1, arrival_day=1)
    score = score_plan(inputs, baseline, [move], transfer_cost=12.0)
    assert score.lost_units_avoided == 0 and score.net_value == -12.0
    assert score.sell_through == 0.0


def test_a_window_without_future_demand_is_a_clear_error(world) -> None:
    import datetime as dt

    late = SCENARIO.clock + dt.timedelta(days=60)
    with pytest.raises(ReplayError, match="no future_demand between"):
        replay_inputs(world.engine, snapshot_stock(world.engine), late, 3)
