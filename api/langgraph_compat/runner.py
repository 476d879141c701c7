"""Runs a graph on a thread: admission, streaming in LangGraph-Platform event shapes, bookkeeping.

Every run — from the SDK, the REST approvals or the alert worker — goes through here, so the
thread's busy flag, the run row and the audit trail are kept the same way for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import run_store
from api.auth import Principal
from api.errors import ApiError, conflict, not_found
from api.langgraph_compat.catalog import AssistantCatalog
from api.langgraph_compat.serialization import interrupt_json, to_jsonable
from inventory.models import Run, RunStatus

log = logging.getLogger(__name__)

#: Stream modes the SDKs request → LangGraph's own stream mode, or ``None``: accepted, and
#: nothing of that kind is streamed (no LLM token deltas, LangChain callback events or
#: per-tool events come out of these graphs). A client asking for them never gets a 422.
STREAM_MODES: dict[str, str | None] = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "custom": "custom",
    "debug": "debug",
    "checkpoints": "checkpoints",
    "tasks": "tasks",
    "messages": None,
    "events": None,
    "tools": None,
    "lifecycle": None,
}


@dataclass(frozen=True)
class RunTicket:
    """An admitted run holding its thread."""

    run_id: str
    thread_id: str
    assistant_id: str
    principal: Principal
    graph_input: Any
    stream_modes: tuple[str, ...] = ("values",)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    status: RunStatus
    values: dict[str, Any]
    interrupts: list[dict[str, Any]]
    error: dict[str, str] | None = None


def parse_stream_modes(stream_mode: str | list[str] | None) -> tuple[str, ...]:
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode or ["values"])
    for mode in modes:
        if mode not in STREAM_MODES:
            raise ApiError(
                422,
                f"stream_mode {mode!r} is not served; use one of {sorted(STREAM_MODES)}",
                field="body.stream_mode",
                value=mode,
            )
    return tuple(dict.fromkeys(modes)) or ("values",)


class GraphRunner:
    def __init__(self, engine: Engine, catalog: AssistantCatalog) -> None:
        self.engine = engine
        self.catalog = catalog

    def graph(self, assistant_id: str) -> CompiledStateGraph:
        if assistant_id not in self.catalog.specs:
            raise not_found("assistant", assistant_id, field="assistant_id")
        return self.catalog.graph(assistant_id)

    def admit(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        principal: Principal,
        graph_input: Any,
        trigger: str = "chat",
        stream_modes: tuple[str, ...] = ("values",),
        run_input: dict[str, Any] | None = None,
        run_id: str | None = None,
        takeover: bool = False,
        lease_owner: str | None = None,
    ) -> RunTicket:
        """Check the assistant and thread, take the thread, and record the run as running."""
        self.graph(assistant_id)
        with Session(self.engine, expire_on_commit=False) as session:
            thread = run_store.get_thread(session, thread_id)
            if thread.assistant_id not in (None, assistant_id):
                raise conflict(
                    f"thread {thread_id!r} belongs to assistant {thread.assistant_id!r}, "
                    f"not {assistant_id!r}; start a new thread",
                    field="assistant_id",
                    value=assistant_id,
                )
        run_store.claim_thread(self.engine, thread_id, assistant_id, takeover=takeover)
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                if run_id is None or session.get(Run, run_id) is None:
                    run = run_store.record_run(
                        session,
                        thread_id=thread_id,
                        assistant_id=assistant_id,
                        trigger=trigger,
                        status=RunStatus.RUNNING,
                        run_input=run_input or {},
                        actor=principal.name,
                        run_id=run_id,
                    )
                    run_id = run.id
                session.commit()
            run_store.set_run_status(
                self.engine, run_id, RunStatus.RUNNING, lease_owner=lease_owner
            )
        except Exception:
            run_store.release_thread(self.engine, thread_id, "idle")
            raise
        return RunTicket(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            principal=principal,
            graph_input=graph_input,
            stream_modes=stream_modes,
        )

    def config_for(self, ticket: RunTicket) -> dict[str, Any]:
        return {
            "configurable": {
                # a fork: the checkpoint the run starts from (RunTicket.config, set by the API)
                **ticket.config.get("configurable", {}),
                "thread_id": ticket.thread_id,
                "principal": ticket.principal.as_resume_principal(),
                # proposals are recorded under the person who asked, so four-eyes can hold
                "requested_by": ticket.principal.name,
                "run_id": ticket.run_id,
            },
            "metadata": {"run_id": ticket.run_id, "assistant_id": ticket.assistant_id},
        }

    def execute(self, ticket: RunTicket) -> Iterator[tuple[str, Any]]:
        """Run the graph; yield ``(event, json_data)`` per chunk; always close the run properly."""
        graph = self.graph(ticket.assistant_id)
        config = self.config_for(ticket)
        modes = [native for m in ticket.stream_modes if (native := STREAM_MODES[m])]
        outcome: RunOutcome | None = None
        try:
            for mode, chunk in graph.stream(
                ticket.graph_input, config, stream_mode=modes or ["updates"]
            ):
                if modes:  # the modes asked for; nothing when only unserved modes were asked
                    yield mode, to_jsonable(chunk)
            outcome = self._outcome(graph, config)
        except Exception as exc:
            log.exception("run %s on thread %s failed", ticket.run_id, ticket.thread_id)
            outcome = RunOutcome(
                status=RunStatus.FAILED,
                values={},
                interrupts=[],
                error={"error": type(exc).__name__, "message": str(exc)},
            )
            yield "error", outcome.error
        finally:
            self._close(ticket, outcome)

    def run_to_end(self, ticket: RunTicket) -> RunOutcome:
        """Run without a listener (``runs/wait``, the worker, REST decisions)."""
        graph = self.graph(ticket.assistant_id)
        config = self.config_for(ticket)
        outcome: RunOutcome | None = None
        try:
            for _ in graph.stream(ticket.graph_input, config, stream_mode="updates"):
                pass
            outcome = self._outcome(graph, config)
        except Exception as exc:
            log.exception("run %s on thread %s failed", ticket.run_id, ticket.thread_id)
            outcome = RunOutcome(
                status=RunStatus.FAILED,
                values={},
                interrupts=[],
                error={"error": type(exc).__name__, "message": str(exc)},
            )
        finally:
            self._close(ticket, outcome)
        return outcome

    def _outcome(self, graph: CompiledStateGraph, config: dict[str, Any]) -> RunOutcome:
        state = graph.get_state(config)
        interrupts = [interrupt_json(i) for i in state.interrupts]
        status = RunStatus.INTERRUPTED if interrupts else RunStatus.SUCCEEDED
        return RunOutcome(
            status=status, values=to_jsonable(state.values) or {}, interrupts=interrupts
        )

    def _close(self, ticket: RunTicket, outcome: RunOutcome | None) -> None:
        if outcome is None:  # the listener went away mid-run (generator closed)
            outcome = RunOutcome(status=RunStatus.FAILED, values={}, interrupts=[])
            outcome.error = {"error": "Cancelled", "message": "the run was cancelled"}
        thread_status = {
            RunStatus.INTERRUPTED: "interrupted",
            RunStatus.SUCCEEDED: "idle",
        }.get(outcome.status, "error")
        try:
            run_store.set_run_status(
                self.engine,
                ticket.run_id,
                outcome.status,
                error=outcome.error["message"] if outcome.error else None,
            )
        finally:
            run_store.release_thread(self.engine, ticket.thread_id, thread_status)
