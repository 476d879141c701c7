"""The world's expected demand (what a perfect forecaster of the mean would say) matches the
demand the world then drew, and plans are scored over drawn windows."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from evals.oracle import PlanOutcome, at_hit_rate, expected_demand, modelled_net, oracle_problem
from evals.scenario import Scenario
from evals.world import template_for
from inventory.db import make_engine
from inventory.models import FutureDemand
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.solver import solve

SCENARIO = Scenario.model_validate(
    {
        "id": "oracle-test",
        "purpose": "The world's expected demand against its drawn future.",
        "world": {"cities": ["Shanghai"], "stores": 8, "styles": 12},
        "clock": "2015-07-11T08:00:00",
        "trigger": {"chat": [{"content": "hi"}]},
    }
)
DAYS = 28


def _drawn(template: Path) -> dict[tuple[str, str], np.ndarray]:
    engine = make_engine(f"sqlite:///{template}")
    first = SCENARIO.clock.date()
    out: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(DAYS))
    with Session(engine) as session:
        for row in session.exec(select(FutureDemand)):
            out[(row.location_code, row.sku_code)][(row.date - first).days] += row.units
    engine.dispose()
    return dict(out)


def test_expected_demand_is_the_mean_of_what_the_world_drew() -> None:
    expected = expected_demand(SCENARIO, DAYS)
    drawn = _drawn(template_for(SCENARIO.world, SCENARIO.clock))
    assert set(drawn) <= set(expected), "the world drew demand where the oracle expects none"
    total_expected = sum(float(v.sum()) for v in expected.values())
    total_drawn = sum(float(v.sum()) for v in drawn.values())
    # Thousands of negative-binomial units: the totals agree within a few per cent.
    assert abs(total_drawn / total_expected - 1) < 0.05
    # Per location too (a mis-ordered mapping of stores would break this).
    for location in {loc for loc, _ in expected}:
        e = sum(float(v.sum()) for (loc, _), v in expected.items() if loc == location)
        d = sum(float(v.sum()) for (loc, _), v in drawn.items() if loc == location)
        assert abs(d - e) < 4 * np.sqrt(e * 1.5) + 5, (location, e, d)


def _count_problem(seed: int = 3) -> TransferProblem:
    from tools.plan_transfers.synthetic import generate

    return dataclasses.replace(
        generate(stores=8, skus=12, seed=seed, window_days=2), demand_kind="counts"
    )


def test_modelled_net_values_a_plan_under_the_worlds_demand_not_its_own() -> None:
    world = _count_problem()
    plan = solve(world)
    assert plan.shipments
    # A plan valued on the demand it was made from scores its own objective.
    assert modelled_net(world, world, plan) == pytest.approx(plan.objective, abs=1e-6)
    # A forecast three times too high plans more than pays; valued under the world's demand, it
    # earns less than it promised and no more than the plan made from the world's demand.
    high = dataclasses.replace(
        world, demand_mean=3 * world.demand_mean, demand_quantiles=3 * world.demand_quantiles
    )
    over = solve(high)
    assert over.units > plan.units
    assert modelled_net(world, high, over) < over.objective
    assert modelled_net(world, high, over) <= plan.objective + 1e-6
    # No plan, no value.
    assert modelled_net(world, high, dataclasses.replace(over, shipments=[])) == 0.0


def test_at_hit_rate_mixes_the_worlds_rain_with_the_plans_dry_case() -> None:
    world = _count_problem()
    hurdled = dataclasses.replace(
        world, constraints=world.constraints.model_copy(update={"min_net_to_cost": 0.5})
    )
    # A plan that takes its rain as certain: the world's demand under the plan's rules.
    certain = at_hit_rate(world, hurdled)
    assert not certain.mixed and certain.constraints.min_net_to_cost == 0.5
    # The perfect-mean plan itself has no forecast error for the hurdle to hedge.
    assert oracle_problem(hurdled, {}).constraints.min_net_to_cost == 0.0
    dry_mean = 0.3 * world.demand_mean
    planned = dataclasses.replace(
        world,
        demand_mean=2 * world.demand_mean,
        demand_quantiles=2 * world.demand_quantiles,
        rain_hit_rate=0.6,
        dry_mean=dry_mean,
        dry_quantiles=0.3 * world.demand_quantiles,
    )
    ruled = at_hit_rate(world, planned)
    np.testing.assert_array_equal(ruled.demand_mean, world.demand_mean)  # the world's rain
    np.testing.assert_array_equal(ruled.dry_mean, dry_mean)  # the plan's dry case
    assert ruled.rain_hit_rate == 0.6 and ruled.mixed
    # Doubting the rain never makes the perfect-mean plan richer in the world where it falls.
    assert modelled_net(world, ruled, solve(ruled)) <= solve(world).objective + 1e-6


def test_a_plans_summary_over_draws_says_how_noisy_its_mean_is() -> None:
    outcome = PlanOutcome(units=3, freight=10.0, nets=[0.0, 10.0, 20.0], sold=[1, 1, 1])
    summary = outcome.summary(hindsight_mean=100.0)
    assert summary["mean_net"] == 10.0
    assert summary["mean_net_se"] == pytest.approx(10 / np.sqrt(3), abs=0.05)
    assert PlanOutcome(units=0, freight=0.0, nets=[5.0]).summary(1.0)["mean_net_se"] is None
