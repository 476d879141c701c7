"""A mocked OpenAI-compatible provider's answers, for tests that drive the real openai client
through respx (``/chat/completions`` bodies and responses)."""

from __future__ import annotations

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
