"""The shipped scenarios offline: they pass with the shipped planner, and they can fail — every
`act` scenario fails when the service runs with a planner that never moves anything.

The `act` scenarios are a measurement the product does not meet (issue 10: the planner
captures a few per cent of the hindsight-optimal net value). Their floors are set against a
clairvoyant plan that knows which size sells in which store; a plan made from the world's own
expected demand (a perfect forecast of the mean, ``evals.oracle``) captures 2–18 % of it in
expectation on these worlds (``benchmarks/decisions.py --bound-draws``, evals/README.md), so no
forecast can meet them and they stay a strict xfail: the day they pass, this file fails until the
marker goes, so the gap can neither be forgotten nor hidden.

Only correctness is asserted here; the suite's time budget is a benchmark
(``benchmarks/eval_suite.py``). A cold cache builds and fits its worlds first, so these tests'
timeout is raised above the global hang guard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.runner import RunOptions, run_suite
from evals.scenario import load_scenarios

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"
#: A hang guard, not a budget: a cold cache (fresh clone) fits a forecaster per world first.
SUITE_TIMEOUT_S = 3600


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_offline_suite_passes(tmp_path: Path) -> None:
    scenarios = [s for s in load_scenarios(SCENARIOS) if s.role != "act"]
    result = run_suite(scenarios, RunOptions(workdir=tmp_path, llm="auto"))
    failures = {s.id: s.trials[0].failure_reasons for s in result.failed}
    assert not failures, failures


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.xfail(
    strict=True,
    reason="issue 10: the act floors ask 35 % of a clairvoyant plan's net value in one window; "
    "even the perfect-mean plan captures ~10 % of it in expectation and would fail all ten in "
    "the shipped windows (benchmarks/decisions.py --bound-draws, evals/README.md 'Which capture "
    "the targets use')",
)
def test_act_scenarios_capture_their_floor(tmp_path: Path) -> None:
    act = [s for s in load_scenarios(SCENARIOS) if s.role == "act"]
    result = run_suite(act, RunOptions(workdir=tmp_path, llm="auto"))
    failures = {s.id: s.trials[0].failure_reasons for s in result.failed}
    assert not failures, failures


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_every_act_scenario_fails_a_do_nothing_agent(tmp_path: Path) -> None:
    act = [s for s in load_scenarios(SCENARIOS) if s.role == "act"]
    assert act, "the suite holds no act scenario"
    result = run_suite(act, RunOptions(workdir=tmp_path, llm="auto", planner="do-nothing"))
    passed_anyway = [s.id for s in result.scenarios if s.passed]
    assert not passed_anyway, f"these act scenarios pass without any transfer: {passed_anyway}"
    for summary in result.scenarios:
        trial = summary.trials[0]
        assert trial.kpis["units_transferred"] == 0, summary.id
        # Not an accident of the harness: the world had something to gain, and it was missed.
        assert (trial.kpis["hindsight_net_value"] or 0.0) > 0, summary.id
        assert any(r.startswith("kpi.capture_share") for r in trial.failure_reasons), summary.id
