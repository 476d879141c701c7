"""Runs a graph on a thread for the API: admission, LangGraph-Platform event shapes, outcome.

The run itself (Run row, the thread's heartbeated lease, fencing, final status) is the one run
path of ``agents.runs``, shared with the worker, the CLI, evals and benchmarks; this module adds
what only HTTP needs: 404/409 answers and JSON-ready events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessageChunk
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.llm.tokens import STREAM_TOKENS_KEY, is_token_event
from agents.runs import AdmittedRun, LeaseHeld, admit_run, stream_run
from api import run_store
from api.auth import Principal
from api.errors import ApiError, conflict, not_found
from api.langgraph_compat.catalog import AssistantCatalog
from api.langgraph_compat.serialization import to_jsonable
from inventory.models import RunStatus

log = logging.getLogger(__name__)

#: Stream modes the SDKs request → LangGraph's own stream mode, or ``None``: accepted, and
#: nothing of that kind is streamed (no LangChain callback events or per-tool events come out of
#: these graphs). A client asking for them never gets a 422. ``messages-tuple`` carries the
#: model's token deltas (``agents.llm.tokens``) as AIMessageChunks, then the checked messages.
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


class ThreadBusy(ApiError):
    """409: another run holds the thread's lease (``multitask_strategy`` decides what next)."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(
            409,
            f"thread {thread_id!r} is busy with another run; wait for it to finish",
            field="thread_id",
            value=thread_id,
        )


@dataclass(frozen=True)
class RunTicket:
    """An admitted run holding its thread."""

    admitted: AdmittedRun
    principal: Principal
    graph_input: Any
    stream_modes: tuple[str, ...] = ("values",)
    #: A fork: ``{"configurable": {"checkpoint_id", "checkpoint_ns"}}`` the run starts from.
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.admitted.run_id

    @property
    def thread_id(self) -> str:
        return self.admitted.thread_id

    @property
    def assistant_id(self) -> str:
        return self.admitted.assistant_id


@dataclass
class RunOutcome:
    status: RunStatus
    values: dict[str, Any]
    interrupts: list[dict[str, Any]] = field(default_factory=list)
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
        claim_from: tuple[str, ...] | None = None,
    ) -> RunTicket:
        """Check the assistant and thread, then admit the run on the one run path (409 busy)."""
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
            if thread.assistant_id is None:
                thread.assistant_id = assistant_id
                session.add(thread)
                session.commit()
        try:
            admitted = admit_run(
                self.engine,
                thread_id=thread_id,
                assistant_id=assistant_id,
                trigger=trigger,
                run_input=run_input or {},
                actor=principal.name,
                run_id=run_id,
                claim_from=claim_from,
                configurable={
                    "principal": principal.as_resume_principal(),
                    # proposals are recorded under the person who asked, so four-eyes can hold
                    "requested_by": principal.name,
                    # a client streaming messages sees the model's tokens as they come
                    STREAM_TOKENS_KEY: "messages-tuple" in stream_modes,
                },
            )
        except LeaseHeld:
            raise ThreadBusy(thread_id) from None
        return RunTicket(
            admitted=admitted,
            principal=principal,
            graph_input=graph_input,
            stream_modes=stream_modes,
        )

    def execute(self, ticket: RunTicket) -> Iterator[tuple[str, Any]]:
        """Run the graph; yield ``(event, json_data)`` per chunk; the run is always closed."""
        graph = self.graph(ticket.assistant_id)
        modes = [native for m in ticket.stream_modes if (native := STREAM_MODES[m])]
        # Token deltas travel in the graph's custom stream; they leave as ``messages`` chunks.
        internal = [*modes, "custom"] if "messages" in modes and "custom" not in modes else modes
        try:
            for mode, chunk in stream_run(
                self._forked(ticket),
                graph,
                ticket.graph_input,
                stream_mode=internal or ["updates"],
            ):
                if mode == "custom" and is_token_event(chunk):
                    if "messages" in modes:
                        yield "messages", token_chunk(chunk, ticket)
                    continue
                if mode in modes:  # the modes asked for; nothing when only unserved ones were
                    yield mode, to_jsonable(chunk)
        except Exception as exc:
            log.exception("run %s on thread %s failed", ticket.run_id, ticket.thread_id)
            yield "error", {"error": type(exc).__name__, "message": str(exc)}

    def run_to_end(self, ticket: RunTicket) -> RunOutcome:
        """Run without a listener (``runs/wait``, the worker, REST decisions)."""
        graph = self.graph(ticket.assistant_id)
        try:
            for _ in stream_run(self._forked(ticket), graph, ticket.graph_input):
                pass
        except Exception as exc:
            log.exception("run %s on thread %s failed", ticket.run_id, ticket.thread_id)
            return RunOutcome(
                status=RunStatus.FAILED,
                values={},
                error={"error": type(exc).__name__, "message": str(exc)},
            )
        result = ticket.admitted.result
        assert result is not None
        return RunOutcome(
            status=result.status,
            values=to_jsonable(result.values) or {},
            interrupts=[
                {"value": to_jsonable(i["value"]), "id": i["id"]} for i in result.interrupts
            ],
        )

    @staticmethod
    def _forked(ticket: RunTicket) -> AdmittedRun:
        """The admitted run, starting from the ticket's fork checkpoint when it has one."""
        fork = ticket.config.get("configurable") or {}
        ticket.admitted.configurable.update(fork)
        return ticket.admitted


def token_chunk(event: dict[str, Any], ticket: RunTicket) -> list[Any]:
    """A token delta as the LangGraph API streams it in ``messages-tuple``: an AIMessageChunk
    (its id is the final message's, so clients replace the chunks with it) and its metadata."""
    chunk = AIMessageChunk(content=str(event.get("delta", "")), id=str(event.get("id", "")))
    metadata = {
        "langgraph_node": "agent",
        "run_id": ticket.run_id,
        "thread_id": ticket.thread_id,
        "assistant_id": ticket.assistant_id,
    }
    return [to_jsonable(chunk), metadata]
