"""``stockpilot outbox ...``: see what waits to be sent (and what keeps failing), drain it,
re-send or cancel a row."""

from __future__ import annotations

import getpass
import signal
import threading

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from agents.executor import outbox_ops
from agents.executor.dispatcher import Dispatcher, DispatchSettings, stop_dispatcher
from connectors.base import ConnectorSet
from inventory.clock import pool_clock
from inventory.config import Settings, get_settings
from inventory.db import get_engine
from inventory.models import OutboxStatus

console = Console()
outbox_app = typer.Typer(
    help="Side effects waiting for the enterprise systems.", no_args_is_help=True
)


def _settings(db: str | None) -> Settings:
    return get_settings() if db is None else Settings(database_url=db)


@outbox_app.command("list")
def list_messages(
    status: OutboxStatus | None = typer.Option(None, help="Only rows in this status."),
    alerting: bool = typer.Option(False, "--alerting", help="Only rows that keep failing."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """List outbox rows with their attempts, reference and last error (newest first)."""
    settings = DispatchSettings.from_settings(_settings(db))
    query = outbox_ops.entries_query(settings, status=status, alerting=alerting or None)
    with Session(get_engine(_settings(db).database_url)) as session:
        entries = [outbox_ops.OutboxEntry.of(row, settings) for row in session.exec(query)]
    table = Table("id", "key", "status", "attempts", "next attempt", "reference", "last error")
    for entry in entries:
        table.add_row(
            str(entry.id),
            entry.idempotency_key,
            f"[red]{entry.status} (alert)[/]" if entry.alerting else entry.status,
            str(entry.attempts),
            entry.next_attempt_at.isoformat(timespec="seconds") if entry.next_attempt_at else "",
            entry.external_ref or "",
            (entry.last_error or "")[:80],
        )
    console.print(table)


def _act(db: str | None, action: str, outbox_id: int, **kwargs: str) -> None:
    settings = _settings(db)
    engine = get_engine(settings.database_url)
    runtime_clock = pool_clock(engine, settings.clock_mode)
    act = outbox_ops.requeue_message if action == "requeue" else outbox_ops.cancel_message
    try:
        entry = act(  # type: ignore[operator]
            engine,
            outbox_id,
            by=f"cli:{getpass.getuser()}",
            at=runtime_clock(),
            settings=DispatchSettings.from_settings(settings),
            **kwargs,
        )
    except (outbox_ops.OutboxNotFound, outbox_ops.OutboxConflict) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print_json(entry.model_dump_json())


@outbox_app.command("requeue")
def requeue(
    outbox_id: int = typer.Argument(..., help="The row's id (see `stockpilot outbox list`)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Send a pending, failed or dead-lettered row again now, under the same idempotency key.

    A parcel cancellation puts its online order back to cancelling; refused (exit 1, nothing
    changed) once that order moved on: cancelled, or the parcel shipped or was withdrawn."""
    _act(db, "requeue", outbox_id)


@outbox_app.command("cancel")
def cancel(
    outbox_id: int = typer.Argument(..., help="The row's id (see `stockpilot outbox list`)."),
    reason: str = typer.Option(..., "--reason", help="Why it will not be sent (audited)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Give up on a row that was not delivered; its approved transfer order is cancelled."""
    _act(db, "cancel", outbox_id, reason=reason)


@outbox_app.command("dispatch")
def dispatch(
    watch: bool = typer.Option(False, help="Keep draining until interrupted."),
    interval: float = typer.Option(2.0, min=0.1, help="Seconds between rounds with --watch."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Send due outbox rows once (or keep doing it with --watch)."""
    settings = _settings(db)
    engine = get_engine(settings.database_url)
    with ConnectorSet.from_settings(settings) as connectors:
        dispatcher = Dispatcher(
            engine,
            connectors,
            clock=pool_clock(engine, settings.clock_mode, ticking=watch),
            settings=DispatchSettings.from_settings(settings),
        )
        if not watch:
            console.print_json(dispatcher.run_pending().model_dump_json())
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop_dispatcher(stop))
        console.print(f"{dispatcher.worker_id}: draining every {interval}s (Ctrl-C to stop)")
        try:
            dispatcher.run_forever(stop, poll_s=interval)
        except KeyboardInterrupt:
            stop.set()


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
