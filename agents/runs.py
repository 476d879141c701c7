"""Running a graph on a thread as one recorded run: a Run row, the thread's lease, the outcome.

The API, the CLI, evals and the benchmark all go through here, so every run is admitted the same
way and no two workers ever advance one thread at once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field

from agents.lease import thread_lease
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import Run, RunStatus

UpdateHook = Callable[[dict[str, Any]], None]


class RunResult(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    status: RunStatus
    values: dict[str, Any] = Field(description="The thread's state after the run.")
    interrupts: list[dict[str, Any]] = Field(
        default_factory=list, description="HITL requests waiting for a decision."
    )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel | BaseMessage):
        return value.model_dump(mode="json")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return repr(value)


def _input_record(payload: dict[str, Any] | Command | None) -> dict[str, Any]:
    """The run's input as plain JSON for the Run row (messages in LangChain dict form)."""
    record = (
        {"command": {"resume": payload.resume}}
        if isinstance(payload, Command)
        else {"input": payload}
    )
    return json.loads(json.dumps(record, default=_json_default))


def run_graph(
    runtime: AgentRuntime,
    graph: CompiledStateGraph,
    *,
    assistant_id: str,
    thread_id: str,
    payload: dict[str, Any] | Command | None,
    trigger: str = "cli",
    on_update: UpdateHook | None = None,
    lease_ttl_s: float = 300.0,
    requested_by: str | None = None,
) -> RunResult:
    """Run ``graph`` on ``thread_id`` until it ends or waits for a human.

    ``payload`` is the input, a ``Command(resume=...)`` answering an interrupt, or None to carry on
    from the last checkpoint (after a crash). ``on_update`` sees each node's update as it lands.
    ``requested_by`` names the person asking (chat): proposals are recorded under that name, so
    four-eyes can tell the requester from the approver.
    """
    now = _utcnow()
    run_id = new_id("run")
    with session_scope(runtime.engine) as session:
        session.add(
            Run(
                id=run_id,
                assistant_id=assistant_id,
                thread_id=thread_id,
                trigger=trigger,
                status=RunStatus.RUNNING,
                input=_input_record(payload),
                created_at=now,
                updated_at=now,
            )
        )
    configurable: dict[str, Any] = {"thread_id": thread_id, "run_id": run_id}
    if requested_by:
        configurable["requested_by"] = requested_by
    config: dict[str, Any] = {"configurable": configurable}
    status, error = RunStatus.FAILED, None
    try:
        with thread_lease(
            runtime.engine, run_id=run_id, thread_id=thread_id, owner=worker_id(), ttl_s=lease_ttl_s
        ):
            for chunk in graph.stream(payload, config, stream_mode="updates"):
                if on_update is not None:
                    on_update(chunk)
            snapshot = graph.get_state(config)
        interrupts = [{"id": item.id, "value": item.value} for item in snapshot.interrupts]
        status = RunStatus.INTERRUPTED if interrupts else RunStatus.SUCCEEDED
        return RunResult(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            status=status,
            values=dict(snapshot.values),
            interrupts=interrupts,
        )
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with session_scope(runtime.engine) as session:
            run = session.get(Run, run_id)
            if run is not None:
                run.status, run.error, run.updated_at = status, error, _utcnow()
                session.add(run)
