"""``stockpilot demo-world``: build the seeded demo retailer into the configured pool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

from inventory import schema
from inventory.config import DEMO_DATABASE_FILE, get_settings
from inventory.db import dispose_engines, get_engine, normalise_url
from inventory.demo_world import WorldSpec, WorldSummary, build_world
from inventory.demo_world.vocabulary import CITY_REGION
from inventory.models import Location, WorldMeta

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _existing_world(engine: Engine) -> tuple[int, dict | None]:
    with engine.connect() as conn:
        locations = conn.execute(select(func.count()).select_from(Location.__table__)).scalar_one()
        meta = conn.execute(
            select(WorldMeta.__table__.c.value).where(WorldMeta.__table__.c.key == "world")
        ).scalar_one_or_none()
    return int(locations), meta


def demo_database_url() -> str:
    """Demo worlds go to the demo pool (var/demo.sqlite), never the real default pool."""
    settings = get_settings()
    if settings.demo:
        return settings.database_url
    return f"sqlite:///{settings.data_dir / DEMO_DATABASE_FILE}"


def _remove_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _print_summary(summary: WorldSummary) -> None:
    console.print(f"demo world written to [bold]{summary.database}[/]")
    size = f"{summary.size_bytes / 1e6:.1f} MB" if summary.size_bytes else "unknown size"
    console.print(
        f"seed {summary.seed}, clock {summary.now.isoformat()}, {size}; "
        f"generate {summary.seconds['generate']:.1f} s, write {summary.seconds['write']:.1f} s, "
        f"total {summary.seconds['total']:.1f} s"
    )
    table = Table("table", "rows", title="rows written")
    for name, rows in summary.counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"history: {summary.demand_units:,} units demanded, {summary.sold_units:,} sold; "
        f"{summary.stockout_rate:.1%} of carried series-days out of stock; "
        f"{summary.in_transit_units:,} units in transit now"
    )


def demo_world(
    seed: int = typer.Option(7, "--seed", help="Random seed; same seed, same world."),
    stores: int = typer.Option(40, "--stores", help="Number of stores."),
    styles: int = typer.Option(80, "--styles", help="Number of styles."),
    now: str = typer.Option("2015-07-01T09:00:00", "--now", help="World clock, ISO local time."),
    history_days: int = typer.Option(730, "--history-days", help="Days of sales history."),
    future_days: int = typer.Option(28, "--future-days", help="Days of future demand."),
    cities: str = typer.Option(
        ",".join(CITY_REGION), "--cities", help="Comma-separated cities with stores."
    ),
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: the demo pool, var/demo.sqlite)."
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Delete an existing SQLite database first (SQLite only)."
    ),
) -> None:
    """Generate the demo retailer (stores, catalog, 2 years of rain-driven sales) into a pool."""
    try:
        spec = WorldSpec(
            seed=seed,
            stores=stores,
            styles=styles,
            now=dt.datetime.fromisoformat(now),
            history_days=history_days,
            future_days=future_days,
            cities=tuple(c for c in cities.split(",") if c.strip()),
        )
        spec.check_weather_window()
    except (ValidationError, ValueError) as exc:
        err_console.print(f"[red]invalid world spec:[/] {exc}")
        raise typer.Exit(2) from exc

    engine = get_engine(db or demo_database_url())
    url = normalise_url(str(engine.url.render_as_string(hide_password=False)))
    if fresh:
        if engine.dialect.name != "sqlite":
            err_console.print("[red]--fresh only deletes SQLite files; drop the database yourself")
            raise typer.Exit(2)
        dispose_engines()
        _remove_sqlite_file(url)
        engine = get_engine(url)
    schema.upgrade(engine)
    locations, meta = _existing_world(engine)
    if locations:
        if meta and meta.get("spec") == spec.model_dump(mode="json"):
            console.print(
                f"demo world (seed {seed}) already in {engine.url.render_as_string()}; "
                "nothing to do"
            )
            return
        err_console.print(
            f"[red]{engine.url.render_as_string()} already holds a different world "
            f"({locations} locations)[/]; pass --fresh (SQLite) or choose another --db"
        )
        raise typer.Exit(2)
    _print_summary(build_world(engine, spec))


def register(app: typer.Typer) -> None:
    app.command("demo-world")(demo_world)
