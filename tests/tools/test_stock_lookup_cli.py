"""`stockpilot stock`: a rich table, JSON on request, exit code 2 on unknown codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inventory import schema
from inventory.db import make_engine, session_scope
from stockpilot_cli.main import full_app
from tests.utils import factories

app = full_app()

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")  # the pool's clock is set in 2015
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with session_scope(engine) as session:
        factories.add_location(session, "SHA-S01")
        skus = factories.add_skus(session, factories.add_style(session, "RB001"))
        factories.add_position(session, "SHA-S01", skus[2].code, on_hand=12, safety=2)
        factories.set_clock(session, dt.datetime(2015, 7, 1, 9))
    engine.dispose()
    return url


def test_table_lists_positions(db: str) -> None:
    result = runner.invoke(
        app,
        ["stock", "--city", "Shanghai", "--category", "rain_boots", "--db", db],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "RB001-BLK-38" in result.output and "SHA-S01" in result.output
    assert "2015-07-01T09:00:00+00:00" in result.output


def test_json_output_is_the_tool_output(db: str) -> None:
    result = runner.invoke(app, ["stock", "--city", "上海", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["positions"][0]["atp"] == 10
    assert payload["totals"]["on_hand"] == 12


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--city", "Atlantis"], "Atlantis"),
        (["--category", "rainbots"], "rain_boots"),
        (["--location", "SHA-S99"], "SHA-S99"),
        (["--window", "3"], "cover_window_days"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(db: str, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["stock", *args, "--db", db])
    assert result.exit_code == 2
    assert named in result.output


def test_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stock", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}"])
    assert result.exit_code == 1
    assert "stockpilot db upgrade" in result.output
