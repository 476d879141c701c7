"""``stockpilot mcp``: the read tools as an MCP server over stdio, for desktop agents.

The desktop agent starts this command; the caller is the API key in ``STOCKPILOT_API_KEY`` (or
``--api-key``), with its roles, exactly as over HTTP at ``/mcp``.
"""

from __future__ import annotations

import os

import typer


def mcp(
    api_key: str | None = typer.Option(
        None, "--api-key", help="API key of the caller (default: $STOCKPILOT_API_KEY)."
    ),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Serve the read tools (stock, forecast, transfer plan and markdown dry runs) over stdio."""
    from api.auth import KeyStore
    from api.mcp_tools import build_mcp_server, current_principal
    from inventory.config import get_settings
    from inventory.db import get_engine
    from tools.context import ToolContext

    settings = get_settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    key = api_key or os.environ.get("STOCKPILOT_API_KEY")
    if not key:
        typer.echo("an API key is needed: --api-key or STOCKPILOT_API_KEY", err=True)
        raise typer.Exit(2)
    engine = get_engine(settings.database_url)
    principal = KeyStore(engine).resolve(key)
    if principal is None:
        typer.echo("unknown API key", err=True)
        raise typer.Exit(2)
    current_principal.set(principal)
    build_mcp_server(lambda: ToolContext.for_world(engine, settings)).run("stdio")


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)
