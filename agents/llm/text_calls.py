"""Tool calls a model wrote as text instead of through the tool-calling interface.

Small local models served without a tool-call parser (llama.cpp, some Ollama templates) answer
with the call in their chat template's own markup: Hermes/Qwen ``<tool_call>{...}</tool_call>``,
a fenced ```json block, Mistral ``[TOOL_CALLS][...]``, or a bare JSON object. Qwen2.5-Coder-1.5B
also imitates the ``<tools></tools>`` block its template puts the tool signatures in
(``<tools>{"name": ..., "arguments": ...}</tools>``, ``<tools><function name="..."
parameters='{...}'>``), Llama 3.1 writes ``<function=name>{...}</function>``, and a bare object
may name its tool under ``function`` (``{"function": "plan_transfers", "arguments": {...}}``) --
all recorded live (docs/llm.md). Shown to the user as is, that reads as gibberish; here it
becomes tool calls, or a clear reason why it cannot (cut off at the output limit, not JSON, or
the tool's schema copied instead of a call).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_TOOLS = re.compile(r"<tools>\s*(.*?)\s*(?:</tools>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*(.*?)```", re.DOTALL)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(.*)", re.DOTALL)
#: ``<function name="x" parameters='{...}'>`` (or ``arguments=``), the JSON in either quotes.
_FUNCTION_TAG = re.compile(
    r"""<function\s+name\s*=\s*(["'])(?P<name>[^"'<>]+)\1\s+(?:parameters|arguments)\s*=\s*"""
    r"""(?P<q>["'])(?P<args>.*?)(?P=q)\s*/?>""",
    re.DOTALL,
)
#: Llama 3.1's ``<function=name>{...}</function>``.
_FUNCTION_EQ = re.compile(
    r"<function=(?P<name>[\w.-]+)>\s*(?P<args>.*?)\s*(?:</function>|$)", re.DOTALL
)
_FUNCTION_OPEN = re.compile(r"<function[\s=]")
#: Markers that say "this text is meant as a tool call" even when it cannot be parsed.
_MARKERS = re.compile(r"<tool_call>|<tools>|<function[\s=]|\[TOOL_CALLS\]|<\|python_tag\|>")
#: A key that names the tool in a call written as JSON.
_CALL_KEYS = ('"name"', '"function"')


@dataclass(frozen=True)
class TextCalls:
    """What the text held: parsed calls, or why calls that are clearly there cannot be used;
    ``form`` names the markup (for the repair's record)."""

    calls: list[tuple[str, Any]]
    problem: str | None = None
    form: str = ""

    @property
    def found(self) -> bool:
        return bool(self.calls) or self.problem is not None


class _Schema(ValueError):
    """A tool's signature copied from the prompt (``parameters`` is a JSON schema), not a call."""


def _is_schema(args: Any) -> bool:
    return isinstance(args, dict) and args.get("type") == "object" and "properties" in args


def _as_call(obj: Any) -> tuple[str, Any] | None:
    """``{"name", "arguments"|"parameters"}`` (or OpenAI's ``{"function": {...}}``, or
    ``{"function": "<name>", "arguments": ...}``) → a call."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if name is None and isinstance(obj.get("function"), str):
        name = obj["function"]  # recorded live: {"function": "plan_transfers", "arguments": {}}
    if not isinstance(name, str) or not name:
        return None
    if "arguments" not in obj and "parameters" not in obj:
        return None  # {"name": ...} alone is more likely data than a call
    args = obj.get("arguments", obj.get("parameters"))
    if _is_schema(args):
        raise _Schema(name)
    return name, args


def _schema_problem(name: str) -> str:
    return (
        f"that is the signature of {name} (its JSON schema), not a call; call it with the "
        "argument values"
    )


def _parse_blob(blob: str) -> list[tuple[str, Any]] | str:
    """Calls in one JSON blob (an object or a list of them), or why not."""
    try:
        data = json.loads(blob)
    except json.JSONDecodeError as exc:
        return f"the tool call written as text is not valid JSON ({exc.msg} at position {exc.pos})"
    items = data if isinstance(data, list) else [data]
    try:
        calls = [call for item in items if (call := _as_call(item)) is not None]
    except _Schema as exc:
        return _schema_problem(str(exc))
    if len(calls) != len(items) or not calls:
        return 'a tool call written as text needs {"name": ..., "arguments": {...}}'
    return calls


def _function_tags(text: str) -> TextCalls | None:
    """Calls written as ``<function ...>`` tags (inside ``<tools>`` or not); None when there
    are none. Every tag must be whole: one cut off at the output limit refuses them all (the
    calls meant together are not run in part)."""
    opened = len(_FUNCTION_OPEN.findall(text))
    if not opened:
        return None
    form = "function tags"
    calls: list[tuple[str, Any]] = []
    found = [(m["name"], m["args"], m["q"]) for m in _FUNCTION_TAG.finditer(text)]
    found += [(m["name"], m["args"], "") for m in _FUNCTION_EQ.finditer(text)]
    if len(found) < opened:
        return TextCalls(
            [], problem="a tool call written as text was cut off or is not readable", form=form
        )
    for name, raw, quote in found:
        raw = html.unescape(raw) if quote == '"' else raw
        try:
            args = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            return TextCalls(
                [],
                problem=f"the arguments of {name} written as text are not valid JSON "
                f"({exc.msg} at position {exc.pos})",
                form=form,
            )
        if _is_schema(args):
            return TextCalls([], problem=_schema_problem(name), form=form)
        calls.append((name.strip(), args))
    return TextCalls(calls, form=form)


def parse_text_calls(text: str) -> TextCalls:
    """Tool calls in ``text``; ``TextCalls([])`` when it is an ordinary answer."""
    stripped = text.strip()
    if not stripped:
        return TextCalls([])
    form = ""
    if blobs := _HERMES.findall(stripped):
        form = "Hermes tool_call"
    elif blobs := _MISTRAL.findall(stripped):
        form = "Mistral TOOL_CALLS"
    elif (tags := _function_tags(stripped)) is not None:
        return tags
    elif blobs := [b for b in _TOOLS.findall(stripped) if b]:
        form = "Qwen tools block"
    marked = bool(blobs)  # markup that only a call uses: a blob that fails is refused
    if not blobs:
        fenced = [b for b in _FENCED.findall(stripped) if any(k in b for k in _CALL_KEYS)]
        whole = (
            stripped
            if stripped.startswith("{") and any(k in stripped for k in _CALL_KEYS)
            else None
        )
        blobs = fenced or ([whole] if whole else [])
        form = "fenced JSON" if fenced else "bare JSON"
    if not blobs:
        if _MARKERS.search(stripped):
            return TextCalls([], problem="a tool call written as text could not be read")
        return TextCalls([])
    calls: list[tuple[str, Any]] = []
    for blob in blobs:
        parsed = _parse_blob(blob)
        if isinstance(parsed, str):
            # A fenced block or bare object that is not a call may be an ordinary answer; a
            # copied signature is not one either way.
            if not marked and not parsed.startswith("that is the signature"):
                return TextCalls([])
            return TextCalls([], problem=parsed, form=form)
        calls.extend(parsed)
    return TextCalls(calls, form=form)


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
