"""``stockpilot plan`` and ``stockpilot promos``: the optimiser's advice with its reasons.

Both print rich tables for ops users and, with ``--json FILE``, write the tool's output model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from inventory.clock import as_utc
from inventory.db import get_engine
from tools.context import ToolContext, ToolError
from tools.plan_transfers.models import PlanTransfersInput, TransferConstraints, TransferPlan
from tools.recommend_promos.models import PromoOutput

EXIT_BAD_INPUT = 2
Out = TypeVar("Out", bound=BaseModel)


def run_tool(db: str | None, now: dt.datetime | None, call: Callable[[ToolContext], Out]) -> Out:
    """Call a tool against the pool, turning bad input into a clear message and exit code 2."""
    errors = Console(stderr=True)
    try:
        engine = get_engine(db)
        ctx = ToolContext(engine=engine, now=as_utc(now)) if now else ToolContext.for_pool(engine)
        return call(ctx)
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
            f"[red]error:[/] cannot read the pool: {error.orig or error}; run `stockpilot db "
            "upgrade` or `stockpilot demo-world` first"
        )
        raise typer.Exit(1) from error


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def render_plan(plan: TransferPlan, console: Console) -> None:
    t = plan.totals
    console.print(
        f"[bold]Transfer plan[/] as of {plan.as_of}, {plan.window_days}-day window, "
        f"solver [cyan]{plan.solver}[/], forecast {plan.forecast_model}"
    )
    if not plan.shipments:
        console.print(f"[yellow]No transfer proposed:[/] {plan.empty_reason}")
    for ship in plan.shipments:
        table = Table(
            title=(
                f"{ship.source} → {ship.dest}  ({ship.lead_time_hours:.0f} h, {ship.units} units, "
                f"margin {ship.expected_value:,.0f} after unsold risk, freight {ship.cost:,.0f}, "
                f"net [green]{ship.net_value:,.0f}[/])"
            ),
            title_justify="left",
        )
        for header in ("SKU", "Size", "Qty", "Units saved", "Margin", "Freight", "Dest cover"):
            table.add_column(header, justify="left" if header in ("SKU", "Size") else "right")
        table.add_column("Source ATP after", justify="right")
        for line in ship.lines:
            r = line.reason
            table.add_row(
                line.sku,
                line.size,
                str(line.qty),
                f"{r.expected_units_saved:.2f}",
                f"{r.expected_value:,.0f}",
                f"{r.cost:,.0f}",
                f"{_days(r.dest_days_to_stockout_before)} → "
                f"{_days(r.dest_days_to_stockout_after)} d",
                str(r.source_atp_after),
            )
        console.print(table)
    console.print(
        f"[bold]Total[/]: {t.shipments} shipments, {t.units} units, expected "
        f"{t.expected_units_saved:.1f} units saved, margin {t.expected_value:,.0f} after unsold "
        f"risk {t.unsold_risk:,.0f}, freight "
        f"{t.cost:,.0f}, net [green]{t.net_value:,.0f}[/] CNY"
        + (
            ""
            if t.net_value_if_no_rain is None
            else f"; {t.net_value_if_no_rain:,.0f} CNY if the warned rain does not fall"
        )
    )
    for note in plan.notes:
        console.print(f"[dim]{note}[/]")


def plan(
    city: str | None = typer.Option(None, help="Destination city (English or Chinese)."),
    region: str | None = typer.Option(None, help="Destination region, e.g. East."),
    category: str | None = typer.Option(None, help="Category, e.g. rain_boots."),
    style: list[str] = typer.Option([], "--style", help="Style code(s)."),
    window: int = typer.Option(3, "--window", help="Demand window in days (1–28)."),
    rain_mm: float | None = typer.Option(
        None, "--rain-mm", help="Assume this rain (mm/day) in the city over the window."
    ),
    solver: str = typer.Option("auto", help="auto | flow | lp | greedy."),
    allowed_lanes: str = typer.Option("region", help="city | region | any."),
    pack: int = typer.Option(1, "--pack", help="Pack multiple."),
    max_per_source: int | None = typer.Option(None, help="Max shipments per source."),
    max_per_dest: int | None = typer.Option(None, help="Max shipments per destination."),
    min_value: float = typer.Option(0.0, help="Minimum expected value per shipment (CNY)."),
    max_cost: float | None = typer.Option(None, help="Cap on total transfer cost (CNY)."),
    now: dt.datetime | None = typer.Option(None, help="As of this UTC time (default: the clock)."),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the plan as JSON."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Propose size-level transfers into a city or region, each line with its reason."""
    from tools.forecast_demand.models import RainScenario
    from tools.plan_transfers.tool import plan_transfers

    def call(ctx: ToolContext) -> TransferPlan:
        rain = []
        if rain_mm is not None:
            if city is None:
                raise ToolError("--rain-mm needs --city", field="rain_mm", value=rain_mm)
            rain = [
                RainScenario(
                    city=city, start=ctx.today, days=window, precipitation_mm_per_day=rain_mm
                )
            ]
        request = PlanTransfersInput(
            city=city,
            region=region,
            category=category,
            styles=style,
            window_days=window,
            rain=rain,
            solver=solver,
            constraints=TransferConstraints(
                allowed_lanes=allowed_lanes,
                pack_multiple=pack,
                max_shipments_per_source=max_per_source,
                max_shipments_per_dest=max_per_dest,
                min_value_per_shipment=min_value,
                max_total_cost=max_cost,
            ),
        )
        return plan_transfers(ctx, request)

    result = run_tool(db, now, call)
    render_plan(result, Console())
    if json_file is not None:
        json_file.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        Console().print(f"plan written to {json_file}")


