"""A small chat graph with the approval interrupt of DESIGN §4, to test the API on its own."""

from __future__ import annotations

import threading
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    ticks: int


#: "slow" runs tick this many times, TICK_S apart: long enough to cancel, join or queue behind.
SLOW_TICKS = 30
TICK_S = 0.1
#: Set by ``release_slow_runs``: the ticks still to come take no time. A test that needs a run in
#: flight while it does something (queue behind it, listen to it) holds it until that is done,
#: then releases it instead of sleeping out the rest of its ~3 s.
_RELEASED = threading.Event()


def hold_slow_runs() -> None:
    """Slow runs tick ``TICK_S`` apart again (the default)."""
    _RELEASED.clear()


def release_slow_runs() -> None:
    """Slow runs in flight (and new ones) finish their remaining ticks at once."""
    _RELEASED.set()


def _last_text(state: ChatState) -> str:
    return str(state["messages"][-1].content) if state["messages"] else ""


def plan(state: ChatState) -> dict[str, Any]:
    text = _last_text(state)
    get_stream_writer()({"progress": "planning", "chars": len(text)})  # the `custom` mode
    if "large" in text:
        return {"messages": [AIMessage("I propose moving 500 pairs SHA-S01 → SHA-S02.")]}
    return {"messages": [AIMessage(f"echo: {text}")]}


def gate(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
    if "propose" not in _last_text(state):
        return {}
    answer = interrupt(
        {
            "action_requests": [
                {
                    "name": "transfer_order",
                    "args": {"source": "SHA-S01", "dest": "SHA-S02", "units": 500},
                    "description": "500 pairs of rain boots before the storm",
                }
            ],
            "review_configs": [
                {
                    "action_name": "transfer_order",
                    "allowed_decisions": ["approve", "edit", "reject"],
                }
            ],
        }
    )
    decision = answer["decisions"][0]
    who = answer.get("principal", {}).get("name", "?")
    if decision["type"] == "approve":
        return {"messages": [AIMessage(f"approved by {who}")]}
    return {"messages": [AIMessage(f"rejected by {who}: {decision.get('message', '')}")]}


def tick(state: ChatState) -> dict[str, Any]:
    _RELEASED.wait(TICK_S)
    return {"ticks": state.get("ticks", 0) + 1}


def after_plan(state: ChatState) -> str:
    slow = _last_text(state).startswith("echo: slow")
    return "tick" if slow and state.get("ticks", 0) < SLOW_TICKS else "gate"


def build_tiny_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    graph = StateGraph(ChatState)
    graph.add_node("plan", plan)
    graph.add_node("tick", tick)
    graph.add_node("gate", gate)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", after_plan, ["tick", "gate"])
    graph.add_conditional_edges("tick", after_plan, ["tick", "gate"])
    graph.add_edge("gate", END)
    return graph.compile(checkpointer=checkpointer)
