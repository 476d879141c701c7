"""`stockpilot forecast fit | backtest` on a copy of the small demo world."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecasting.backtest import BacktestConfig, run_backtest
from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.synthetic import SyntheticSpec, synthetic_panel
from inventory.config import get_settings
from stockpilot_cli.forecast import render_report
from stockpilot_cli.main import full_app

app = full_app()

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # rich wraps an error at the terminal's width


@pytest.fixture
def world_db(small_world_template: Path, tmp_path: Path, monkeypatch) -> Iterator[str]:
    path = tmp_path / "world.sqlite"
    shutil.copy(small_world_template, path)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")  # the small world lives in 2015
    get_settings.cache_clear()
    yield f"sqlite:///{path}"
    get_settings.cache_clear()


def test_fit_stores_a_versioned_artefact(world_db: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["forecast", "fit", "--db", world_db, "--no-select", "--model", "weekday_profile"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "weekday_profile@2015-06-30" in result.output
    (meta_file,) = (tmp_path / "data" / "models").glob("forecast-sku-*.json")
    meta = json.loads(meta_file.read_text())
    assert meta["data_end"] == "2015-06-30" and meta["model"] == "weekday_profile"
    assert "rmsse" in meta["backtest"]


def test_fit_refuses_an_unknown_model(world_db: str) -> None:
    result = runner.invoke(
        app, ["forecast", "fit", "--db", world_db, "--no-select", "--model", "x"]
    )
    assert result.exit_code != 0
    assert "unknown model 'x'" in result.output


def test_backtest_table_names_models_segments_and_winner() -> None:
    panel = synthetic_panel(SyntheticSpec(series=200, days=150, seed=3))
    report = run_backtest(
        panel,
        {"weekday_profile": WeekdayProfile, "seasonal_naive": SeasonalNaive},
        BacktestConfig(horizon=7, folds=2),
    )
    table = render_report(report)
    assert table.row_count == len(report.results)
    assert f"best: {report.best_model}" in str(table.title)
    assert json.loads(report.model_dump_json())["best_model"] == report.best_model


@pytest.mark.parametrize(
    ("options", "needs"),
    [
        (
            [],
            "backtesting 2 folds of 14 days and fitting the sku-level forecaster needs at least 77",
        ),
        (["--no-select"], "fitting the sku-level forecaster (rain_uplift) needs at least 63"),
    ],
)
def test_fit_on_too_short_a_history_exits_non_zero_saying_how_much_is_needed(
    world_db: str, options: list[str], needs: str
) -> None:
    """The same words as the service's 422 (POST /v1/jobs/forecast-fit), before any backtest or
    fit starts; the default fit backtests first, which needs the longer history."""
    from sqlalchemy import create_engine, text

    engine = create_engine(world_db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM daily_sales WHERE date < '2015-05-22'"))
    engine.dispose()
    result = runner.invoke(app, ["forecast", "fit", "--db", world_db, *options], env=WIDE)
    assert result.exit_code != 0
    said = " ".join(result.output.replace("│", " ").split())
    assert f"the pool has 40 days of sales history before 2015-07-01; {needs}" in said


def test_fit_on_a_pool_without_sales_exits_non_zero_saying_there_is_nothing_to_fit(
    world_db: str,
) -> None:
    """The same words as the service's 422 (POST /v1/jobs/forecast-fit)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(world_db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM daily_sales"))
    engine.dispose()
    result = runner.invoke(app, ["forecast", "fit", "--db", world_db], env=WIDE)
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())
    assert "the pool has no sales history before 2015-07-01: there is nothing to fit" in said
