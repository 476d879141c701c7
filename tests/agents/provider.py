"""A mocked OpenAI-compatible provider's answers, for tests that drive the real openai client
through respx (``/chat/completions`` bodies and responses)."""

from __future__ import annotations

import json
from typing import Any

import httpx

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"


def completion(
    content: str | None = None, calls: list[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    """A chat completion whose message says ``content`` and/or makes ``calls`` (id, name, args)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def streamed(
    content: list[str] = (), calls: list[tuple[str, str, list[str]]] = ()
) -> httpx.Response:
    """A streamed chat completion (server-sent events): ``content`` in the given deltas, then
    each call (id, name, argument pieces) in pieces, then usage and ``[DONE]``."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m"}

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps({**base, 'choices': [choice]}, ensure_ascii=False)}\n\n"

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"content": piece}) for piece in content]
    for index, (cid, name, pieces) in enumerate(calls):
        head = {"index": index, "id": cid, "type": "function"}
        events.append(
            event({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]})
        )
        events += [
            event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in pieces
        ]
    events.append(event({}, "tool_calls" if calls else "stop"))
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    events.append(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n")
    events.append("data: [DONE]\n\n")
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(events).encode()
    )
