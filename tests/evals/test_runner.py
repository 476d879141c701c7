"""The CLI over the real graphs: a scenario that should fail makes the run fail (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stockpilot_cli.main import full_app

app = full_app()

DRY_DAY = """
id: {id}
purpose: A dry day in Beijing, used by the runner tests.
world: {{cities: [Beijing], stores: 8, styles: 12}}
clock: 2015-07-11T08:00:00
weather_check: {{city: Beijing, date: 2015-07-11, band: none}}
trigger:
  alert:
    payload: {{type: rain, city: Beijing, mm: 0.0, hours: 24, external_id: eval-{id}, sender: eval}}
expect:
{expect}
"""


def run_cli(tmp_path: Path, scenario: str) -> tuple[int, dict, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario, encoding="utf-8")
    report = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["eval", "run", str(path), "--report", str(report), "--workdir", str(tmp_path / "w")]
    )
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    return result.exit_code, data, result.output


def test_expected_orders_the_run_did_not_make_fail_the_runner(tmp_path: Path) -> None:
    expect = "  orders: {min_count: 1, include: [{dest_city: Beijing}]}"
    code, data, output = run_cli(tmp_path, DRY_DAY.format(id="should-fail", expect=expect))
    assert code == 1, output
    trial = data["scenarios"][0]["trials"][0]
    assert trial["passed"] is False
    assert any(r.startswith("orders.count: 0 < minimum 1") for r in trial["failure_reasons"])
    assert data["scenarios"][0]["world_seed"] == 7  # the default world seed, said per scenario
    assert "FAILED" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")


def test_true_expectations_pass_and_exit_zero(tmp_path: Path) -> None:
    expect = "  orders: {none: true}\n  approvals: {requested: false}"
    code, data, output = run_cli(tmp_path, DRY_DAY.format(id="should-pass", expect=expect))
    assert code == 0, output
    trial = data["scenarios"][0]["trials"][0]
    assert trial["passed"] is True
    assert trial["replay"]["window_days"] == 2
    assert trial["kpis"]["policy_violations"] == 0


def test_invalid_scenario_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(DRY_DAY.format(id="bad", expect="  orderz: {}"), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "run", str(path)])
    assert result.exit_code == 2
    assert "expect.orderz" in result.output
