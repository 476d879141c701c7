"""The tools ops_chat offers a model, with schemas trimmed for small context windows.

Read tools come from the registry and gain a ``page`` argument (their results are summarised
and paged, ``compact``); the two proposal tools are the only way to ask for a change. Schema
``title`` keys repeat the property names and cost ~15 % of the schema tokens: they go.
"""

from __future__ import annotations

from typing import Any

from agents.graphs.ops_chat.compact import PAGE_ARG
from agents.llm.base import ToolDefinition
from agents.proposals import proposal_tools
from tools.registry import TOOLS

_PAGE_SCHEMA = {
    "type": "integer",
    "minimum": 1,
    "default": 1,
    "description": "Page of a long result (the result says when there is a next page).",
}


def _trim(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _trim(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_trim(v) for v in schema]
    return schema


def chat_tools() -> list[ToolDefinition]:
    """Read tools from the registry, plus the two proposal tools; no tool writes directly."""
    read = []
    for spec in TOOLS.values():
        if spec.kind != "read":
            continue
        tool = ToolDefinition.from_model(spec.name, spec.description, spec.input_model)
        parameters = _trim(tool.parameters)
        parameters.setdefault("properties", {})[PAGE_ARG] = _PAGE_SCHEMA
        read.append(tool.model_copy(update={"parameters": parameters}))
    proposals = [
        tool.model_copy(update={"parameters": _trim(tool.parameters)}) for tool in proposal_tools()
    ]
    return read + proposals
