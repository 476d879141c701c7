"""An alert's plan is held to what it may lose if not a drop of the warned rain falls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from inventory.config import Settings
from tests.tools.plan_transfers_pool import NOW, build_pool, forecast_from
from tools.context import ToolContext, ToolError
from tools.forecast_demand.models import ForecastInput, RainScenario
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.network import lane_matrix
from tools.plan_transfers.shipments import Moves, plan_objective, value_moves
from tools.plan_transfers.solver import solve
from tools.plan_transfers.synthetic import generate
from tools.plan_transfers.tool import plan_transfers
from tools.plan_transfers.value import DEFAULT_VALUE_TERMS_FILE, load_value_terms

RAIN = [RainScenario(city="Shanghai", start=NOW.date(), days=2, precipitation_mm_per_day=60.0)]


def _three_cases(wet: float, climate: float, bone_dry: float):
    """SHA-S02 (the short store) sells ``wet`` units per SKU under the warned rain, ``climate``
    with no rain given (the date's climate: some days still rain), ``bone_dry`` with the window
    at 0 mm; every other store sells 0.2."""

    def mean_of(request: ForecastInput, location: str) -> float:
        if location != "SHA-S02":
            return 0.2
        if any(r.precipitation_mm_per_day > 0 for r in request.rain):
            return wet
        return bone_dry if request.rain else climate

    return forecast_from(mean_of)


def _ctx(engine, tmp_path: Path, limit: float | None) -> ToolContext:
    terms = yaml.safe_load(DEFAULT_VALUE_TERMS_FILE.read_text())
    terms["alert_verification"]["max_false_alarm_loss"] = limit
    path = tmp_path / f"terms-{limit}.yaml"
    path.write_text(yaml.safe_dump(terms))
    return ToolContext(engine=engine, now=NOW, settings=Settings(value_terms_file=path))


def _plan(ctx: ToolContext, p: float = 0.6):
    request = PlanTransfersInput(city="Shanghai", rain=RAIN, window_days=2, rain_hit_rate=p)
    return plan_transfers(ctx, request, forecast_provider=_three_cases(4.0, 2.5, 0.0))


def test_a_plan_that_would_lose_more_than_the_bound_if_dry_is_cut_back(engine, tmp_path):
    build_pool(engine)
    free = _plan(_ctx(engine, tmp_path, None))
    # Without the bound the plan would lose on a window that stays dry: the case the bound is for.
    assert free.totals.net_value_if_no_rain is not None
    loss = -free.totals.net_value_if_no_rain
    assert loss > 40
    limit = round(loss * 0.8)  # between this plan's loss and the dry-case plan's (-¥678)
    held = _plan(_ctx(engine, tmp_path, limit))
    assert held.totals.net_value_if_no_rain >= -limit
    assert 0 < held.totals.units < free.totals.units
    # Valued, like every plan, at the estimated hit rate: below the free plan's, which is optimal.
    assert 0 < held.totals.net_value < free.totals.net_value
    assert held.totals.net_value == pytest.approx(sum(s.net_value for s in held.shipments))
    assert held.totals.net_value_if_no_rain == pytest.approx(
        sum(s.net_value_if_no_rain for s in held.shipments), abs=0.05
    )
    note = next(n for n in held.notes if "max_false_alarm_loss" in n)
    assert f"¥{limit:,.0f} allowed" in note and "hit rate 0." in note


def test_a_plan_within_the_bound_is_left_as_it_is(engine, tmp_path):
    build_pool(engine)
    free = _plan(_ctx(engine, tmp_path, None))
    roomy = _plan(_ctx(engine, tmp_path, -free.totals.net_value_if_no_rain + 1))
    assert roomy.shipments == free.shipments
    assert not any("max_false_alarm_loss" in n for n in roomy.notes)


def test_a_bound_no_plan_can_hold_moves_nothing_and_says_why(engine, tmp_path):
    build_pool(engine)
    # Even the dry case's plan (hit rate 0) loses if the window is bone dry.
    request = PlanTransfersInput(city="Shanghai", rain=RAIN, window_days=2, rain_hit_rate=0.6)
    plan = plan_transfers(
        _ctx(engine, tmp_path, 0.0), request, forecast_provider=_three_cases(4.0, 4.0, 0.0)
    )
    assert plan.shipments == [] and plan.totals.units == 0
    assert "nothing moved" in (plan.empty_reason or "")


def test_certain_rain_and_no_rain_have_no_false_alarm_to_bound(engine, tmp_path):
    build_pool(engine)
    ctx = _ctx(engine, tmp_path, 0.0)
    certain = _plan(ctx, p=1.0)
    assert certain.totals.units > 0 and certain.totals.net_value_if_no_rain is None
    assert all(s.net_value_if_no_rain is None for s in certain.shipments)
    no_alert = plan_transfers(
        ctx,
        PlanTransfersInput(city="Shanghai", window_days=2),
        forecast_provider=_three_cases(4.0, 2.5, 0.0),
    )
    assert no_alert.totals.net_value_if_no_rain is None


def test_the_shipped_terms_bound_an_alerts_loss_and_a_negative_bound_is_refused(engine, tmp_path):
    assert load_value_terms().alert_verification.max_false_alarm_loss == 400
    terms = yaml.safe_load(DEFAULT_VALUE_TERMS_FILE.read_text())
    terms["alert_verification"]["max_false_alarm_loss"] = -5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(terms))
    build_pool(engine)
    ctx = ToolContext(engine=engine, now=NOW, settings=Settings(value_terms_file=path))
    with pytest.raises(ToolError, match="max_false_alarm_loss"):
        _plan(ctx)


def test_the_bounded_plan_is_valued_at_the_estimated_rate_on_the_pure_core():
    base = generate(stores=12, skus=40, seed=3)
    rain_q, rain_mean = base.demand_quantiles * 3.0, base.demand_mean * 3.0
    problem = replace(
        base,
        demand_kind="counts",
        demand_quantiles=rain_q,
        demand_mean=rain_mean,
        rain_hit_rate=0.6,
        dry_quantiles=base.demand_quantiles,
        dry_mean=base.demand_mean,
        no_rain_quantiles=base.demand_quantiles * 0.0,
        no_rain_mean=base.demand_mean * 0.0,
    )
    free_terms = problem.value_terms.model_copy(
        update={
            "alert_verification": problem.value_terms.alert_verification.model_copy(
                update={"max_false_alarm_loss": None}
            )
        }
    )
    free = solve(replace(problem, value_terms=free_terms))
    assert free.net_value_if_no_rain is not None and free.net_value_if_no_rain < 0
    dry_plan = solve(replace(problem, value_terms=free_terms, rain_hit_rate=0.0))
    assert free.net_value_if_no_rain < dry_plan.net_value_if_no_rain
    limit = -(free.net_value_if_no_rain + dry_plan.net_value_if_no_rain) / 2
    bounded_terms = free_terms.model_copy(
        update={
            "alert_verification": free_terms.alert_verification.model_copy(
                update={"max_false_alarm_loss": limit}
            )
        }
    )
    bounded_problem = replace(problem, value_terms=bounded_terms)
    held = solve(bounded_problem)
    assert held.net_value_if_no_rain >= -limit - 1e-6
    every_lane = lane_matrix(bounded_problem, np.ones(len(bounded_problem.lanes), dtype=bool))
    at_estimate = value_moves(bounded_problem, Moves.of_plan(held), every_lane)
    assert held.objective == pytest.approx(plan_objective(at_estimate))
    assert 0 < held.objective < free.objective
