"""What the alert and chat commands share: building the runtime, printing proposals, deciding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from agents.llm.offline_parse import parse_decision
from agents.persistence import open_checkpointer
from agents.registry import build_graph
from agents.runtime import AgentRuntime
from api.auth import DEMO_KEYS, KeyStore, Principal, Role
from connectors.base import ConnectorSet
from inventory.config import get_settings
from inventory.db import get_engine

console = Console()


@contextmanager
def agent_session(
    assistant_id: str, db: str | None
) -> Iterator[tuple[AgentRuntime, CompiledStateGraph]]:
    """The runtime and the checkpointed graph, for one CLI invocation."""
    settings = get_settings()
    if db is not None:
        settings = settings.model_copy(update={"database_url": db})
    engine = get_engine(settings.database_url)
    with ConnectorSet.from_settings(settings) as connectors, open_checkpointer(settings) as saver:
        runtime = AgentRuntime.from_settings(settings, engine=engine)
        runtime.connectors = connectors
        yield runtime, build_graph(assistant_id, runtime, saver)


#: Who the CLI acts as in demo mode when no key is given (a public demo key; demo only).
DEMO_CLI_KEY = "demo-approver"

API_KEY_HELP = (
    "Your API key (or STOCKPILOT_API_KEY): its name is recorded on what you ask and decide, "
    "its roles say what you may approve. Create one with `stockpilot api-key create`."
)


def identify(engine: Engine, api_key: str | None, *, demo: bool) -> Principal:
    """The caller, from an API key looked up in the pool (never a self-declared role).

    In demo mode, without a key, the CLI acts as the public ``demo-approver`` key and says so.
    """
    store = KeyStore(engine)
    if api_key:
        who = store.resolve(api_key)
        if who is None:
            raise typer.BadParameter(
                "unknown API key (revoked, or from another pool)", param_hint="--api-key"
            )
        return who
    if demo:
        name, (key, _) = DEMO_CLI_KEY, DEMO_KEYS[DEMO_CLI_KEY]
        who = store.resolve(key)
        if who is None:
            raise typer.BadParameter(
                "demo mode, but this pool has no demo keys: start the demo once (make run)",
                param_hint="--api-key",
            )
        console.print(f"[yellow]demo mode: acting as {name} (a PUBLIC demo key)[/]")
        return who
    raise typer.BadParameter(
        "who are you? pass your API key (--api-key or STOCKPILOT_API_KEY); an admin creates "
        "one with `stockpilot api-key create <name> --role ops|approver`",
        param_hint="--api-key",
    )


def may_decide(who: Principal) -> bool:
    return who.has_any(Role.APPROVER)


def resume_principal(who: Principal) -> dict[str, Any]:
    """How a decision names its decider in the graph's resume (as the API's resume does)."""
    return who.as_resume_principal()


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
