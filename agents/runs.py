"""The one way to run a graph on a thread: a Run row, the thread's lease, the outcome.

The API (SDK runs, REST decisions), the worker, the CLI, evals and the benchmark all go through
``admit_run`` + ``stream_run`` (or ``run_graph``, both at once), so every run is admitted the
same way, holds its thread under one heartbeated, fenced lease (``agents.lease``), and ends with
its status written by the holder that still owns it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor.audit import record_event
from agents.lease import Lease, LeaseHeld, LeaseLost, acquire_lease, holding
from inventory.config import get_settings
from inventory.models import AgentThread, Run, RunStatus

log = logging.getLogger(__name__)

UpdateHook = Callable[[dict[str, Any]], None]

__all__ = [
    "AdmittedRun",
    "LeaseHeld",
    "LeaseLost",
    "RunResult",
    "admit_run",
    "input_record",
    "new_run_id",
    "new_thread",
    "run_graph",
    "stream_run",
]


class RunResult(BaseModel):
    run_id: str
    thread_id: str
    assistant_id: str
    status: RunStatus
    values: dict[str, Any] = Field(description="The thread's state after the run.")
    interrupts: list[dict[str, Any]] = Field(
        default_factory=list, description="HITL requests waiting for a decision."
    )
    error: str | None = None


def new_run_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel | BaseMessage):
        return value.model_dump(mode="json")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return repr(value)


def input_record(payload: dict[str, Any] | Command | None) -> dict[str, Any]:
    """The run's input as plain JSON for the Run row (messages in LangChain dict form)."""
    record = (
        {"command": {"resume": payload.resume}}
        if isinstance(payload, Command)
        else {"input": payload}
    )
    return json.loads(json.dumps(record, default=_json_default))


def new_thread(
    session: Session,
    *,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_by: str,
    assistant_id: str | None = None,
) -> AgentThread:
    """Add an idle thread (the caller commits): the API's threads and admitted alerts alike."""
    now = utcnow()
    thread = AgentThread(
        id=thread_id or str(uuid.uuid4()),
        assistant_id=assistant_id,
        status="idle",
        created_by=created_by,
        thread_metadata=metadata or {},
        created_at=now,
        updated_at=now,
    )
    session.add(thread)
    return thread


def new_run(
    *,
    thread_id: str,
    assistant_id: str,
    trigger: str,
    status: RunStatus,
    run_input: dict[str, Any],
    run_id: str | None = None,
) -> Run:
    now = utcnow()
    return Run(
        id=run_id or new_run_id(),
        assistant_id=assistant_id,
        thread_id=thread_id,
        trigger=trigger,
        status=str(status),
        input=run_input,
        created_at=now,
        updated_at=now,
    )


def record_run(session: Session, run: Run, *, actor: str) -> Run:
    """Add ``run`` with its audit row (``run.<status>``)."""
    session.add(run)
    record_event(
        session,
        at=run.created_at,
        actor=actor,
        kind=f"run.{run.status}",
        subject_type="run",
        subject_id=run.id,
        run_id=run.id,
        payload={
            "assistant_id": run.assistant_id,
            "thread_id": run.thread_id,
            "trigger": run.trigger,
        },
    )
    return run


@dataclass
class AdmittedRun:
    """A run holding its thread's lease, ready to execute."""

    run_id: str
    thread_id: str
    assistant_id: str
    lease: Lease
    configurable: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    result: RunResult | None = None

    def config(self) -> dict[str, Any]:
        return {
            "configurable": {
                **self.configurable,
                "thread_id": self.thread_id,
                "run_id": self.run_id,
            },
            "metadata": {
                **self.metadata,
                "run_id": self.run_id,
                "assistant_id": self.assistant_id,
            },
        }


def admit_run(
    engine: Engine,
    *,
    thread_id: str,
    assistant_id: str,
    trigger: str,
    run_input: dict[str, Any] | None = None,
    actor: str = "stockpilot",
    run_id: str | None = None,
    configurable: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    ttl_s: float | None = None,
    claim_from: tuple[str, ...] | None = None,
) -> AdmittedRun:
    """Record the run (or take up the existing ``run_id``) and take its thread's lease
    (``ttl_s``, default ``STOCKPILOT_RUN_LEASE_S``; renewed every third of it while it runs).

    Raises LeaseHeld when a live run holds the thread (or the existing run is no longer in one
    of ``claim_from``: someone else finished it); then nothing is written.
    """
    ttl_s = ttl_s or get_settings().run_lease_s
    with Session(engine) as session:
        existing = session.get(Run, run_id) if run_id else None
    fresh = None
    if existing is None:
        fresh = new_run(
            thread_id=thread_id,
            assistant_id=assistant_id,
            trigger=trigger,
            status=RunStatus.RUNNING,
            run_input=run_input or {},
            run_id=run_id,
        )
    lease = acquire_lease(
        engine,
        run_id=fresh.id if fresh else existing.id,  # type: ignore[union-attr]
        thread_id=thread_id,
        ttl_s=ttl_s,
        actor=actor,
        new_run=(lambda session: record_run(session, fresh, actor=actor)) if fresh else None,
        claim_from=claim_from,
    )
    return AdmittedRun(
        run_id=lease.run_id,
        thread_id=thread_id,
        assistant_id=assistant_id,
        lease=lease,
        configurable=dict(configurable or {}),
        metadata=dict(metadata or {}),
    )


