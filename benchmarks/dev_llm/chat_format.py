"""Qwen2.5's chat template with tools, written out, and its Hermes tool calls read back.

The dev server (``benchmarks/dev_llm/server.py``) renders OpenAI-style messages into the prompt
Qwen2.5 was trained on, and turns ``<tool_call>{json}</tool_call>`` blocks in its output into
OpenAI ``tool_calls`` -- the part llama-cpp-python's bundled server leaves as text. Written out
rather than rendered from the GGUF's Jinja template so the server needs no Jinja and no
``transformers``; it matches Qwen2.5-Instruct's ``tokenizer_config.json`` template.

Pure Python, no model: the cassette tests import nothing from here, but the parser is small
enough to check by reading.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
TOOLS_HEADER = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_FOOTER = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _arguments(raw: Any) -> Any:
    """The template writes arguments as an object; the wire carries them as a JSON string."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def render(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """The prompt for ``messages`` (OpenAI shape), ending with the assistant's turn opened."""
    out: list[str] = []
    first_system = messages and messages[0].get("role") == "system"
    system = (messages[0].get("content") or "") if first_system else DEFAULT_SYSTEM
    if tools:
        listed = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
        out.append(f"<|im_start|>system\n{system}{TOOLS_HEADER}{listed}{TOOLS_FOOTER}<|im_end|>\n")
    else:
        out.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    rest = messages[1:] if first_system else messages
    for i, message in enumerate(rest):
        role, content = message.get("role"), message.get("content") or ""
        calls = message.get("tool_calls") or []
        if role in ("user", "system") or (role == "assistant" and not calls):
            out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        elif role == "assistant":
            out.append("<|im_start|>assistant")
            if content:
                out.append("\n" + content)
            for call in calls:
                function = call.get("function", call)
                args = json.dumps(_arguments(function.get("arguments")), ensure_ascii=False)
                out.append(f'\n<tool_call>\n{{"name": "{function.get("name")}", "arguments": ')
                out.append(f"{args}}}\n</tool_call>")
            out.append("<|im_end|>\n")
        elif role == "tool":
            if i == 0 or rest[i - 1].get("role") != "tool":
                out.append("<|im_start|>user")
            out.append(f"\n<tool_response>\n{content}\n</tool_response>")
            if i == len(rest) - 1 or rest[i + 1].get("role") != "tool":
                out.append("<|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return "".join(out)


def parse_output(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(content, tool_calls): each readable ``<tool_call>`` block becomes an OpenAI tool call
    with its arguments as a JSON string; text outside the blocks stays content. A block that is
    not JSON is left in the content, as llama.cpp's server does, for the client to judge."""
    calls: list[dict[str, Any]] = []
    kept: list[str] = []
    position = 0
    for match in _CALL.finditer(text):
        try:
            parsed = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(parsed, dict) or not isinstance(parsed.get("name"), str):
            continue
        kept.append(text[position : match.start()])
        position = match.end()
        args = parsed.get("arguments", parsed.get("parameters", {}))
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": parsed["name"],
                    "arguments": args
                    if isinstance(args, str)
                    else json.dumps(args, ensure_ascii=False),
                },
            }
        )
    kept.append(text[position:])
    return "".join(kept).strip(), calls
