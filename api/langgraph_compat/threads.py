"""``/threads``: create, find, read, tag, copy and delete threads; their state and history."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from langgraph.types import StateSnapshot
from sqlmodel import Session, select

from agents.runs import new_thread
from api import run_store
from api.auth import Role
from api.deps import OpsDep, PrincipalDep, ReaderDep, RunnerDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, conflict
from api.langgraph_compat.commands import UPDATABLE_KEYS, check_owner, check_update_values
from api.langgraph_compat.models import (
    HistoryRequest,
    StateUpdate,
    ThreadCreate,
    ThreadSearch,
    ThreadUpdate,
)
from api.langgraph_compat.runner import GraphRunner
from api.langgraph_compat.views import (
    empty_state,
    list_item_json,
    state_json,
    thread_json,
    visible_metadata,
)
from inventory.models import AgentThread

router = APIRouter(prefix="/threads", tags=["langgraph-compatible"], responses=ERROR_RESPONSES)


def tag_thread(runner: GraphRunner, thread_id: str, assistant_id: str) -> None:
    """Record in the thread's metadata which graph runs on it (``graph_id``, ``assistant_id``),
    once, as the Agent Server does when a run starts on a thread."""
    with Session(runner.engine, expire_on_commit=False) as session:
        thread = session.get(AgentThread, thread_id)
        if thread is None:
            return
        metadata = dict(thread.thread_metadata or {})
        if metadata.get("graph_id") and metadata.get("assistant_id"):
            return
        metadata.setdefault("graph_id", assistant_id)
        metadata.setdefault("assistant_id", assistant_id)
        thread.thread_metadata = metadata
        session.add(thread)
        session.commit()


def snapshot_of(runner: GraphRunner, thread: AgentThread) -> StateSnapshot | None:
    if thread.assistant_id is None:
        return None
    graph = runner.graph(thread.assistant_id)
    return graph.get_state({"configurable": {"thread_id": thread.id}})


@router.post("", summary="Create a thread")
def create_thread(body: ThreadCreate, session: SessionDep, principal: OpsDep) -> dict[str, Any]:
    if body.thread_id is not None:
        existing = session.get(AgentThread, body.thread_id)
        if existing is not None:
            if body.if_exists == "do_nothing":
                return thread_json(existing, None)
            raise conflict(
                f"thread {body.thread_id!r} already exists", field="thread_id", value=body.thread_id
            )
    thread = new_thread(
        session, thread_id=body.thread_id, metadata=body.metadata, created_by=principal.name
    )
    session.commit()
    return thread_json(thread, None)


@router.post("/search", summary="Find threads by metadata, ids or status")
def search_threads(
    body: ThreadSearch, session: SessionDep, runner: RunnerDep, _: ReaderDep
) -> list[dict[str, Any]]:
    query = select(AgentThread)
    if body.ids:
        query = query.where(AgentThread.id.in_(body.ids))  # type: ignore[attr-defined]
    if body.status:
        query = query.where(AgentThread.status == body.status)
    column = getattr(
        AgentThread, {"thread_id": "id"}.get(body.sort_by or "", body.sort_by or "updated_at")
    )
    query = query.order_by(sa.asc(column) if body.sort_order == "asc" else sa.desc(column))
    threads = [
        t
        for t in session.exec(query).all()
        if all(visible_metadata(t).get(k) == v for k, v in (body.metadata or {}).items())
    ]
    page = threads[body.offset : body.offset + body.limit]
    return [list_item_json(t, snapshot_of(runner, t), body.select) for t in page]


@router.get("/{thread_id}", summary="One thread with its current values and interrupts")
def get_thread(
    thread_id: str, session: SessionDep, runner: RunnerDep, _: ReaderDep
) -> dict[str, Any]:
    thread = run_store.get_thread(session, thread_id)
    return thread_json(thread, snapshot_of(runner, thread))


@router.patch("/{thread_id}", summary="Merge metadata into a thread (a null value removes a key)")
def update_thread(
    thread_id: str, body: ThreadUpdate, session: SessionDep, runner: RunnerDep, principal: OpsDep
) -> dict[str, Any]:
    thread = run_store.get_thread(session, thread_id)
    check_owner(thread, principal)
    metadata = {**(thread.thread_metadata or {}), **body.metadata}
    thread.thread_metadata = {k: v for k, v in metadata.items() if v is not None}
    session.add(thread)
    session.commit()
    return thread_json(thread, snapshot_of(runner, thread))


def _refuse_while_waiting(thread: AgentThread, what: str) -> None:
    """A thread that runs or waits for an approval is not deleted or copied: the approval would
    lose its thread, or be offered twice."""
    if thread.status in ("busy", "interrupted"):
        reason = "is running" if thread.status == "busy" else "waits for an approval decision"
        raise conflict(
            f"thread {thread.id!r} {reason}; {what} it once it is idle",
            field="thread_id",
            value=thread.id,
        )


@router.delete("/{thread_id}", status_code=204, summary="Delete a thread and its checkpoints")
def delete_thread(
    thread_id: str, session: SessionDep, runner: RunnerDep, principal: OpsDep
) -> Response:
    """The thread and its checkpoints go; its runs, orders, approvals and audit rows stay."""
    thread = run_store.get_thread(session, thread_id)
    check_owner(thread, principal)
    _refuse_while_waiting(thread, "delete")
    if thread.assistant_id is not None:
        runner.graph(thread.assistant_id).checkpointer.delete_thread(thread_id)
    session.delete(thread)
    session.commit()
    return Response(status_code=204)


@router.post("/{thread_id}/copy", summary="Copy a thread with its checkpoints to a new thread")
def copy_thread(
    thread_id: str, session: SessionDep, runner: RunnerDep, principal: OpsDep
) -> dict[str, Any]:
    source = run_store.get_thread(session, thread_id)
    _refuse_while_waiting(source, "copy")
    copy = new_thread(
        session,
        metadata=dict(source.thread_metadata or {}),
        created_by=principal.name,
        assistant_id=source.assistant_id,
    )
    session.commit()
    if source.assistant_id is not None:
        checkpointer = runner.graph(source.assistant_id).checkpointer
        copy_checkpoints(checkpointer, thread_id, copy.id)
    return thread_json(copy, snapshot_of(runner, copy))


def copy_checkpoints(checkpointer: Any, source_id: str, target_id: str) -> None:
    """Every checkpoint (oldest first, parents kept) and its pending writes, under a new thread;
    the savers we use (SQLite, Postgres) do not implement ``copy_thread`` themselves."""
    tuples = list(checkpointer.list({"configurable": {"thread_id": source_id}}))
    for tup in reversed(tuples):
        namespace = tup.config["configurable"].get("checkpoint_ns", "")
        parent = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        target = {
            "configurable": {
                "thread_id": target_id,
                "checkpoint_ns": namespace,
                **({"checkpoint_id": parent} if parent else {}),
            }
        }
        saved = checkpointer.put(
            target, tup.checkpoint, tup.metadata, tup.checkpoint.get("channel_versions", {})
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in tup.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            checkpointer.put_writes(saved, writes, task_id)


@router.get("/{thread_id}/state", summary="The thread's latest checkpoint")
def get_state(
    thread_id: str, session: SessionDep, runner: RunnerDep, _: ReaderDep
) -> dict[str, Any]:
    thread = run_store.get_thread(session, thread_id)
    snapshot = snapshot_of(runner, thread)
    if snapshot is None or snapshot.config is None or not snapshot.created_at:
        return empty_state(thread_id)
    return state_json(snapshot)


@router.post("/{thread_id}/history", summary="The thread's checkpoints, newest first")
def get_history(
    thread_id: str, body: HistoryRequest, session: SessionDep, runner: RunnerDep, _: ReaderDep
) -> list[dict[str, Any]]:
    thread = run_store.get_thread(session, thread_id)
    if thread.assistant_id is None:
        return []
    graph = runner.graph(thread.assistant_id)
    before = _before_config(thread_id, body.before)
    snapshots = graph.get_state_history(
        {"configurable": {"thread_id": thread_id}},
        limit=body.limit,
        before=before,
        filter=body.metadata or None,
    )
    return [state_json(s) for s in snapshots]


def _before_config(thread_id: str, before: dict[str, Any] | str | None) -> dict[str, Any] | None:
    if before is None:
        return None
    checkpoint_id = before if isinstance(before, str) else before.get("checkpoint_id")
    if not isinstance(checkpoint_id, str) or not checkpoint_id:
        raise ApiError(
            422,
            "before must be a checkpoint id or {checkpoint_id}",
            field="body.before",
            value=before,
        )
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }


@router.post("/{thread_id}/state", summary="Write messages into an idle thread (admin only)")
def update_state(
    thread_id: str,
    body: StateUpdate,
    session: SessionDep,
    runner: RunnerDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Graph state holds the approval flow, so only an admin may write it, only ``messages``,
    only as a plain update (no ``as_node``, no checkpoint fork) and only on an idle thread."""
    if Role.ADMIN not in principal.roles:
        raise ApiError(
            403,
            f"{principal.name!r} may not write graph state: only an admin may, and only "
            f"{sorted(UPDATABLE_KEYS)}",
            field="role",
            value=[str(r) for r in principal.roles],
        )
    if body.as_node is not None or body.checkpoint is not None or body.checkpoint_id is not None:
        raise ApiError(
            422,
            "as_node and checkpoints are not served: the graph writes its own steps",
            field="body.as_node",
            value=body.as_node,
        )
    thread = run_store.get_thread(session, thread_id)
    if thread.assistant_id is None or thread.status != "idle":
        raise conflict(
            f"thread {thread_id!r} is {thread.status}"
            + (" and has never run" if thread.assistant_id is None else "")
            + "; only an idle thread's messages may be written",
            field="thread_id",
            value=thread_id,
        )
    values = body.values or {}
    check_update_values(values, runner.catalog.specs[thread.assistant_id], "body.values")
    graph = runner.graph(thread.assistant_id)
    config = graph.update_state({"configurable": {"thread_id": thread_id}}, values)
    return {"checkpoint": config.get("configurable", {})}
