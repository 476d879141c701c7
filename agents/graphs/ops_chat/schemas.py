"""The tools ops_chat offers a model, with schemas trimmed for small context windows.

Read tools come from the registry and gain a ``page`` argument (their results are summarised
and paged, ``compact``); the two proposal tools are the only way to ask for a change.

The schemas are sent with every call, so they are trimmed without changing what they accept:
``title`` keys (they repeat property names), ``Optional[X]`` written as ``anyOf [X, null]`` with
a null default (an optional ``X`` says the same), empty defaults, the input model's docstring
(the tool's description says it), and descriptions past their first sentence. Measured with
the system prompt: 3,700 → see ``docs/llm.md``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, create_model

from agents.graphs.ops_chat.compact import PAGE_ARG
from agents.graphs.ops_chat.plans import ChatTransferProposal
from agents.llm.base import ToolDefinition
from agents.proposals import PROPOSE_TRANSFER, proposal_tools
from tools.registry import TOOLS

_EMPTY_DEFAULTS = (None, "", [], {})
#: Longest description kept whole; longer ones keep their first sentence.
_MAX_DESCRIPTION = 90


def _short(text: str) -> str:
    if len(text) <= _MAX_DESCRIPTION:
        return text
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= _MAX_DESCRIPTION * 1.5 else first[:_MAX_DESCRIPTION] + "…"


def _trim(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_trim(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value in _EMPTY_DEFAULTS):
            continue
        if key == "description" and isinstance(value, str):
            out[key] = _short(value)
            continue
        out[key] = _trim(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (kept,) = [o for o in options if o != {"type": "null"}]
        out.pop("anyOf")
        out = {**kept, **out}
    return out


#: A nested model with more fields than this is shown as its field names (tuning knobs such as
#: plan_transfers' constraints: ~400 tokens on every call, rarely wanted in chat). The model may
#: still pass them; the tool's input model validates them.
_MAX_NESTED_FIELDS = 8


def _collapse_large_defs(parameters: dict[str, Any]) -> dict[str, Any]:
    defs = parameters.get("$defs") or {}
    large = {
        name: d for name, d in defs.items() if len(d.get("properties") or {}) > _MAX_NESTED_FIELDS
    }
    if not large:
        return parameters

    def swap(node: Any) -> Any:
        if isinstance(node, list):
            return [swap(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if name in large:
            fields = ", ".join(large[name]["properties"])
            text = large[name].get("description", "Options")
            return {"type": "object", "description": f"{text} Optional; fields: {fields}."}
        return {k: swap(v) for k, v in node.items() if k != "$defs"}

    out = swap(parameters)
    kept = {n: swap(d) for n, d in defs.items() if n not in large}
    if kept:
        out["$defs"] = kept
    return out


#: Arguments the chat's model is not shown: the API's cost caps and row limits (paging replaces
#: them in chat), the days-of-cover window and the alert plan's level backtest (the tool's
#: defaults apply; a model may still pass one, the input model validates it). A small model fills
#: every field it is shown, and each costs tokens on every call.
_NOT_SHOWN = ("limit_series", "limit", "cover_window_days", "level_backtest")
#: Arguments shown first: a small model fills the first fields it reads, and a question is
#: mostly about a city and a category, not one SKU (Qwen2.5-Coder-1.5B passed the schema's first
#: field, ``sku``, with its example value for "How many rain boots are left in Shanghai stores?").
_SCOPE_FIRST = ("city", "category", "location_kind", "region")


def _parameters(tool: ToolDefinition) -> dict[str, Any]:
    parameters = _collapse_large_defs(_trim(tool.parameters))
    parameters.pop("description", None)  # the model's docstring: the tool's description says it
    properties = parameters.get("properties") or {}
    for name in _NOT_SHOWN:
        if name not in (parameters.get("required") or []):
            properties.pop(name, None)
    first = [name for name in _SCOPE_FIRST if name in properties]
    if first:
        parameters["properties"] = {
            **{name: properties[name] for name in first},
            **{name: value for name, value in properties.items() if name not in first},
        }
    return parameters


def _paged(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with the chat's ``page`` argument, so a call with it validates (even when the
    tool's input forbids unknown fields); the tools node takes it off before the tool runs."""
    return create_model(
        f"{model.__name__}Paged",
        __base__=model,
        # no description: the system prompt says once what ``page`` does
        **{PAGE_ARG: (int, Field(default=1, ge=1))},
    )


def with_examples(tools: list[ToolDefinition], examples: dict[str, str]) -> list[ToolDefinition]:
    """``tools`` with the documentation's example codes (SHA-S01, RB001-BLK-38, ...) replaced by
    codes of the pool at hand, so a retailer's own code formats are what the model sees."""

    def swap(text: str) -> str:
        # Longest first: RB001-BLK-38 before RB001, so a SKU is not rewritten as a style.
        for doc, real in sorted(examples.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(rf"(?<![A-Za-z0-9-]){re.escape(doc)}(?![A-Za-z0-9-])", real, text)
        return text

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: swap(v) if k == "description" and isinstance(v, str) else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return [
        tool.model_copy(
            update={"description": swap(tool.description), "parameters": walk(tool.parameters)}
        )
        for tool in tools
    ]


def chat_tools() -> list[ToolDefinition]:
    """Read tools from the registry, plus the two proposal tools; no tool writes directly."""
    read = []
    for spec in TOOLS.values():
        if spec.kind != "read" or not spec.in_chat:
            continue
        tool = ToolDefinition.from_model(spec.name, spec.description, _paged(spec.input_model))
        read.append(tool.model_copy(update={"parameters": _parameters(tool), "lenient": True}))
    # In chat, propose_transfer also takes a plan's id (``plans``): its shipments are proposed.
    chat_transfer = ToolDefinition.from_model(
        PROPOSE_TRANSFER, ChatTransferProposal.__doc__ or "", ChatTransferProposal
    )
    proposals = [
        tool.model_copy(
            update={
                "parameters": _parameters(tool),
                "description": " ".join(tool.description.split()),
            }
        )
        for tool in [chat_transfer if t.name == PROPOSE_TRANSFER else t for t in proposal_tools()]
    ]
    return read + proposals
