"""Small drivers shared by the agents tests: stock set-up, chat turns, decisions."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from sqlalchemy.engine import Engine

from agents.runs import RunResult, run_graph, send_own_orders
from agents.runtime import AgentRuntime
from inventory import movements
from inventory.db import session_scope

APPROVER = {"name": "alice", "roles": ["approver"]}
SECOND_APPROVER = {"name": "bob", "roles": ["approver"]}
OPS_USER = {"name": "olga", "roles": ["ops"]}
#: A SKU of the small world (RB001, ¥359) with a lane DC-SHA → SHA-S01 (¥60 + ¥2.29/unit).
SKU = "RB001-BLK-40"


def stock_up(engine: Engine, location: str, sku: str, qty: int) -> None:
    with session_scope(engine) as session:
        movements.adjust(
            session, location, sku, qty, reason="test stock", idempotency_key=uuid.uuid4().hex
        )


def chat(
    runtime: AgentRuntime,
    graph: CompiledStateGraph,
    thread_id: str,
    text: str,
    requested_by: str | None = None,
) -> RunResult:
    """One chat turn as the CLI runs it (its own orders sent after the run)."""
    return send_own_orders(
        runtime,
        run_graph(
            runtime,
            graph,
            assistant_id="ops_chat",
            thread_id=thread_id,
            payload={"messages": [HumanMessage(text)]},
            requested_by=requested_by,
        ),
    )


def decide(
    runtime: AgentRuntime,
    graph: CompiledStateGraph,
    thread_id: str,
    decisions: list[dict[str, Any]],
    principal: dict[str, Any] | None = APPROVER,
    assistant_id: str = "ops_chat",
) -> RunResult:
    resume: dict[str, Any] = {"decisions": decisions}
    if principal is not None:
        resume["principal"] = principal
    return send_own_orders(
        runtime,
        run_graph(
            runtime,
            graph,
            assistant_id=assistant_id,
            thread_id=thread_id,
            payload=Command(resume=resume),
        ),
    )


def last_text(result: RunResult) -> str:
    return result.values["messages"][-1].text


def drain(engine: Engine, locations: list[str], categories: list[str]) -> int:
    """Empty those stores of those categories, so a rain alert finds holes to fill."""
    from sqlmodel import select

    from inventory.models import Sku, StockPosition, Style

    with session_scope(engine) as session:
        rows = session.exec(
            select(StockPosition)
            .join(Sku, Sku.code == StockPosition.sku_code)
            .join(Style, Style.code == Sku.style_code)
            .where(
                StockPosition.location_code.in_(locations),  # type: ignore[attr-defined]
                Style.category.in_(categories),  # type: ignore[attr-defined]
                StockPosition.on_hand > 0,
            )
        ).all()
        for row in rows:
            movements.adjust(
                session,
                row.location_code,
                row.sku_code,
                -row.on_hand,
                reason="test drain",
                idempotency_key=uuid.uuid4().hex,
            )
    return len(rows)