def render_promos(result: PromoOutput, console: Console) -> None:
    table = Table(title=f"Overstock and markdowns as of {result.as_of}", title_justify="left")
    for header in ("Style", "Location", "On hand", "Weeks cover", "Season left", "Elasticity"):
        table.add_column(header, justify="left" if header in ("Style", "Location") else "right")
    table.add_column("Verdict", overflow="fold")
    for r in result.recommendations:
        season = "—" if r.weeks_to_season_end is None else f"{r.weeks_to_season_end:.1f} wk"
        table.add_row(
            r.style,
            r.location or "all",
            str(r.on_hand),
            f"{r.weeks_of_cover:.1f}",
            season,
            f"{r.elasticity:.2f} [{r.elasticity_ci[0]:.2f}, {r.elasticity_ci[1]:.2f}]",
            r.verdict,
        )
    console.print(table)
    if not result.recommendations:
        console.print("[green]No overstock above the threshold.[/]")
    for note in result.notes:
        console.print(f"[dim]{note}[/]")


def promos(
    city: str | None = typer.Option(None, help="City (English or Chinese)."),
    region: str | None = typer.Option(None, help="Region, e.g. East."),
    category: str | None = typer.Option(None, help="Category, e.g. tshirts."),
    style: list[str] = typer.Option([], "--style", help="Style code(s)."),
    location: list[str] = typer.Option([], "--location", help="Location code(s)."),
    threshold: float = typer.Option(8.0, help="Weeks of cover that count as overstock."),
    limit: int = typer.Option(50, help="At most this many recommendations."),
    now: dt.datetime | None = typer.Option(None, help="As of this UTC time (default: the clock)."),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the result as JSON."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Markdown depth or transfer for overstocked styles, with the numbers behind each."""
    from tools.recommend_promos.models import PromoInput
    from tools.recommend_promos.tool import recommend_promos

    def call(ctx: ToolContext) -> PromoOutput:
        request = PromoInput(
            city=city,
            region=region,
            category=category,
            styles=style,
            locations=location,
            weeks_of_cover_threshold=threshold,
            limit=limit,
        )
        return recommend_promos(ctx, request)

    result = run_tool(db, now, call)
    render_promos(result, Console())
    if json_file is not None:
        json_file.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        Console().print(f"recommendations written to {json_file}")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("promos")(promos)
