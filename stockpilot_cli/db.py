"""``stockpilot db ...``: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from inventory import schema
from inventory.db import get_engine

console = Console()
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Target revision."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Create or evolve the schema to REVISION."""
    engine = get_engine(db)
    schema.upgrade(engine, revision)
    console.print(f"schema at revision [bold]{schema.current_revision(engine)}[/] ({engine.url!r})")


@db_app.command("current")
def current(db: str | None = typer.Option(None, "--db", help="Database URL.")) -> None:
    """Print the schema revision of the database."""
    engine = get_engine(db)
    console.print(f"{schema.current_revision(engine)} (head {schema.head_revision()})")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
