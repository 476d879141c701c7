"""The shipped scenarios offline: they pass with the shipped planner, and they can fail — every
`act` scenario fails when the service runs with a planner that never moves anything.

The `act` scenarios are a measurement the product does not meet (issue 10: the planner
captures a few per cent of the hindsight-optimal net value). Their floors are set against a
clairvoyant plan that knows which size sells in which store; a plan made from the world's own
expected demand (a perfect forecast of the mean, ``evals.oracle``) captures 2–18 % of it in
expectation on these worlds (``benchmarks/decisions.py --bound-draws``, evals/README.md), so no
forecast can meet them and they stay a strict xfail: the day one passes, its test fails until
the marker goes, so the gap can neither be forgotten nor hidden.

One test per scenario (each a suite of one, as ``stockpilot eval`` runs it), so parallel test
workers share the suite instead of one worker running all of it. Scenarios on one world share
its cached template and fitted forecasters (built once, under a file lock, whichever test gets
there first). Only correctness is asserted here; the suite's time budget is a benchmark
(``benchmarks/eval_suite.py``). A cold cache builds and fits a scenario's world first, so these
tests' timeout is raised above the global hang guard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.runner import RunOptions, run_suite
from evals.scenario import Scenario, load_scenarios

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"
#: A hang guard, not a budget: a cold cache (fresh clone) fits a forecaster per world first.
SUITE_TIMEOUT_S = 3600

_ALL = load_scenarios(SCENARIOS)
ACT = [s for s in _ALL if s.role == "act"]
OTHERS = [s for s in _ALL if s.role != "act"]


def _ids(scenario: Scenario) -> str:
    return scenario.id


def test_the_suite_holds_act_and_other_scenarios() -> None:
    assert ACT, "the suite holds no act scenario"
    assert OTHERS, "the suite holds only act scenarios"
    assert len({s.id for s in _ALL}) == len(_ALL)


# The act scenarios come first: each has a world of its own, so the first tests handed to the
# workers build and fit different worlds side by side; the do-nothing runs find them cached.
@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.xfail(
    strict=True,
    reason="issue 10: the act floors ask 35 % of a clairvoyant plan's net value in one window; "
    "even the perfect-mean plan captures ~10 % of it in expectation and would fail all ten in "
    "the shipped windows (benchmarks/decisions.py --bound-draws, evals/README.md 'Which capture "
    "the targets use')",
)
@pytest.mark.parametrize("scenario", ACT, ids=_ids)
def test_act_scenario_captures_its_floor(scenario: Scenario, tmp_path: Path) -> None:
    result = run_suite([scenario], RunOptions(workdir=tmp_path, llm="auto"))
    failures = {s.id: s.trials[0].failure_reasons for s in result.failed}
    assert not failures, failures


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("scenario", OTHERS, ids=_ids)
def test_scenario_passes_offline(scenario: Scenario, tmp_path: Path) -> None:
    result = run_suite([scenario], RunOptions(workdir=tmp_path, llm="auto"))
    failures = {s.id: s.trials[0].failure_reasons for s in result.failed}
    assert not failures, failures


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("scenario", ACT, ids=_ids)
def test_act_scenario_fails_a_do_nothing_agent(scenario: Scenario, tmp_path: Path) -> None:
    result = run_suite([scenario], RunOptions(workdir=tmp_path, llm="auto", planner="do-nothing"))
    (summary,) = result.scenarios
    assert not summary.passed, f"{scenario.id} passes without any transfer"
    trial = summary.trials[0]
    assert trial.kpis["units_transferred"] == 0, scenario.id
    # Not an accident of the harness: the world had something to gain, and it was missed.
    assert (trial.kpis["hindsight_net_value"] or 0.0) > 0, scenario.id
    assert any(r.startswith("kpi.capture_share") for r in trial.failure_reasons), scenario.id


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_chat_plan_fails_a_do_nothing_agent(tmp_path: Path) -> None:
    """chat-plan-rain-zh's world has a transfer worth making (the offline planner moves 16 units
    for ¥280 expected; hindsight ¥2.8k): a planner that moves nothing, and answers "no transfer
    is worth making" with its reason, must fail it -- before, only ``names_order_codes`` looked
    at the reply, and only when there were orders, so it passed."""
    (scenario,) = [s for s in _ALL if s.id == "chat-plan-rain-zh"]
    result = run_suite([scenario], RunOptions(workdir=tmp_path, llm="auto", planner="do-nothing"))
    (trial,) = result.scenarios[0].trials
    assert not trial.passed
    failed = {reason.split(":", 1)[0] for reason in trial.failure_reasons}
    assert {"reply.plan_made", "orders.count"} <= failed, trial.failure_reasons
