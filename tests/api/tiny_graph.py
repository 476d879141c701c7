"""A small chat graph with the approval interrupt of DESIGN §4, to test the API on its own."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _last_text(state: ChatState) -> str:
    return str(state["messages"][-1].content) if state["messages"] else ""


def plan(state: ChatState) -> dict[str, Any]:
    text = _last_text(state)
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


def build_tiny_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    graph = StateGraph(ChatState)
    graph.add_node("plan", plan)
    graph.add_node("gate", gate)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "gate")
    graph.add_edge("gate", END)
    return graph.compile(checkpointer=checkpointer)
