"""What the alert and chat commands share: building the runtime, printing proposals, deciding."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.table import Table

from agents.llm.offline_parse import parse_decision
from agents.persistence import open_checkpointer
from agents.registry import build_graph
from agents.runtime import AgentRuntime
from connectors.base import ConnectorSet
from inventory.config import Settings, get_settings
from inventory.db import get_engine

console = Console()


@contextmanager
def agent_session(
    assistant_id: str, db: str | None
) -> Iterator[tuple[AgentRuntime, CompiledStateGraph]]:
    """The runtime and the checkpointed graph, for one CLI invocation."""
    settings = get_settings() if db is None else Settings(database_url=db)
    engine = get_engine(settings.database_url)
    with ConnectorSet.from_settings(settings) as connectors, open_checkpointer(settings) as saver:
        runtime = AgentRuntime.from_settings(settings, engine=engine)
        runtime.connectors = connectors
        yield runtime, build_graph(assistant_id, runtime, saver)


def principal(name: str | None, roles: list[str]) -> dict[str, Any]:
    return {"name": name or f"cli:{getpass.getuser()}", "roles": roles}


def print_requests(request: dict[str, Any]) -> None:
    table = Table(title="Waiting for a decision", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("action")
    table.add_column("what / why")
    for index, action in enumerate(request["action_requests"], start=1):
        table.add_row(str(index), action["name"], action["description"])
    console.print(table)


def ask_decisions(request: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Ask for one decision per action; None when the operator leaves them pending."""
    decisions: list[dict[str, Any]] = []
    for index, action in enumerate(request["action_requests"], start=1):
        while True:
            text = console.input(
                f"[bold]#{index}[/] approve / reject [reason] / edit <qty> / later "
                "(批准 / 拒绝 / 修改 <数量>): "
            ).strip()
            if text.lower() in {"later", "skip", "稍后"}:
                return None
            decision = parse_decision(text)
            if decision is None:
                console.print("[yellow]not understood[/]")
                continue
            if decision["type"] == "edit":
                decision = edit_quantity(action, int(decision["qty"]))  # type: ignore[arg-type]
                if decision is None:
                    console.print("[yellow]only single-line transfers can be edited here[/]")
                    continue
            decisions.append(decision)
            break
    return decisions


def edit_quantity(action: dict[str, Any], qty: int) -> dict[str, Any] | None:
    args = {k: v for k, v in action["args"].items() if k != "subject_id"}
    if action["name"] != "transfer_order" or len(args.get("lines", [])) != 1:
        return None
    args["lines"] = [{**args["lines"][0], "qty": qty}]
    return {"type": "edit", "edited_action": {"name": action["name"], "args": args}}


def print_outcomes(values: dict[str, Any]) -> None:
    outcomes: dict[str, Any] = values.get("outcomes") or {}
    if not outcomes:
        return
    records = {p["subject_id"]: p for p in values.get("proposals") or []}
    table = Table(title="Approvals and what was sent")
    for column in ("subject", "proposal", "decision", "status", "by", "reference / note"):
        table.add_column(column)
    for subject_id, outcome in outcomes.items():
        table.add_row(
            subject_id,
            records.get(subject_id, {}).get("summary", ""),
            outcome.get("decision") or "",
            outcome.get("status", ""),
            outcome.get("by") or "",
            outcome.get("external_ref") or outcome.get("message") or outcome.get("rule") or "",
        )
    console.print(table)
