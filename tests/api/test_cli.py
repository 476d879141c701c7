"""``stockpilot api-key``: create, list, revoke (serve is in test_serve.py), on SQLite and
PostgreSQL (one pool per backend for the module; each test makes keys of its own names)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.auth import KeyStore
from stockpilot_cli.main import full_app

app = full_app()

runner = CliRunner()


def test_api_key_create_list_revoke(any_module_engine, tmp_path: Path) -> None:
    db = any_module_engine.url.render_as_string(hide_password=False)
    created = runner.invoke(app, ["api-key", "create", "planner", "--role", "ops", "--db", db])
    assert created.exit_code == 0, created.output
    key = created.output.split(": ", 1)[1].split()[0]
    principal = KeyStore(any_module_engine).resolve(key)
    assert principal is not None and principal.name == "planner"
    duplicate = runner.invoke(app, ["api-key", "create", "planner", "--role", "ops", "--db", db])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad_role = runner.invoke(app, ["api-key", "create", "x", "--role", "boss", "--db", db])
    assert bad_role.exit_code != 0
    listed = runner.invoke(app, ["api-key", "list", "--db", db])
    assert "planner" in listed.output and key not in listed.output
    assert runner.invoke(app, ["api-key", "revoke", "planner", "--db", db]).exit_code == 0
    assert KeyStore(any_module_engine).resolve(key) is None


def test_a_channel_key_is_bound_to_one_channel(any_module_engine, tmp_path: Path) -> None:
    db = any_module_engine.url.render_as_string(hide_password=False)
    create = ["api-key", "create", "tmall-shop", "--role", "channel", "--db", db]
    unbound = runner.invoke(app, create)
    assert unbound.exit_code != 0 and "needs --channel" in unbound.output
    bad_code = runner.invoke(app, [*create, "--channel", "Tmall Shop"])
    assert bad_code.exit_code != 0 and "must match" in bad_code.output
    mixed = runner.invoke(app, [*create, "--role", "ops", "--channel", "tmall"])
    assert mixed.exit_code != 0 and "cannot be combined" in mixed.output
    created = runner.invoke(app, [*create, "--channel", "tmall"])
    assert created.exit_code == 0, created.output
    assert "for channel tmall" in created.output
    key = created.output.split(": ", 1)[1].split()[0]
    principal = KeyStore(any_module_engine).resolve(key)
    assert principal is not None and (principal.channel, principal.roles) == ("tmall", ["channel"])
    staff = runner.invoke(
        app, ["api-key", "create", "ops-x", "--role", "ops", "--channel", "tmall", "--db", db]
    )
    assert staff.exit_code != 0
