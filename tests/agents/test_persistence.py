"""Checkpointers on SQLite and Postgres (the lease: test_lease.py)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from agents.persistence import checkpoint_path, open_checkpointer, postgres_conninfo
from inventory.config import Settings

NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


class _State(TypedDict, total=False):
    messages: list[Any]
    asked_at: dt.datetime
    answer: dict[str, Any]


def _graph(checkpointer):
    def ask(state: _State) -> _State:
        answer = interrupt({"action_requests": [{"name": "x", "args": {}, "description": "?"}]})
        return {"answer": answer}

    builder = StateGraph(_State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=checkpointer)


def test_checkpoint_file_sits_next_to_the_pool():
    assert str(checkpoint_path("sqlite:////data/pool.sqlite")) == "/data/pool.checkpoints.sqlite"
    assert checkpoint_path("sqlite:///:memory:") is None
    assert postgres_conninfo("postgresql+psycopg://u@h:5432/db") == "postgresql://u@h:5432/db"


def test_strict_msgpack_is_on():
    assert os.environ["LANGGRAPH_STRICT_MSGPACK"] == "true"


def test_interrupt_survives_a_new_checkpointer_instance(db_url: str):
    """Start on one saver, resume on a fresh one (as a restarted process would)."""
    settings = Settings(database_url=db_url)
    config = {"configurable": {"thread_id": "t-1"}}
    state = {"messages": [HumanMessage("hi"), AIMessage("hello")], "asked_at": NOW}
    with open_checkpointer(settings) as saver:
        first = _graph(saver).invoke(state, config)
        assert "__interrupt__" in first
    with open_checkpointer(settings) as saver:
        graph = _graph(saver)
        resumed = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert resumed["answer"] == {"decisions": [{"type": "approve"}]}
    assert resumed["asked_at"] == NOW
    assert isinstance(resumed["messages"][1], AIMessage)
