"""The report reads well for a person and round-trips as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from evals.expectations import CheckResult
from evals.kpis import PlanScore, ReplayKpis
from evals.observation import Observation
from evals.report import render_markdown, write_report
from evals.results import Headline, ScenarioSummary, SuiteResult, TrialResult


def score(units: int, sold: int, net: float) -> PlanScore:
    return PlanScore(
        units_transferred=units,
        transfer_cost=10.0,
        lost_units=3,
        lost_value=300.0,
        lost_units_avoided=sold,
        lost_value_avoided=net + 10.0,
        net_value=net,
        transferred_units_sold=sold,
        sell_through=sold / units if units else None,
    )


def suite() -> SuiteResult:
    replay = ReplayKpis(
        window_days=3,
        no_action_lost_units=9,
        no_action_lost_value=900.0,
        executed=score(4, 3, 290.0),
        hindsight=score(6, 5, 490.0),
        capture_share=0.5918,
    )
    good = TrialResult(
        scenario_id="rain-x",
        trial=1,
        passed=True,
        duration_s=1.2,
        checks=[CheckResult(name="orders.count", passed=True, detail="1 within [1, -]")],
        kpis={"net_value": 290.0, "capture_share": 0.5918, "sell_through": 0.75},
        replay=replay,
        observation=Observation(run_status="completed"),
    )
    bad = TrialResult(
        scenario_id="approval-y",
        trial=1,
        passed=False,
        duration_s=0.8,
        failure_reasons=["orders.count: 0 < minimum 1"],
        checks=[CheckResult(name="orders.count", passed=False, detail="0 < minimum 1")],
        observation=Observation(run_status="completed"),
    )
    return SuiteResult(
        started_at="2026-11-24 15:00:00 UTC",
        duration_s=2.0,
        trials=1,
        llm_mode="offline",
        scenarios=[
            ScenarioSummary(
                id="rain-x",
                purpose="Rain | pipes escaped.",
                tags=["rain"],
                world_seed=11,
                source="a.yaml",
                trials=[good],
                pass_hat_k={1: 1.0},
            ),
            ScenarioSummary(
                id="approval-y",
                purpose="Approval.",
                tags=[],
                source="b.yaml",
                trials=[bad],
                pass_hat_k={1: 0.0},
            ),
        ],
        suite_pass_hat_k={1: 0.5},
        headline=Headline(
            rain_scenarios=1,
            mean_capture_share=0.5918,
            capture_defined_in=1,
            sell_through=0.75,
            units_transferred=4,
            transferred_units_sold=3,
            net_value=290.0,
            hindsight_net_value=490.0,
        ),
    )


def test_markdown_leads_with_the_verdict_and_the_headline() -> None:
    text = render_markdown(suite())
    assert "**Result: FAILED (1 scenario(s))**" in text
    assert "**59 %**" in text and "**75 %**" in text  # capture share, sell-through
    assert "Rain \\| pipes escaped." in text  # a pipe must not break the table
    assert "## Why scenarios failed" in text and "orders.count: 0 < minimum 1" in text


def test_report_shows_each_scenario_world_seed() -> None:
    """A result holds for the world it was measured on: a reader sees which seed built it."""
    text = render_markdown(suite())
    assert "| `rain-x` | 11 |" in text
    assert "| `approval-y` | - |" in text  # a summary that does not say shows no seed
    assert "world seeds 11 ·" in text and "world seed 11 · file `a.yaml`" in text


def test_files_are_written_and_json_round_trips(tmp_path: Path) -> None:
    md, js = write_report(suite(), tmp_path / "out")
    assert md.read_text(encoding="utf-8").startswith("# Stockpilot evaluation report")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["passed"] is False
    assert [s["passed"] for s in data["scenarios"]] == [True, False]
    assert [s["world_seed"] for s in data["scenarios"]] == [11, None]
    assert SuiteResult.model_validate(data).headline.mean_capture_share == 0.5918


def test_headline_averages_trials_before_scenarios() -> None:
    from evals.runner import headline

    def trial(net: float, hindsight: float, capture: float | None) -> TrialResult:
        replay = ReplayKpis(
            window_days=2,
            no_action_lost_units=1,
            no_action_lost_value=1.0,
            executed=score(4, 2, net),
            hindsight=score(4, 4, hindsight),
            capture_share=capture,
        )
        return TrialResult(scenario_id="x", trial=1, passed=True, duration_s=0, replay=replay)

    a = ScenarioSummary(
        id="a",
        purpose="p",
        tags=["rain"],
        source="",
        pass_hat_k={1: 1.0},
        trials=[trial(100, 200, 0.5), trial(100, 200, 0.5)],
    )
    b = ScenarioSummary(
        id="b",
        purpose="p",
        tags=["rain"],
        source="",
        pass_hat_k={1: 1.0},
        trials=[trial(-10, 0.5, None)],
    )
    other = ScenarioSummary(
        id="c",
        purpose="p",
        tags=["chat"],
        source="",
        pass_hat_k={1: 1.0},
        trials=[trial(999, 999, 1.0)],
    )
    h = headline([a, b, other])
    assert (h.rain_scenarios, h.capture_defined_in) == (2, 1)
    assert h.mean_capture_share == 0.5 and h.weighted_capture_share == 0.5
    assert h.units_transferred == 8 and h.transferred_units_sold == 4  # one trial's worth each
    assert h.net_value == 90.0
