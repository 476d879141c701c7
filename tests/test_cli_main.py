"""The console script imports only the command group it runs, and every group is reachable."""

from __future__ import annotations

import subprocess
import sys

from stockpilot_cli.main import COMMANDS, full_app, modules_for


def test_a_named_command_imports_only_its_module() -> None:
    assert modules_for(["stock", "--city", "Shanghai"]) == ["stockpilot_cli.stock"]
    assert modules_for(["--help"]) == list(dict.fromkeys(COMMANDS.values()))
    # Root options come before the command; a value of --clock is not a command name.
    assert modules_for(["--demo", "--clock", "world", "plan"]) == ["stockpilot_cli.plan"]
    assert modules_for(["--clock=wall", "serve"]) == ["stockpilot_cli.serve"]


def test_root_options_set_the_mode_for_this_invocation_only(monkeypatch) -> None:
    from typer.testing import CliRunner

    from inventory.config import get_settings

    monkeypatch.delenv("STOCKPILOT_DEMO", raising=False)
    monkeypatch.delenv("STOCKPILOT_CLOCK", raising=False)
    app = full_app()
    assert CliRunner().invoke(app, ["--demo", "--clock", "wall", "db", "--help"]).exit_code == 0
    assert (get_settings().demo, get_settings().clock_mode) == (True, "wall")
    assert CliRunner().invoke(app, ["db", "--help"]).exit_code == 0
    assert (get_settings().demo, get_settings().clock_mode) == (False, "wall")
    bad = CliRunner().invoke(app, ["--clock", "sundial", "db", "--help"])
    assert bad.exit_code == 2 and "use wall or world" in bad.output


def test_every_registered_command_is_in_the_table() -> None:
    app = full_app()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(COMMANDS)


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stockpilot_cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for name in COMMANDS:
        assert name in out


def test_a_single_loaded_command_still_runs_as_a_subcommand() -> None:
    """Typer collapses a one-command app into that command unless the app is a group."""
    out = subprocess.run(
        [sys.executable, "-m", "stockpilot_cli.main", "stock", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "--category" in out.stdout
