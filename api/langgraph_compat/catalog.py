"""Which assistants the compatible API serves, and their compiled graphs.

The API is generic over ``build_graph(assistant_id, runtime, checkpointer)``: the service uses
the agents' registry; tests and embedders may hand in their own graphs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel


@dataclass(frozen=True)
class AssistantSpec:
    assistant_id: str
    name: str
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: What a run's ``input`` must match (None: any JSON object, for embedders' own graphs).
    input_model: type[BaseModel] | None = None
    #: False: the assistant never starts from a run's input (e.g. alerts: signed webhook only).
    starts_from_input: bool = True


class AssistantCatalog(Protocol):
    """Assistants by id and a compiled (checkpointed) graph for each."""

    @property
    def specs(self) -> Mapping[str, AssistantSpec]: ...

    def graph(self, assistant_id: str) -> CompiledStateGraph: ...


class StaticCatalog:
    """Graphs compiled elsewhere, each already bound to a checkpointer."""

    def __init__(self, graphs: Mapping[str, tuple[AssistantSpec, CompiledStateGraph]]) -> None:
        self._graphs = dict(graphs)

    @property
    def specs(self) -> Mapping[str, AssistantSpec]:
        return {key: spec for key, (spec, _) in self._graphs.items()}

    def graph(self, assistant_id: str) -> CompiledStateGraph:
        return self._graphs[assistant_id][1]


class RegistryCatalog:
    """The agents' registry (``agents.registry``), compiled once per assistant on first use."""

    def __init__(self, runtime: Any, checkpointer: Any) -> None:
        from agents import registry

        self._registry = registry
        self._runtime = runtime
        self._checkpointer = checkpointer
        self._compiled: dict[str, CompiledStateGraph] = {}
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Any:
        """The agents' runtime (engine, connectors, dispatch settings) the graphs run with."""
        return self._runtime

    @property
    def specs(self) -> Mapping[str, AssistantSpec]:
        return {
            key: AssistantSpec(
                assistant_id=key,
                name=key,
                description=_describe(entry),
                input_model=entry.run_input,
                starts_from_input=entry.run_input is not None,
            )
            for key, entry in self._registry.ASSISTANTS.items()
        }

    def graph(self, assistant_id: str) -> CompiledStateGraph:
        with self._lock:
            if assistant_id not in self._compiled:
                self._compiled[assistant_id] = self._registry.build_graph(
                    assistant_id, self._runtime, self._checkpointer
                )
            return self._compiled[assistant_id]


def _describe(entry: Any) -> str:
    for attr in ("description", "__doc__"):
        text = getattr(entry, attr, None)
        if isinstance(text, str) and text.strip():
            return text.strip().splitlines()[0]
    return ""
