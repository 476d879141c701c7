"""What clients download of chat state: summaries of tool results, not whole position tables.

A stock lookup or a transfer plan hands the model tens of kilobytes of JSON, and the state keeps
it so the model (and "why this transfer?") can read it again. A client only shows it, folded:
so the API's views of state (SSE events, ``/threads/{id}/state``, history, ``runs/wait``) carry
each large tool result summarised to a few kilobytes of still-valid JSON — the model's own
summariser (``agents.graphs.ops_chat.compact.summarise``) with a small budget: totals first (exact:
the tools compute them over every match), then the first rows, each list saying how many it shows
— large tool-call args likewise, and proposals as their one-line summaries. The checkpoint
itself is untouched.
"""

from __future__ import annotations

import json
from typing import Any

from agents.graphs.ops_chat.compact import summarise

#: A tool result or tool-call args larger than this (characters of JSON) is summarised ...
SUMMARY_CHARS = 3_000
#: ... to about this many tokens (≈ SUMMARY_CHARS of ASCII JSON).
SUMMARY_TOKENS = 850
#: The fields of a proposal record a client needs to list it.
PROPOSAL_FIELDS = ("kind", "subject_id", "summary", "requested_by", "units", "value", "cost")


def lean_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    if message.get("type") == "tool" and isinstance(message.get("content"), str):
        content = message["content"]
        if len(content) > SUMMARY_CHARS:
            return {**message, "content": _shorten_text(str(message.get("name")), content)}
        return message
    calls = message.get("tool_calls")
    if message.get("type") == "ai" and calls:
        return {**message, "tool_calls": [_lean_call(call) for call in calls]}
    return message


def _shorten_text(tool: str, content: str) -> str:
    try:
        payload = json.loads(content)
    except json.JSONDecodeError:
        return content[:SUMMARY_CHARS] + f"… ({len(content) - SUMMARY_CHARS} more characters)"
    if isinstance(payload, dict):
        return summarise(tool, payload, SUMMARY_TOKENS, for_model=False)
    return content[:SUMMARY_CHARS]


def _lean_call(call: Any) -> Any:
    args = call.get("args") if isinstance(call, dict) else None
    if not isinstance(args, dict):
        return call
    text = json.dumps(args, ensure_ascii=False, default=str)
    if len(text) <= SUMMARY_CHARS:
        return call
    summary = summarise(str(call.get("name")), args, SUMMARY_TOKENS, for_model=False)
    return {**call, "args": json.loads(summary)}


def lean_values(values: Any) -> Any:
    """A state's values as clients see them (see the module docstring)."""
    if not isinstance(values, dict):
        return values
    lean = dict(values)
    if isinstance(lean.get("messages"), list):
        lean["messages"] = [lean_message(m) for m in lean["messages"]]
    if isinstance(lean.get("proposals"), list):
        lean["proposals"] = [
            {k: p[k] for k in PROPOSAL_FIELDS if k in p} if isinstance(p, dict) else p
            for p in lean["proposals"]
        ]
    return lean


def lean_event(event: str, data: Any) -> Any:
    """One SSE event's data, lean; modes that carry no chat state pass through."""
    if event == "values":
        return lean_values(data)
    if event == "messages" and isinstance(data, list) and data:
        return [lean_message(data[0]), *data[1:]]
    if event == "updates" and isinstance(data, dict):
        return {node: lean_values(update) for node, update in data.items()}
    return data
