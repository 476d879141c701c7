"""``stockpilot api-key ...``: create, list and revoke the service's API keys."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from api.auth import Role, create_api_key
from inventory import schema
from inventory.db import get_engine
from inventory.models import ApiKey

console = Console()
keys_app = typer.Typer(help="API keys of the service (stored hashed).", no_args_is_help=True)


@keys_app.command("create")
def create(
    name: str = typer.Argument(..., help="Who the key is for, e.g. store-ops-sha."),
    role: list[Role] = typer.Option(
        ..., "--role", help="viewer | ops | approver | admin | channel."
    ),
    channel: str | None = typer.Option(
        None, "--channel", help="With --role channel: the channel code, e.g. tmall."
    ),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Create a key; it is shown once and only its hash is kept (the first one: --role admin)."""
    engine = get_engine(db)
    schema.upgrade(engine)  # the first key may come before the first `serve` of a new pool
    with Session(engine) as session:
        try:
            key = create_api_key(session, name, role, channel=channel)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="NAME") from exc
        session.commit()
    bound = f" for channel {channel}" if channel else ""
    typer.echo(f"{name} ({', '.join(role)}{bound}): {key}")
    typer.echo("store the key now: only its hash is kept")


@keys_app.command("list")
def list_keys(db: str | None = typer.Option(None, "--db", help="Database URL.")) -> None:
    """Names and roles of the keys (never the keys)."""
    with Session(get_engine(db)) as session:
        rows = session.exec(select(ApiKey).order_by(ApiKey.name)).all()
    table = Table("name", "roles", "channel", "created")
    for row in rows:
        table.add_row(
            row.name, ", ".join(row.roles), row.channel or "", f"{row.created_at:%Y-%m-%d %H:%M}"
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The key's name, e.g. demo-admin."),
    db: str | None = typer.Option(None, "--db", help="Database URL."),
) -> None:
    """Delete a key; running services refuse it from their next request (no cache)."""
    with Session(get_engine(db)) as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == name)).first()
        if row is None:
            raise typer.BadParameter(f"no API key named {name!r}", param_hint="NAME")
        session.delete(row)
        session.commit()
    console.print(f"revoked {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="api-key")
