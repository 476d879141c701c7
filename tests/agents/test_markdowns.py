"""Markdown proposals through the same gate: auto, human, refused by depth."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from sqlmodel import Session, select

from agents.llm.scripted import ScriptedChatModel
from agents.registry import build_graph
from inventory.models import PromoProposal, RunStatus
from tests.agents.helpers import chat, decide


@pytest.fixture
def runtime(any_runtime):
    """On SQLite and PostgreSQL, each with the checkpointer ``serve`` opens for it."""
    return any_runtime


@pytest.fixture
def checkpointer(any_checkpointer):
    return any_checkpointer


def markdown_model(depth: float) -> ScriptedChatModel:
    call = {
        "id": f"md-{depth}",
        "name": "propose_markdown",
        "args": {"style": "RB001", "location": "SHA-S01", "depth": depth, "reason": "overstock"},
    }
    return ScriptedChatModel([AIMessage("", tool_calls=[call]), AIMessage("noted")])


@pytest.mark.parametrize(
    ("depth", "run_status", "proposal_status", "priced"),
    [
        (0.2, RunStatus.SUCCEEDED, "applied", 1),
        (0.3, RunStatus.INTERRUPTED, "proposed", 0),
        (0.6, RunStatus.SUCCEEDED, "rejected", 0),
    ],
)
def test_markdown_depth_decides_the_path(
    runtime, connectors, checkpointer, depth, run_status, proposal_status, priced
):
    runtime.llm = markdown_model(depth)
    graph = build_graph("ops_chat", runtime, checkpointer)
    result = chat(runtime, graph, "t", "markdown RB001")
    assert result.status == run_status
    with Session(runtime.engine) as session:
        assert session.exec(select(PromoProposal.status)).all() == [proposal_status]
    assert len(connectors.pricing.list_price_changes()) == priced
    if depth == 0.6:
        answer = [m for m in result.values["messages"] if isinstance(m, ToolMessage)][-1]
        assert "markdown.max_depth: 0.6 > 0.5" in answer.text


def test_an_approved_markdown_reaches_the_pricing_system(runtime, connectors, checkpointer):
    runtime.llm = markdown_model(0.3)
    graph = build_graph("ops_chat", runtime, checkpointer)
    chat(runtime, graph, "t", "markdown RB001")
    done = decide(runtime, graph, "t", [{"type": "approve"}])
    assert done.status == RunStatus.SUCCEEDED
    [change] = connectors.pricing.list_price_changes()
    assert (change.payload["style"], change.payload["depth"]) == ("RB001", 0.3)
    with Session(runtime.engine) as session:
        assert session.exec(select(PromoProposal.status)).all() == ["applied"]
