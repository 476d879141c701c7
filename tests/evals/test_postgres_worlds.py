"""The eval harness on PostgreSQL: shipped scenarios give the same verdicts and KPIs on a
Postgres pool (checkpoints in Postgres too, as ``serve`` opens them) as on SQLite files.

Four representative scenarios, three of them on one cached template: a chat plan through the
policy gate (ops_chat), an alert plan above the auto-approve limits that waits for a scripted
human approval (no shipped chat scenario asks one), a rain alert the agent should act on, and a
false alarm (the control).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from evals.results import SuiteResult
from evals.runner import RunOptions, run_suite
from evals.scenario import load_scenarios
from evals.world import PostgresWorlds, build_world
from inventory.models import StockPosition

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"
CHOSEN = (
    "chat-plan-rain-zh",
    "approval-approved",
    "rain-shanghai-rainstorm",
    "false-alarm-chengdu",
)
#: A hang guard, not a budget: a cold cache builds two worlds and fits their forecasters first.
TIMEOUT_S = 1800


def _eval_databases(admin_url: str) -> set[str]:
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'sp_eval%'")
            )
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def _by_id(result: SuiteResult) -> dict[str, tuple[bool, dict[str, float | None]]]:
    return {s.id: (s.passed, s.trials[0].kpis) for s in result.scenarios}


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT_S)
def test_shipped_scenarios_score_the_same_on_postgres_and_sqlite(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    scenarios = [s for s in load_scenarios(SCENARIOS) if s.id in CHOSEN]
    assert sorted(s.id for s in scenarios) == sorted(CHOSEN)
    before = _eval_databases(postgres_admin_url)

    on_sqlite = run_suite(scenarios, RunOptions(workdir=tmp_path / "sqlite", llm="auto"))
    on_postgres = run_suite(
        scenarios,
        RunOptions(workdir=tmp_path / "pg", llm="auto", database_url=postgres_admin_url),
    )

    # Each trial really ran on PostgreSQL (its world's URL is kept beside it), and the harness
    # dropped every database it made.
    urls = [p.read_text().strip() for p in (tmp_path / "pg").glob("*/pool.url")]
    assert urls and all(u.startswith("postgresql") for u in urls)
    assert not list((tmp_path / "pg").glob("*/pool.sqlite"))
    assert _eval_databases(postgres_admin_url) == before

    sqlite, postgres = _by_id(on_sqlite), _by_id(on_postgres)
    for scenario_id in CHOSEN:
        passed, kpis = sqlite[scenario_id]
        pg_passed, pg_kpis = postgres[scenario_id]
        pg_trial = next(s for s in on_postgres.scenarios if s.id == scenario_id).trials[0]
        assert pg_passed == passed, (scenario_id, pg_trial.failure_reasons)
        assert pg_kpis.keys() == kpis.keys(), scenario_id
        for name, value in kpis.items():
            if value is None:
                assert pg_kpis[name] is None, (scenario_id, name)
            else:
                assert pg_kpis[name] == pytest.approx(value, rel=1e-6, abs=1e-6), (
                    scenario_id,
                    name,
                )
    # Not an empty comparison: a human was asked and approved, and the rain alert moved stock.
    assert sqlite["approval-approved"][0] is True
    assert sqlite["approval-approved"][1]["approvals_requested"] >= 1
    assert (sqlite["rain-shanghai-rainstorm"][1].get("units_transferred") or 0) > 0
    harness_errors = [
        c.detail
        for s in on_postgres.scenarios
        for c in s.trials[0].checks
        if c.name in {"harness", "world setup"}
    ]
    assert not harness_errors


@pytest.mark.postgres
def test_a_postgres_world_holds_the_template_with_the_overrides_and_is_dropped(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    scenario = next(s for s in load_scenarios(SCENARIOS) if s.id == "rain-shanghai-rainstorm")
    sqlite_world = build_world(scenario, tmp_path / "sqlite")
    worlds = PostgresWorlds(postgres_admin_url)
    try:
        pg_world = build_world(scenario, tmp_path / "pg", postgres=worlds)
        try:
            assert pg_world.engine.dialect.name == "postgresql"
            assert pg_world.settings.database_url.startswith("postgresql")

            def stock(world_engine: sa.Engine) -> list[tuple[str, str, int, int]]:
                with world_engine.connect() as conn:
                    table = StockPosition.__table__  # type: ignore[attr-defined]
                    rows = conn.execute(
                        sa.select(
                            table.c.location_code,
                            table.c.sku_code,
                            table.c.on_hand,
                            table.c.reserved,
                        )
                    )
                    return sorted(tuple(r) for r in rows)

            assert stock(pg_world.engine) == stock(sqlite_world.engine)
            pg_name = pg_world.engine.url.database
        finally:
            pg_world.dispose()
            sqlite_world.dispose()
        assert pg_name not in _eval_databases(postgres_admin_url)
    finally:
        worlds.close()


def test_run_options_refuse_a_non_postgres_database_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        RunOptions(workdir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite'}")


def test_eval_run_refuses_a_non_postgres_db_url_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stockpilot_cli.main import full_app

    result = CliRunner().invoke(
        full_app(),
        ["eval", "run", str(SCENARIOS / "dry-day-beijing.yaml"), "--db-url", "sqlite:///x.db"],
    )
    assert result.exit_code == 2, result.output
    assert "--db-url" in result.output
