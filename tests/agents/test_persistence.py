"""Checkpointers on SQLite and Postgres, and the one-writer-per-thread lease, on both backends."""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.lease import LeaseHeld, acquire_lease, release_lease, thread_lease
from agents.persistence import checkpoint_path, open_checkpointer, postgres_conninfo
from inventory.config import Settings
from inventory.models import Run

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


def _runs(engine: Engine, *ids: str, thread: str = "thread-1") -> None:
    with Session(engine) as session:
        for run_id in ids:
            session.add(
                Run(
                    id=run_id,
                    assistant_id="ops_chat",
                    thread_id=thread,
                    trigger="cli",
                    status="running",
                    input={},
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.commit()


def test_a_second_worker_cannot_take_a_held_thread(engine: Engine):
    _runs(engine, "r1", "r2")
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", now=NOW)
    with pytest.raises(LeaseHeld, match="w1"):
        acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=NOW)
    release_lease(engine, run_id="r1", owner="w1")
    acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=NOW)


def test_an_expired_lease_of_a_dead_worker_is_taken_over(engine: Engine):
    _runs(engine, "r1", "r2")
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="dead", ttl_s=30, now=NOW)
    later = NOW + dt.timedelta(seconds=31)
    acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=later)


def test_other_threads_are_not_blocked(engine: Engine):
    _runs(engine, "r1")
    _runs(engine, "r2", thread="thread-2")
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", now=NOW)
    acquire_lease(engine, run_id="r2", thread_id="thread-2", owner="w2", now=NOW)


def test_racing_workers_get_exactly_one_lease(engine: Engine):
    ids = [f"r{i}" for i in range(6)]
    _runs(engine, *ids)
    winners: list[str] = []
    barrier = threading.Barrier(len(ids))

    def grab(run_id: str) -> None:
        barrier.wait()
        try:
            acquire_lease(engine, run_id=run_id, thread_id="thread-1", owner=f"w-{run_id}")
            winners.append(run_id)
        except LeaseHeld:
            pass

    threads = [threading.Thread(target=grab, args=(run_id,)) for run_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_thread_lease_releases_on_error(engine: Engine):
    _runs(engine, "r1", "r2")
    with (
        pytest.raises(RuntimeError),
        thread_lease(engine, run_id="r1", thread_id="thread-1", owner="w1"),
    ):
        raise RuntimeError("node failed")
    acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2")
