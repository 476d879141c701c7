"""`stockpilot plan` and `stockpilot promos`: rich output with reasons, --json, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from stockpilot_cli.main import full_app
from tests.tools.plan_transfers_pool import build_pool, fake_forecast
from tools.plan_transfers import tool as plan_tool
from tools.recommend_promos import tool as promo_tool

app = full_app()

runner = CliRunner()


@pytest.fixture
def pool_url(sqlite_engine, monkeypatch):
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")  # the pool's clock is set in 2015
    build_pool(sqlite_engine)
    provider = fake_forecast({"SHA-S02": 6.0, "SHA-S01": 1.0, "SHA-S03": 0.2, "BEI-S01": 1.0})
    monkeypatch.setattr(plan_tool, "default_forecast_provider", provider)
    monkeypatch.setattr(promo_tool, "default_forecast_provider", provider)
    return str(sqlite_engine.url)


def test_plan_prints_shipments_with_reasons_and_writes_json(pool_url, tmp_path):
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app,
        [
            "plan",
            "--city",
            "Shanghai",
            "--category",
            "rain_boots",
            "--window",
            "3",
            "--db",
            pool_url,
            "--json",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "SHA-S01 → SHA-S02" in result.output
    assert "Units saved" in result.output and "Total:" in result.output
    plan = json.loads(out.read_text())
    assert plan["shipments"] and plan["totals"]["units"] > 0
    assert all(
        line["reason"]["expected_value"] > 0 for s in plan["shipments"] for line in s["lines"]
    )


def test_plan_bad_city_exits_2_with_the_reason(pool_url):
    result = runner.invoke(app, ["plan", "--city", "Atlantis", "--db", pool_url])
    assert result.exit_code == 2
    assert "unknown city" in result.output


def test_promos_prints_verdicts(pool_url, tmp_path):
    out = tmp_path / "promos.json"
    result = runner.invoke(
        app,
        ["promos", "--city", "Shanghai", "--threshold", "4", "--db", pool_url, "--json", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    outlet = [r for r in data["recommendations"] if r["location"] == "SHA-S03"]
    assert outlet and outlet[0]["verdict"].split(":")[0] in {"markdown", "hold"}
    assert "SHA-S03" in result.output
