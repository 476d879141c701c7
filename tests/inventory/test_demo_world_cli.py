"""``stockpilot demo-world``: builds, says where, is idempotent, and refuses bad specs clearly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockpilot_cli.main import full_app

app = full_app()

runner = CliRunner()
TINY = ["--stores", "3", "--styles", "4", "--history-days", "30", "--cities", "Chengdu"]


def test_demo_world_builds_then_is_idempotent(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    first = runner.invoke(app, ["demo-world", *TINY, "--db", db])
    assert first.exit_code == 0, first.output
    assert "demo.sqlite" in first.output
    assert "daily_sales" in first.output
    again = runner.invoke(app, ["demo-world", *TINY, "--db", db])
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output


def test_a_different_world_needs_fresh(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert runner.invoke(app, ["demo-world", *TINY, "--db", db]).exit_code == 0
    refused = runner.invoke(app, ["demo-world", *TINY, "--seed", "8", "--db", db])
    assert refused.exit_code == 2
    assert "different world" in refused.output
    rebuilt = runner.invoke(app, ["demo-world", *TINY, "--seed", "8", "--db", db, "--fresh"])
    assert rebuilt.exit_code == 0, rebuilt.output


def test_dates_outside_the_weather_record_are_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    result = runner.invoke(app, ["demo-world", "--now", "2010-02-01T09:00:00", "--db", db])
    assert result.exit_code == 2
    assert "2010-01-01 to 2015-12-31" in result.output
