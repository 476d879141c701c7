"""``stockpilot import KIND FILE.csv``: load master data, counted stock or sales history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from inventory.clock import pool_clock
from inventory.config import get_settings
from inventory.db import get_engine
from inventory.importers import DATED_KINDS, ImportKind, ImportRejected, import_file

#: A rejected file: its errors are printed, nothing was written.
EXIT_REJECTED = 1
MAX_ERRORS_SHOWN = 200


def import_command(
    kind: ImportKind = typer.Argument(..., help="What the file holds (import in this order)."),
    file: Path = typer.Argument(..., help="CSV file, UTF-8, header row first."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
    actor: str = typer.Option("import", help="Who is importing, recorded on stock movements."),
    shift_to: str | None = typer.Option(
        None,
        "--shift-to",
        help="sales/weather only: move every date by one offset so the file's last date is "
        "this day (ISO date, or 'yesterday' on the pool's clock). Give sales and weather the "
        "same value.",
    ),
) -> None:
    """Import a CSV file whole, or reject it whole with every row error (see docs/importers.md)."""
    console, errors = Console(), Console(stderr=True, highlight=False)
    engine = get_engine(db)
    target = _shift_target(engine, kind, shift_to)
    try:
        report = import_file(engine, kind, file, actor=actor, shift_to=target)
    except ImportRejected as rejected:
        errors.print(
            f"[red]rejected[/] {file}: {len(rejected.errors)} error(s), nothing was written",
        )
        for error in rejected.errors[:MAX_ERRORS_SHOWN]:
            errors.print(f"  {error}", markup=False)
        if len(rejected.errors) > MAX_ERRORS_SHOWN:
            errors.print(f"  … and {len(rejected.errors) - MAX_ERRORS_SHOWN} more")
        raise typer.Exit(EXIT_REJECTED) from rejected
    except DBAPIError as error:
        errors.print(
            f"[red]error:[/] cannot write to the pool at {engine.url!r}: {error.orig or error}; "
            "run `stockpilot db upgrade` first"
        )
        raise typer.Exit(1) from error
    console.print(
        f"imported {report.rows} {report.kind} row(s) from {file}: "
        f"{report.inserted} new, {report.updated} updated, {report.unchanged} unchanged"
        + (f", {report.movements} stock movement(s)" if report.kind == "stock" else "")
    )


def _shift_target(engine: Engine, kind: ImportKind, value: str | None) -> dt.date | None:
    if value is None:
        return None
    if kind not in DATED_KINDS:
        raise typer.BadParameter(
            f"only {', '.join(sorted(DATED_KINDS))} files have dates to shift",
            param_hint="--shift-to",
        )
    if value.strip().lower() == "yesterday":
        return yesterday(engine)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as error:
        raise typer.BadParameter(
            f"{value!r} is neither an ISO date nor 'yesterday'", param_hint="--shift-to"
        ) from error


def yesterday(engine: Engine) -> dt.date:
    """The day before today on the pool's clock (the wall clock outside demo mode)."""
    settings = get_settings()
    return (pool_clock(engine, settings.clock_mode)() - dt.timedelta(days=1)).date()


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
