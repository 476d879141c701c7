"""Tool calls a model wrote as text instead of through the tool-calling interface.

Small local models served without a tool-call parser (llama.cpp, some Ollama templates) answer
with the call in their chat template's own markup: Hermes/Qwen ``<tool_call>{...}</tool_call>``,
a fenced ```json block, Mistral ``[TOOL_CALLS][...]``, or a bare JSON object. Shown to the user
as is, that reads as gibberish; here it becomes tool calls, or a clear reason why it cannot.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*(.*?)```", re.DOTALL)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(.*)", re.DOTALL)
#: Markers that say "this text is meant as a tool call" even when it cannot be parsed.
_MARKERS = re.compile(r"<tool_call>|<function=|\[TOOL_CALLS\]|<\|python_tag\|>")


@dataclass(frozen=True)
class TextCalls:
    """What the text held: parsed calls, or why calls that are clearly there cannot be used."""

    calls: list[tuple[str, Any]]
    problem: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.calls) or self.problem is not None


def _as_call(obj: Any) -> tuple[str, Any] | None:
    """``{"name", "arguments"|"parameters"}`` (or OpenAI's ``{"function": {...}}``) → a call."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    if "arguments" not in obj and "parameters" not in obj:
        return None  # {"name": ...} alone is more likely data than a call
    return name, obj.get("arguments", obj.get("parameters"))


def _parse_blob(blob: str) -> list[tuple[str, Any]] | str:
    """Calls in one JSON blob (an object or a list of them), or why not."""
    try:
        data = json.loads(blob)
    except json.JSONDecodeError as exc:
        return f"the tool call written as text is not valid JSON ({exc.msg} at position {exc.pos})"
    items = data if isinstance(data, list) else [data]
    calls = [call for item in items if (call := _as_call(item)) is not None]
    if len(calls) != len(items) or not calls:
        return 'a tool call written as text needs {"name": ..., "arguments": {...}}'
    return calls


def parse_text_calls(text: str) -> TextCalls:
    """Tool calls in ``text``; ``TextCalls([])`` when it is an ordinary answer."""
    stripped = text.strip()
    if not stripped:
        return TextCalls([])
    blobs = _HERMES.findall(stripped) or _MISTRAL.findall(stripped)
    if not blobs:
        fenced = [b for b in _FENCED.findall(stripped) if '"name"' in b]
        whole = stripped if stripped.startswith("{") and '"name"' in stripped else None
        blobs = fenced or ([whole] if whole else [])
    if not blobs:
        if _MARKERS.search(stripped):
            return TextCalls([], problem="a tool call written as text could not be read")
        return TextCalls([])
    calls: list[tuple[str, Any]] = []
    for blob in blobs:
        parsed = _parse_blob(blob)
        if isinstance(parsed, str):
            # A fenced block or bare object that is not a call may be an ordinary answer.
            if not _HERMES.search(stripped) and not _MISTRAL.search(stripped):
                return TextCalls([])
            return TextCalls([], problem=parsed)
        calls.extend(parsed)
    return TextCalls(calls)


#: Chat-template control tokens (ChatML/Qwen, Llama 3, Phi) a server should stop on, not send.
_TEMPLATE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|end_of_text|begin_of_text|eot_id|eom_id|"
    r"start_header_id|end_header_id|end|user|assistant|system)\|>"
)
#: The opening of the assistant's own turn, which a server may echo before the reply.
_OPENING = re.compile(
    r"^\s*(?:<\|begin_of_text\|>)?\s*(?:<\|im_start\|>\s*assistant\b|<\|start_header_id\|>\s*"
    r"assistant\s*<\|end_header_id\|>|<\|assistant\|>)\s*"
)


def strip_template_tokens(text: str) -> str:
    """``text`` without chat-template tokens: an opening of the assistant's turn is dropped, and
    the reply ends at the first other token (what follows it is a turn the model went on to
    imagine). A server that stops on its template's tokens never sends them (the dev server,
    benchmarks/dev_llm, did not: measured, Qwen2.5-1.5B's whole answer was ``<|im_start|>``).
    Text without such tokens is returned unchanged."""
    if not _TEMPLATE.search(text):
        return text
    text = _OPENING.sub("", text, count=1)
    cut = _TEMPLATE.search(text)
    return (text[: cut.start()] if cut else text).strip()