def stream_run(
    admitted: AdmittedRun,
    graph: CompiledStateGraph,
    payload: dict[str, Any] | Command | None,
    *,
    stream_mode: str | list[str] = "updates",
) -> Iterator[Any]:
    """Execute the admitted run, yielding LangGraph's stream chunks; always end the run.

    The lease is renewed while the graph runs and checked between supersteps; a run that lost
    it stops (``LeaseLost``) and writes nothing more. ``admitted.result`` holds the outcome.
    """
    lease = admitted.lease
    config = admitted.config()
    status, error = RunStatus.FAILED, "the run was cancelled"
    try:
        with holding(lease):
            for chunk in graph.stream(payload, config, stream_mode=stream_mode):
                lease.check()
                yield chunk
            lease.check()
            snapshot = graph.get_state(config)
        interrupts = [{"id": item.id, "value": item.value} for item in snapshot.interrupts]
        status = RunStatus.INTERRUPTED if interrupts else RunStatus.SUCCEEDED
        error = None
        admitted.result = RunResult(
            run_id=admitted.run_id,
            thread_id=admitted.thread_id,
            assistant_id=admitted.assistant_id,
            status=status,
            values=dict(snapshot.values),
            interrupts=interrupts,
        )
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("run %s on thread %s failed: %s", admitted.run_id, admitted.thread_id, error)
        raise
    finally:
        lease.close(status, error=error)


def run_graph(
    runtime: Any,
    graph: CompiledStateGraph,
    *,
    assistant_id: str,
    thread_id: str,
    payload: dict[str, Any] | Command | None,
    trigger: str = "cli",
    on_update: UpdateHook | None = None,
    lease_ttl_s: float | None = None,
    requested_by: str | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run ``graph`` on ``thread_id`` until it ends or waits for a human.

    ``runtime`` is an AgentRuntime or an Engine. ``payload`` is the input, a
    ``Command(resume=...)`` answering an interrupt, or None to carry on from the last checkpoint
    (after a crash). ``on_update`` sees each node's update as it lands. ``requested_by`` names
    the person asking (chat): proposals are recorded under that name, so four-eyes can tell the
    requester from the approver.
    """
    engine = runtime if isinstance(runtime, Engine) else runtime.engine
    admitted = admit_run(
        engine,
        thread_id=thread_id,
        assistant_id=assistant_id,
        trigger=trigger,
        run_input=input_record(payload),
        actor=requested_by or trigger,
        run_id=run_id,
        configurable={"requested_by": requested_by} if requested_by else None,
        ttl_s=lease_ttl_s,
    )
    for chunk in stream_run(admitted, graph, payload):
        if on_update is not None:
            on_update(chunk)
    assert admitted.result is not None
    return admitted.result


#: Outcome statuses whose side effect sits in the outbox, waiting for the dispatcher.
_WAITING = {"queued", "approved", "auto_approved"}


def send_own_orders(runtime: Any, result: RunResult) -> RunResult:
    """Send this run's own decided side effects now and show what became of them.

    For a person at a terminal (the CLI) who expects to see the WMS reference: only the rows of
    the subjects this run decided are sent, never anybody else's backlog. The service leaves
    this to its dispatcher loop.
    """
    from agents.executor.dispatcher import Dispatcher
    from agents.graphs.common.subjects import settled_outcome

    outcomes: dict[str, Any] = dict(result.values.get("outcomes") or {})
    kinds = {p["subject_id"]: p["kind"] for p in result.values.get("proposals") or []}
    waiting = [s for s, o in outcomes.items() if o.get("status") in _WAITING and s in kinds]
    if not waiting:
        return result
    Dispatcher(
        runtime.engine, runtime.connectors, clock=runtime.clock, settings=runtime.dispatch
    ).run_pending(subject_ids=waiting)
    with Session(runtime.engine) as session:
        for subject_id in waiting:
            status, ref = settled_outcome(session, kinds[subject_id], subject_id)
            outcomes[subject_id] = {**outcomes[subject_id], "status": status, "external_ref": ref}
    return result.model_copy(update={"values": {**result.values, "outcomes": outcomes}})
