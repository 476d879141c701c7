"""``stockpilot alert rain ...``: run the alert_response graph locally, decide, show the result."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import typer
from langgraph.types import Command
from rich.table import Table

from agents.graphs.alert_response import AlertPayload
from agents.runs import RunResult, run_graph, send_own_orders
from api.auth import Principal, Role
from inventory.config import get_settings
from inventory.db import get_engine
from inventory.vocabulary import UnknownTerm, vocabulary_of
from stockpilot_cli.agent_io import (
    API_KEY_HELP,
    agent_session,
    ask_decisions,
    console,
    identify,
    may_decide,
    print_outcomes,
    print_requests,
    resume_principal,
)

alert_app = typer.Typer(help="Run an alert through the agents locally.", no_args_is_help=True)

#: Decision rounds before giving up (four-eyes needs a second, different approver).
MAX_ROUNDS = 4


def _print_plan(values: dict[str, Any]) -> None:
    triage = values.get("triage", {})
    console.print(
        f"[bold]Triage[/]: {triage.get('reason', '')} (severity {triage.get('severity')})"
    )
    if forecast := values.get("forecast"):
        console.print(f"[bold]Forecast[/]: {forecast}")
    plan = values.get("plan") or {}
    if plan.get("shipments"):
        table = Table(title=f"Transfer plan ({plan.get('solver')}, {plan.get('forecast_model')})")
        for column in ("source", "dest", "units", "expected margin", "freight", "lines"):
            table.add_column(column)
        for shipment in plan["shipments"]:
            table.add_row(
                shipment["source"],
                shipment["dest"],
                str(shipment["units"]),
                f"¥{shipment['expected_value']:,.0f}",
                f"¥{shipment['cost']:,.0f}",
                ", ".join(f"{ln['sku']}×{ln['qty']}" for ln in shipment["lines"]),
            )
        console.print(table)


def _decide(result: RunResult, who: Principal, approve: bool) -> list[dict[str, Any]] | None:
    request = result.interrupts[0]["value"]
    print_requests(request)
    if not may_decide(who):
        console.print(f"{who.name} is not an approver: the requests wait for one")
        return None
    if approve:
        return [{"type": "approve"} for _ in request["action_requests"]]
    if not sys.stdin.isatty():
        return None
    return ask_decisions(request)


@alert_app.command("rain")
def rain(
    city: str = typer.Option(..., "--city", help="City, e.g. Shanghai or 上海."),
    mm: float = typer.Option(..., "--mm", help="Rain expected over the event, mm."),
    hours: int = typer.Option(24, "--hours", help="Length of the event, hours."),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="STOCKPILOT_API_KEY", help=API_KEY_HELP, show_envvar=False
    ),
    approve: bool = typer.Option(
        False, "--approve", help="Approve every request as the key's holder (an approver)."
    ),
    thread: str | None = typer.Option(None, "--thread", help="Thread id (default: new)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
) -> None:
    """Run a rain alert end to end: plan, approvals, what was sent to the WMS."""
    try:
        alert = AlertPayload(type="rain", city=city, mm=mm, hours=hours, sender="cli")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:  # the pool's cities, not a code constant: a retailer's own or the demo world's
        alert.city = vocabulary_of(get_engine(db)).resolve_city(alert.city)
    except UnknownTerm as exc:
        raise typer.BadParameter(str(exc), param_hint="--city") from exc
    thread_id = thread or f"alert-{uuid.uuid4().hex[:12]}"
    who = identify(get_engine(db), api_key, demo=get_settings().demo)
    if not who.has_any(Role.OPS, Role.APPROVER):
        raise typer.BadParameter(
            f"{who.name} may not run alerts (needs the ops or approver role)",
            param_hint="--api-key",
        )
    if approve and not may_decide(who):
        raise typer.BadParameter(
            f"{who.name} may not approve (needs the approver role)", param_hint="--approve"
        )
    with agent_session("alert_response", db) as (runtime, graph):
        result = send_own_orders(
            runtime,
            run_graph(
                runtime,
                graph,
                assistant_id="alert_response",
                thread_id=thread_id,
                payload={"alert": alert.model_dump(mode="json")},
                trigger="cli",
            ),
        )
        _print_plan(result.values)
        for _round in range(MAX_ROUNDS):
            if not result.interrupts:
                break
            decisions = _decide(result, who, approve)
            if decisions is None:
                break
            result = send_own_orders(
                runtime,
                run_graph(
                    runtime,
                    graph,
                    assistant_id="alert_response",
                    thread_id=thread_id,
                    payload=Command(
                        resume={"decisions": decisions, "principal": resume_principal(who)}
                    ),
                ),
            )
        print_outcomes(result.values)
        if result.interrupts:
            console.print(
                f"[yellow]Still waiting for a decision[/] on thread [bold]{thread_id}[/] "
                "(a different approver may be needed for four-eyes)."
            )
        report = result.values.get("report") or {}
        if report.get("summary"):
            console.print(f"[bold]Summary[/]: {report['summary']}")


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")
