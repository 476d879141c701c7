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

The suite spans world seeds 7, 11 and 12 (evals/README.md "World seeds"): a planner tuned on one
catalog and promo calendar must still hold on the others. Seed 7's act scenarios carry the
issue's floors (35 % of hindsight, a strict xfail all ten); the seed 11/12 act scenarios carry
floors measured with margin, so they pass and fail a regression. What the shipped planner fails
on those is listed in ``KNOWN_FAILURES`` with its measured reason, as a strict xfail: the floor
stays where the issue puts it, and the day the planner passes, the test fails until the entry goes.
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

#: The issue-10 act floor (share of the hindsight-optimal net value in one window): seed 7's act
#: scenarios carry it, and so does an act scenario on another seed where the planner loses money.
ISSUE_CAPTURE_FLOOR = 0.35
ISSUE_FLOOR_REASON = (
    "issue 10: the act floors ask 35 % of a clairvoyant plan's net value in one window; even the "
    "perfect-mean plan captures ~10 % of it in expectation and would fail all ten seed-7 worlds "
    "in the shipped windows (benchmarks/decisions.py --bound-draws, evals/README.md 'Which "
    "capture the targets use')"
)
#: Scenarios the shipped planner fails, with what was measured (offline, realised window, the
#: rule of 2026-12-07: pooled size curve, stores placed by their sales, hurdle 0.1, false-alarm
#: bound, a count's dispersion kept when a rule moves its mean, wet sell-outs read as censored
#: demand; `stockpilot eval run evals/scenarios --select -s11 --llm offline`):
#: a strict xfail, never a looser floor. An entry goes when its scenario passes
#: (false-alarm-chengdu-s11 went when the alert plan's level backtest cut its loss from −¥737 to
#: −¥396, came back, −¥536, when the stores were placed by their sales, and went again, −¥341,
#: when the hurdle was lowered to 0.1; false-alarm-guangzhou-s12, −¥520 since the stores were
#: placed by their sales, went at −¥483 when wet sell-outs were read as censored demand).
KNOWN_FAILURES: dict[str, str] = {
    "rain-chengdu-heavy-s11": "seed 11: the planner loses money on the 大雨 day (net −¥100, "
    "capture −0.06 of ¥1,649 hindsight; 25 units moved, 9 sold, ¥233 freight; +¥365 exact in "
    "expectation)",
    "rain-beijing-heavy-s12": "seed 12: the planner loses money on the 大雨 day (net −¥241, "
    "capture −0.03 of ¥8,593 hindsight; 20 units moved, 4 sold, ¥163 freight; +¥421 exact in "
    "expectation)",
    "false-alarm-shanghai-s12": "seed 12: the dry day's plan loses −¥1,300 in the scored "
    "window (cap −¥500; 27 units moved on the 60 mm alert, 0 sold, ¥178 freight; −¥401 exact "
    "in expectation, inside the cap)",
}


def _ids(scenario: Scenario) -> str:
    return scenario.id


def _known_failure(scenario: Scenario) -> str | None:
    """Why the shipped planner fails this scenario, or None when it must pass."""
    measured = KNOWN_FAILURES.get(scenario.id)
    on_issue_floor = (
        scenario.role == "act"
        and scenario.expect.kpis.min.get("capture_share", 0.0) >= ISSUE_CAPTURE_FLOOR
    )
    if on_issue_floor:
        return ISSUE_FLOOR_REASON + (f"; measured {measured}" if measured else "")
    return measured


def _params(scenarios: list[Scenario]) -> list[object]:
    """Each scenario as a test case; a known failure is a strict xfail with its reason."""
    params: list[object] = []
    for scenario in scenarios:
        reason = _known_failure(scenario)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(scenario, id=scenario.id, marks=marks))
    return params


def test_the_suite_holds_act_and_other_scenarios() -> None:
    assert ACT, "the suite holds no act scenario"
    assert OTHERS, "the suite holds only act scenarios"
    assert len({s.id for s in _ALL}) == len(_ALL)


def test_the_rain_decisions_span_several_world_seeds() -> None:
    """One seed is one catalog and one promo calendar: act and false-alarm scenarios each stand
    on at least three worlds, so a planner tuned to one of them fails on another."""
    for role in ("act", "false-alarm"):
        seeds = {s.world.seed for s in _ALL if s.role == role}
        assert len(seeds) >= 3, (role, sorted(seeds))


def test_known_failures_name_shipped_scenarios_and_keep_the_issue_caps() -> None:
    by_id = {s.id: s for s in _ALL}
    assert set(KNOWN_FAILURES) <= set(by_id), set(KNOWN_FAILURES) - set(by_id)
    for sid in KNOWN_FAILURES:
        scenario = by_id[sid]
        low, high = scenario.expect.kpis.min, scenario.expect.kpis.max
        if scenario.role == "act":  # a failing act scenario keeps the issue's floor
            assert low["capture_share"] >= ISSUE_CAPTURE_FLOOR and low["net_value"] > 0, sid
        else:  # a failing false alarm keeps the issue's caps, not a looser one
            assert low["net_value"] >= -500 and high["transfer_cost"] <= 500, sid


# The act scenarios come first: each has a world of its own, so the first tests handed to the
# workers build and fit different worlds side by side; the do-nothing runs find them cached.
@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("scenario", _params(ACT))
def test_act_scenario_captures_its_floor(scenario: Scenario, tmp_path: Path) -> None:
    result = run_suite([scenario], RunOptions(workdir=tmp_path, llm="auto"))
    failures = {s.id: s.trials[0].failure_reasons for s in result.failed}
    assert not failures, failures


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("scenario", _params(OTHERS))
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
