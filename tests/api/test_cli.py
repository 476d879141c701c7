"""``stockpilot api-key`` and the pool preparation of ``stockpilot serve``."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from api.auth import KeyStore
from inventory.config import Settings
from inventory.models import ApiKey
from stockpilot_cli.main import full_app
from stockpilot_cli.serve import prepare_pool

app = full_app()

runner = CliRunner()


def test_api_key_create_list_revoke(sqlite_engine, tmp_path: Path) -> None:
    db = str(sqlite_engine.url)
    created = runner.invoke(app, ["api-key", "create", "planner", "--role", "ops", "--db", db])
    assert created.exit_code == 0, created.output
    key = created.output.split(": ", 1)[1].split()[0]
    principal = KeyStore(sqlite_engine).resolve(key)
    assert principal is not None and principal.name == "planner"
    duplicate = runner.invoke(app, ["api-key", "create", "planner", "--role", "ops", "--db", db])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad_role = runner.invoke(app, ["api-key", "create", "x", "--role", "boss", "--db", db])
    assert bad_role.exit_code != 0
    listed = runner.invoke(app, ["api-key", "list", "--db", db])
    assert "planner" in listed.output and key not in listed.output
    assert runner.invoke(app, ["api-key", "revoke", "planner", "--db", db]).exit_code == 0
    assert KeyStore(sqlite_engine).resolve(key) is None


def test_prepare_pool_without_seed_only_migrates(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.sqlite'}", data_dir=tmp_path)
    engine = prepare_pool(settings, seed=False)
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).all() == []
    engine.dispose()


def test_prepare_pool_seeds_keys_into_an_existing_world(
    small_world_template: Path, tmp_path
) -> None:
    from inventory.demo_world import copy_world

    path = copy_world(small_world_template, tmp_path / "world.sqlite")
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=tmp_path)
    engine = prepare_pool(settings, seed=True)  # a world is there: nothing is rebuilt
    with Session(engine) as session:
        names = {row.name for row in session.exec(select(ApiKey)).all()}
    assert {"demo-viewer", "demo-approver", "demo-admin"} <= names
    engine.dispose()
