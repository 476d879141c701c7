"""``stockpilot forecast ...``: backtest the demand models and fit the production forecaster."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.engine import Engine

from forecasting.backtest import BacktestConfig, BacktestReport
from inventory.config import get_settings
from inventory.db import get_engine
from tools.context import ToolContext, ToolError
from tools.forecast_demand.fitting import (
    PRODUCTION_MODEL,
    backtest_pool,
    candidate_models,
    check_fit_history,
    fit_pool_model,
)

console = Console()
forecast_app = typer.Typer(help="Demand forecasting: backtest, fit.", no_args_is_help=True)

TABLE_METRICS = (
    "rmsse",
    "mase",
    "bias",
    "pinball",
    "coverage",
    "calibration_gap",
    "group_day_rmse",  # wet days only: error of city × category daily totals
)


def _fmt(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3f}"


def render_report(report: BacktestReport) -> Table:
    table = Table(
        title=f"Backtest · {report.series} series · folds from {', '.join(report.origins)} · "
        f"{report.config.horizon} days · best: {report.best_model}"
    )
    table.add_column("model", no_wrap=True)
    table.add_column("segment", no_wrap=True)
    for metric in TABLE_METRICS:
        table.add_column(metric, justify="right")
    for row in sorted(report.results, key=lambda r: (r.segment != "all", r.segment, r.model)):
        style = "bold green" if row.model == report.best_model and row.segment == "all" else None
        table.add_row(
            row.model,
            row.segment,
            *(_fmt(row.metrics.get(m)) for m in TABLE_METRICS),
            style=style,
        )
    return table


@forecast_app.command("backtest")
def backtest(
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
    level: str = typer.Option("sku", help="sku | style."),
    horizon: int = typer.Option(14, min=1, max=28, help="Days per fold."),
    folds: int = typer.Option(3, min=1, max=52, help="Expanding-window folds."),
    per_series: bool = typer.Option(
        False, help="Also run per-series AutoETS / Theta / sktime naive (slow at scale)."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Where to write the JSON report (default: data_dir/reports)."
    ),
) -> None:
    """Score every candidate model by expanding-window backtest; print a table and write JSON."""
    engine = get_engine(db)
    ctx = _context(engine)
    report = backtest_pool(
        engine,
        ctx.today,
        level=level,
        config=BacktestConfig(horizon=horizon, folds=folds),
        models=candidate_models(per_series=per_series),
    )
    console.print(render_report(report))
    path = json_path or get_settings().data_dir / "reports" / f"forecast-backtest-{level}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.model_dump(mode="json"), indent=2, allow_nan=True))
    console.print(f"report written to [bold]{path}[/]")


@forecast_app.command("fit")
def fit(
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
    level: str = typer.Option("sku", help="sku | style."),
    select: bool = typer.Option(
        True, help="Choose the model by a backtest first (else fit --model directly)."
    ),
    model: str = typer.Option("rain_uplift", help="Model to fit with --no-select."),
    folds: int = typer.Option(2, min=1, max=52, help="Backtest folds when selecting."),
) -> None:
    """Fit the production forecaster on the pool up to its clock and store it with its version.

    A running service loads the stored model on its next forecast (until then it answers from
    the labelled baseline); the service can also fit in the background: POST /v1/jobs/forecast-fit.
    """
    engine = get_engine(db)
    ctx = _context(engine)
    config = BacktestConfig(horizon=14, folds=folds)
    try:  # before the backtest and the fit: either would fail on it, minutes later
        check_fit_history(
            engine,
            ctx.today,
            level=level,
            model=PRODUCTION_MODEL if select else model,  # selecting picks a rain_uplift
            backtest=config if select else None,
        )
    except ToolError as error:
        raise typer.BadParameter(str(error)) from error
    report = None
    with fit_progress() as (progress, task):
        if select:
            progress.update(task, description=f"backtesting candidate models ({folds} folds)")
            report = backtest_pool(engine, ctx.today, level=level, config=config)
            progress.update(task, completed=10)

        def advance(fraction: float, message: str) -> None:
            done = 10 + 90 * fraction if select else 100 * fraction
            progress.update(task, completed=done, description=message)

        try:
            artefact = fit_pool_model(
                engine,
                ctx.today,
                get_settings().data_dir / "models",
                level=level,
                model=model,
                backtest=report,
                progress=advance,
            )
        except ToolError as error:
            raise typer.BadParameter(str(error)) from error
    if report is not None:
        console.print(render_report(report))
    meta = artefact.meta
    console.print(
        f"fitted [bold]{meta.label}[/] on {meta.series} series, data {meta.data_start}.."
        f"{meta.data_end}; {meta.selected_by}; rmsse {_fmt(meta.backtest.get('rmsse'))}"
    )


@contextmanager
def fit_progress() -> Iterator[tuple[Progress, TaskID]]:
    """A progress bar with what the fit is doing and how long it has run (stderr, so --json
    style output on stdout stays clean)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        yield progress, progress.add_task("starting", total=100)


def _context(engine: Engine) -> ToolContext:
    try:
        return ToolContext.for_pool(engine)
    except ToolError as error:
        raise typer.BadParameter(str(error)) from error


def register(app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")
