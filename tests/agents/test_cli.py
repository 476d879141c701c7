"""`stockpilot alert` and `stockpilot chat` on a copy of the small world, on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from api.auth import Role, create_api_key, seed_demo_keys
from inventory.db import dispose_engines
from stockpilot_cli.main import full_app
from tests.agents.helpers import SKU, stock_up

app = full_app()


@pytest.fixture
def db(any_world_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")  # the small world lives in 2015
    stock_up(any_world_engine, "DC-SHA", SKU, 600)
    yield any_world_engine.url.render_as_string(hide_password=False)
    dispose_engines()


def test_alert_false_alarm_prints_triage_and_summary(db, any_world_engine):
    olga = key(any_world_engine, "olga", Role.VIEWER, Role.OPS)
    result = CliRunner().invoke(
        app,
        ["alert", "rain", "--city", "上海", "--mm", "5", "--hours", "24", "--db", db],
        env={"STOCKPILOT_API_KEY": olga},
    )
    assert result.exit_code == 0, result.output
    assert "light" in result.output and "No action taken" in result.output


def test_alert_refuses_an_unknown_city(db):
    result = CliRunner().invoke(
        app, ["alert", "rain", "--city", "Atlantis", "--mm", "60", "--db", db]
    )
    assert result.exit_code != 0
    assert "unknown city 'Atlantis'" in result.output


def test_chat_shows_a_proposal_and_takes_the_decision(db, any_world_engine):
    alice = key(any_world_engine, "alice", Role.VIEWER, Role.APPROVER)
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
    result = CliRunner().invoke(app, ["chat", "--api-key", alice, "--db", db], input=script)
    assert result.exit_code == 0, result.output
    assert "as alice (viewer, approver)" in result.output
    assert "available to promise" in result.output
    assert "Waiting for a decision" in result.output
    flat = " ".join(result.output.split())
    assert "approve / reject" in flat  # the decision prompt was shown and answered
    assert "dispatched (WMS-000001)" in flat


def key(engine: Engine, name: str, *roles: Role) -> str:
    with Session(engine) as session:
        secret = create_api_key(session, name, list(roles))
        session.commit()
    return secret


def test_the_cli_takes_identity_from_an_api_key_never_a_declared_role(db, any_world_engine):
    """No key → refused (outside demo mode); an unknown key → refused; an ops key may ask but
    not approve, whatever it says about itself."""
    ask = ["alert", "rain", "--city", "Shanghai", "--mm", "60", "--approve", "--db", db]
    nobody = CliRunner().invoke(app, ask)
    assert nobody.exit_code == 2 and "who are you?" in nobody.output
    forged = CliRunner().invoke(app, [*ask, "--api-key", "sp-made-up"])
    assert forged.exit_code == 2 and "unknown API key" in forged.output
    olga = key(any_world_engine, "olga-2", Role.VIEWER, Role.OPS)
    ops = CliRunner().invoke(app, [*ask, "--api-key", olga])
    assert ops.exit_code == 2 and "olga-2 may not approve" in ops.output
    legacy = CliRunner().invoke(app, ["chat", "--as", "mallory", "--role", "approver"])
    assert legacy.exit_code == 2 and "No such option" in legacy.output


def test_demo_mode_acts_as_the_public_demo_approver_and_says_so(db, any_world_engine):
    seed_demo_keys(any_world_engine)
    result = CliRunner().invoke(
        app,
        ["--demo", "alert", "rain", "--city", "上海", "--mm", "5", "--db", db],
    )
    assert result.exit_code == 0, result.output
    assert "demo mode: acting as demo-approver (a PUBLIC demo key)" in result.output
