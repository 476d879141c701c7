"""``stockpilot stock``: the stock_lookup tool as a table for ops users (or JSON for scripts)."""

from __future__ import annotations

import datetime as dt

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from inventory.clock import as_utc
from inventory.db import get_engine
from tools.context import ToolContext, ToolError
from tools.stock_lookup.models import StockLookupInput, StockLookupOutput
from tools.stock_lookup.tool import stock_lookup

#: Exit code for input the pool does not know (an unknown code, city, category...).
EXIT_BAD_INPUT = 2


def _table(result: StockLookupOutput) -> Table:
    table = Table(title=f"Stock as of {result.as_of}", show_footer=True)
    totals = result.totals
    columns: list[tuple[str, str]] = [
        ("Location", f"{totals.positions} positions"),
        ("City", ""),
        ("SKU", ""),
        ("Size", ""),
        ("On hand", str(totals.on_hand)),
        ("Reserved", str(totals.reserved)),
        ("Safety", ""),
        ("ATP", str(totals.atp)),
        ("In transit in", str(totals.in_transit_in)),
        ("In transit out", str(totals.in_transit_out)),
        ("Sold/day", ""),
        ("Days of cover", ""),
    ]
    for index, (header, footer) in enumerate(columns):
        table.add_column(
            header, footer=footer, justify="right" if index >= 4 else "left", no_wrap=index < 4
        )
    for p in result.positions:
        cover = "—" if p.days_of_cover is None else f"{p.days_of_cover:.1f}"
        atp = f"[red]{p.atp}[/]" if p.atp == 0 else str(p.atp)
        table.add_row(
            p.location,
            p.city,
            p.sku,
            p.size,
            str(p.on_hand),
            str(p.reserved),
            str(p.safety),
            atp,
            str(p.in_transit_in),
            str(p.in_transit_out),
            f"{p.avg_daily_sales:.2f}",
            cover,
        )
    return table


def stock(
    sku: str | None = typer.Option(None, help="SKU code, e.g. RB001-BLK-38."),
    style: str | None = typer.Option(None, help="Style code, e.g. RB001."),
    size: str | None = typer.Option(None, help="Size label, e.g. 38."),
    location: str | None = typer.Option(None, help="Location code, e.g. SHA-S01."),
    city: str | None = typer.Option(None, help="City, English or Chinese (Shanghai / 上海)."),
    region: str | None = typer.Option(None, help="Region, e.g. East / 华东."),
    category: str | None = typer.Option(None, help="Category, e.g. rain_boots."),
    kind: str | None = typer.Option(None, "--kind", help="Location kind: store | dc | online."),
    include_zero: bool = typer.Option(False, "--include-zero", help="Show empty positions."),
    window: int = typer.Option(28, "--window", help="Days of sales behind days of cover."),
    limit: int = typer.Option(200, help="At most this many positions."),
    now: dt.datetime | None = typer.Option(None, help="As of this UTC time (default: the clock)."),
    as_json: bool = typer.Option(False, "--json", help="Print the tool's JSON output."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Stock positions with ATP, in-transit and days of cover, filtered like stock_lookup."""
    console, errors = Console(), Console(stderr=True)
    try:
        request = StockLookupInput(
            sku=sku,
            style=style,
            size=size,
            location=location,
            city=city,
            region=region,
            category=category,
            location_kind=kind,
            include_zero=include_zero,
            cover_window_days=window,
            limit=limit,
        )
        engine = get_engine(db)
        ctx = ToolContext(engine=engine, now=as_utc(now)) if now else ToolContext.for_pool(engine)
        result = stock_lookup(ctx, request)
    except ToolError as error:
        errors.print(f"[red]error:[/] {error}")
        raise typer.Exit(EXIT_BAD_INPUT) from error
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"])
            errors.print(f"[red]error:[/] {field}={problem.get('input')!r}: {problem['msg']}")
        raise typer.Exit(EXIT_BAD_INPUT) from error
    except DBAPIError as error:
        errors.print(
            f"[red]error:[/] cannot read the pool at {get_engine(db).url!r}: "
            f"{error.orig or error}; run `stockpilot db upgrade` or `stockpilot demo-world` first"
        )
        raise typer.Exit(1) from error
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    console.print(_table(result))
    if result.truncated:
        console.print(
            f"[yellow]showing {len(result.positions)} of {result.totals.positions} positions; "
            "raise --limit or narrow the filters[/]"
        )


def register(app: typer.Typer) -> None:
    app.command("stock")(stock)
