"""A tiny OpenAI-compatible ``/v1/chat/completions`` server, to check ``llm_chat.py`` end to end
without a model: the offline planner answers behind HTTP, the way a small local model would
(optionally with its faults: tool calls written as Hermes text, arguments sent as objects).

    .venv/bin/python benchmarks/fake_openai.py --port 0 [--faults hermes,object-args]

Not a model and not for CI: it exists so the benchmark itself can be exercised on any machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from agents.graphs.ops_chat.compact import approx_tokens
from agents.llm.base import ToolDefinition
from agents.llm.offline import OfflinePlanner

FAULTS = ("hermes", "object-args")


def _unpaged(value: Any) -> Any:
    """A summary made for a model (``compact``) with the fields said once put back in each row,
    as the planner reads the tool's own output."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for key, rows in value.items():
        same = (value.get(f"{key}_page") or {}).get("same_for_all") or {}
        if isinstance(rows, list) and same:
            out[key] = [{**same, **row} if isinstance(row, dict) else row for row in rows]
    return out


def _tool_content(text: str) -> str:
    try:
        return json.dumps(_unpaged(json.loads(text)))
    except json.JSONDecodeError:
        return text


def to_langchain(messages: list[dict[str, Any]]) -> list[BaseMessage]:
    names: dict[str, str] = {}
    out: list[BaseMessage] = []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if role == "system":
            out.append(SystemMessage(content))
        elif role == "user":
            out.append(HumanMessage(content))
        elif role == "assistant":
            calls = []
            for call in m.get("tool_calls") or []:
                args = call["function"]["arguments"]
                names[call["id"]] = call["function"]["name"]
                calls.append(
                    {
                        "id": call["id"],
                        "name": call["function"]["name"],
                        "args": json.loads(args) if isinstance(args, str) else args,
                    }
                )
            out.append(AIMessage(content, tool_calls=calls))
        elif role == "tool":
            error = content.startswith("error:")
            out.append(
                ToolMessage(
                    _tool_content(content),
                    tool_call_id=m["tool_call_id"],
                    name=names.get(m["tool_call_id"], ""),
                    status="error" if error else "success",
                )
            )
    return out


_NOW = re.compile(r"Now \(UTC\):\s*(\S+)")


def _clock_of(body: dict[str, Any]) -> dt.datetime:
    """The world's "now" as the system prompt states it (the planner dates rain scenarios by
    it); the wall clock if the prompt does not say."""
    for message in body.get("messages", []):
        if message.get("role") == "system" and (m := _NOW.search(message.get("content") or "")):
            return dt.datetime.fromisoformat(m.group(1))
    return dt.datetime.now(dt.UTC)


class FakeModel:
    def __init__(self, faults: set[str]) -> None:
        self.faults = faults
        self.ids = itertools.count(1)

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        tools = [
            ToolDefinition(
                name=t["function"]["name"],
                description=t["function"].get("description", ""),
                parameters=t["function"].get("parameters", {}),
            )
            for t in body.get("tools") or []
        ]
        now = _clock_of(body)
        planner = OfflinePlanner(clock=lambda: now)
        reply = planner.invoke(to_langchain(body["messages"]), tools)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls and "hermes" in self.faults:
            message["content"] = "\n".join(
                "<tool_call>\n"
                + json.dumps({"name": c["name"], "arguments": c["args"]}, ensure_ascii=False)
                + "\n</tool_call>"
                for c in reply.tool_calls
            )
        elif reply.tool_calls:
            object_args = "object-args" in self.faults
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self.ids)}",
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": c["args"] if object_args else json.dumps(c["args"]),
                    },
                }
                for c in reply.tool_calls
            ]
        prompt = approx_tokens(json.dumps(body, ensure_ascii=False))
        completion = approx_tokens(json.dumps(message, ensure_ascii=False))
        return {
            "id": f"chatcmpl-{next(self.ids)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


def serve(port: int = 0, faults: set[str] | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Start the fake in a daemon thread; returns the server and its base URL (``.../v1``)."""
    model = FakeModel(faults or set())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            data = json.dumps(model.complete(body)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--faults", default="", help=f"comma-separated: {', '.join(FAULTS)}")
    args = parser.parse_args()
    server, url = serve(args.port, {f for f in args.faults.split(",") if f})
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
