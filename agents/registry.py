"""The assistants this service runs, by id: what the API, the CLI and evals build graphs from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from agents.graphs.alert_response import build_alert_response
from agents.graphs.ops_chat import build_ops_chat
from agents.graphs.ops_chat.inputs import ChatRunInput
from agents.runtime import AgentRuntime

GraphBuilder = Callable[[AgentRuntime, BaseCheckpointSaver | None], CompiledStateGraph]


@dataclass(frozen=True)
class Assistant:
    assistant_id: str
    description: str
    build: GraphBuilder
    #: What a run started through the API may carry as ``input``; None: such runs are refused
    #: (alert runs start only from a signed alert, and from the CLI or evals in-process).
    run_input: type[BaseModel] | None = None


ASSISTANTS: dict[str, Assistant] = {
    "ops_chat": Assistant(
        assistant_id="ops_chat",
        description=(
            "Ops chat: answers stock, forecast and transfer questions with the read-only tools; "
            "changes only as proposals through the policy gate and human approval."
        ),
        build=build_ops_chat,
        run_input=ChatRunInput,
    ),
    "alert_response": Assistant(
        assistant_id="alert_response",
        description=(
            "Weather alert response: triage, scope, forecast with the rain, plan transfers, "
            'policy gate, approval, execute, report. Input: {"alert": AlertPayload}.'
        ),
        build=build_alert_response,
    ),
}


def build_graph(
    assistant_id: str, runtime: AgentRuntime, checkpointer: BaseCheckpointSaver | None
) -> CompiledStateGraph:
    """The compiled graph of ``assistant_id``; KeyError names the known assistants."""
    try:
        assistant = ASSISTANTS[assistant_id]
    except KeyError:
        raise KeyError(
            f"unknown assistant {assistant_id!r}; known: {', '.join(ASSISTANTS)}"
        ) from None
    return assistant.build(runtime, checkpointer)
