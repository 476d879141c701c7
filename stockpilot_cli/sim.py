"""``stockpilot sim ...``: run the simulated enterprise systems on their own, and look inside."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from connectors.base import SIMULATED_STATE_FILE, ConnectorSet
from connectors.errors import ConnectorError
from connectors.simulated.app import create_app
from connectors.simulated.feedback import FeedbackEmitter
from connectors.simulated.state import SimulatedState
from inventory.config import get_settings

console = Console()
sim_app = typer.Typer(help="Simulated WMS / OMS / pricing / notify systems.", no_args_is_help=True)


@sim_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8100, help="Port to listen on."),
    state: Path | None = typer.Option(
        None, help="SQLite state file (default: <data_dir>/simulated_systems.sqlite)."
    ),
) -> None:
    """Serve the simulated systems; point STOCKPILOT_WMS_URL (etc.) at http://HOST:PORT."""
    state_path = state or get_settings().data_dir / SIMULATED_STATE_FILE
    console.print(f"simulated systems on http://{host}:{port} (state {state_path})")
    systems = SimulatedState(state_path)
    emitter = FeedbackEmitter(systems).start()  # reports to a subscriber, once one registers
    try:
        uvicorn.run(create_app(systems), host=host, port=port, log_level="info")
    finally:
        emitter.stop()


@sim_app.command("orders")
def list_orders(
    url: str | None = typer.Option(
        None, help="Simulated systems URL (default: the embedded ones of the settings)."
    ),
) -> None:
    """List the transfer orders that arrived at the (simulated) WMS."""
    connectors = ConnectorSet.at(url) if url else ConnectorSet.from_settings(get_settings())
    with connectors:
        try:
            records = connectors.wms.list_transfer_orders()
        except ConnectorError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from error
    table = Table("reference", "order", "source → dest", "units", "received at")
    for record in records:
        order = record.order
        units = sum(line.qty for line in order.lines)
        table.add_row(
            record.reference,
            order.order_id,
            f"{order.source} → {order.dest}",
            str(units),
            record.received_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
