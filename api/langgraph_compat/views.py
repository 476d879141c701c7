"""Threads and checkpoints as the Platform API returns them (``Thread``, ``ThreadState``)."""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from api.langgraph_compat.lean import lean_values
from api.langgraph_compat.serialization import interrupt_json, to_jsonable
from inventory.models import AgentThread


def checkpoint_json(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable", {})
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def state_json(snapshot: StateSnapshot) -> dict[str, Any]:
    return {
        "values": lean_values(to_jsonable(snapshot.values)),
        "next": list(snapshot.next),
        "checkpoint": checkpoint_json(snapshot.config),
        "metadata": to_jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint_json(snapshot.parent_config),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "error": str(task.error) if task.error else None,
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": lean_values(to_jsonable(task.result)),
            }
            for task in snapshot.tasks
        ],
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """A thread that has not run yet has no checkpoint."""
    return {
        "values": {},
        "next": [],
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": None,
            "checkpoint_map": None,
        },
        "metadata": {},
        "created_at": None,
        "parent_checkpoint": None,
        "tasks": [],
        "interrupts": [],
    }


def visible_metadata(thread: AgentThread) -> dict[str, Any]:
    """The metadata clients see and search: what is stored, plus the graph a run started (for
    threads whose first run predates storing it)."""
    metadata = dict(thread.thread_metadata or {})
    if thread.assistant_id:
        metadata.setdefault("assistant_id", thread.assistant_id)
        metadata.setdefault("graph_id", thread.assistant_id)
    return metadata


def thread_json(thread: AgentThread, snapshot: StateSnapshot | None) -> dict[str, Any]:
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if snapshot is not None:
        for task in snapshot.tasks:
            if task.interrupts:
                interrupts[task.id] = [interrupt_json(i) for i in task.interrupts]
    return {
        "thread_id": thread.id,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "metadata": visible_metadata(thread),
        "status": thread.status,
        "config": {},
        "context": {},
        "values": lean_values(to_jsonable(snapshot.values)) if snapshot is not None else {},
        "interrupts": interrupts,
    }


def list_item_json(
    thread: AgentThread, snapshot: StateSnapshot | None, select: list[str] | None
) -> dict[str, Any]:
    """A thread as a list shows it. Without ``select`` the values are only the first message
    (agent-chat-ui titles a thread with it) and each interrupt only its id (the approval card
    itself comes with the thread's state); with ``select`` exactly the fields asked for."""
    item = thread_json(thread, snapshot)
    if select is not None:
        return {key: item[key] for key in select if key in item}
    messages = item["values"].get("messages") if isinstance(item["values"], dict) else None
    item["values"] = {"messages": messages[:1]} if messages else {}
    item["interrupts"] = {
        task: [{"id": i.get("id")} for i in waiting] for task, waiting in item["interrupts"].items()
    }
    return item
