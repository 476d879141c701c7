"""`stockpilot alert` and `stockpilot chat` on a copy of the small world."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from inventory.db import dispose_engines
from stockpilot_cli.main import full_app
from tests.agents.helpers import SKU, stock_up

app = full_app()


@pytest.fixture
def db(world_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")  # the small world lives in 2015
    stock_up(world_engine, "DC-SHA", SKU, 600)
    yield str(world_engine.url)
    dispose_engines()


def test_alert_false_alarm_prints_triage_and_summary(db):
    result = CliRunner().invoke(
        app, ["alert", "rain", "--city", "上海", "--mm", "5", "--hours", "24", "--db", db]
    )
    assert result.exit_code == 0, result.output
    assert "light" in result.output and "No action taken" in result.output


def test_alert_refuses_an_unknown_city(db):
    result = CliRunner().invoke(
        app, ["alert", "rain", "--city", "Atlantis", "--mm", "60", "--db", db]
    )
    assert result.exit_code != 0
    assert "unknown city 'Atlantis'" in result.output


def test_chat_shows_a_proposal_and_takes_the_decision(db):
    script = (
        "\n".join(
            [
                "how many rain boots in Shanghai stores?",
                f"ship 100 pairs of {SKU} from DC-SHA to SHA-S01",
                "approve",
                "exit",
            ]
        )
        + "\n"
    )
    result = CliRunner().invoke(
        app, ["chat", "--as", "alice", "--role", "approver", "--db", db], input=script
    )
    assert result.exit_code == 0, result.output
    assert "available to promise" in result.output
    assert "Waiting for a decision" in result.output
    flat = " ".join(result.output.split())
    assert "approve / reject" in flat  # the decision prompt was shown and answered
    assert "dispatched (WMS-000001)" in flat
