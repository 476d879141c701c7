"""``stockpilot outbox ...``: see what waits to be sent and drain it."""

from __future__ import annotations

import signal
import threading

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from agents.executor.dispatcher import Dispatcher
from connectors.base import ConnectorSet
from inventory.clock import pool_clock
from inventory.config import get_settings
from inventory.db import get_engine
from inventory.models import OutboxMessage, OutboxStatus

console = Console()
outbox_app = typer.Typer(
    help="Side effects waiting for the enterprise systems.", no_args_is_help=True
)


@outbox_app.command("list")
def list_messages(
    status: OutboxStatus | None = typer.Option(None, help="Only rows in this status."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """List outbox rows with their attempts, reference and last error."""
    stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    with Session(get_engine(db)) as session:
        messages = session.exec(stmt).all()
    table = Table("id", "key", "status", "attempts", "next attempt", "reference", "last error")
    for message in messages:
        table.add_row(
            str(message.id),
            message.idempotency_key,
            message.status,
            str(message.attempts),
            message.next_attempt_at.isoformat(timespec="seconds")
            if message.next_attempt_at
            else "",
            message.external_ref or "",
            (message.last_error or "")[:80],
        )
    console.print(table)


@outbox_app.command("dispatch")
def dispatch(
    watch: bool = typer.Option(False, help="Keep draining until interrupted."),
    interval: float = typer.Option(2.0, min=0.1, help="Seconds between rounds with --watch."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Send due outbox rows once (or keep doing it with --watch)."""
    settings = get_settings()
    with ConnectorSet.from_settings(settings) as connectors:
        engine = get_engine(db or settings.database_url)
        dispatcher = Dispatcher(
            engine, connectors, clock=pool_clock(engine, settings.clock_mode, ticking=watch)
        )
        if not watch:
            console.print_json(dispatcher.run_pending().model_dump_json())
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        console.print(f"{dispatcher.worker_id}: draining every {interval}s (Ctrl-C to stop)")
        try:
            dispatcher.run_forever(stop, poll_s=interval)
        except KeyboardInterrupt:
            stop.set()


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
