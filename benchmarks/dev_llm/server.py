"""A thin OpenAI-compatible ``/v1/chat/completions`` server for a Qwen2.5 GGUF on the CPU.

For development only -- recording cassettes and running ``benchmarks/llm_chat.py`` against a
small real model -- not part of Stockpilot's runtime, not a dependency, not in CI. It needs, in
any Python 3.11 environment (a separate venv is fine)::

    pip install --no-deps llama-cpp-cffi==0.4.42 && pip install cffi
    nice python benchmarks/dev_llm/server.py --model /path/qwen2.5-1.5b-instruct-q4_k_m.gguf \\
        --port 8800 --threads 2 --ctx 8192

What it adds over llama-cpp-python's bundled server: Qwen's Hermes-style
``<tool_call>{json}</tool_call>`` output comes back as OpenAI ``tool_calls`` (``--raw-tool-calls``
leaves it as text, to exercise the client's repairs); a prompt beyond the window is answered with
HTTP 400 ``context_length_exceeded``, as hosted providers do. ``stream: true`` is served as
server-sent events, the whole reply in one delta (generation is not interleaved with I/O).
Requests are served one at a time; the KV cache of the previous request's common prefix is
reused. Each request is logged to stderr with its token counts and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_format import parse_output, render
from engine import ContextOverflow, Engine, stop_sequences


def complete(engine: Engine, body: dict[str, Any], options: argparse.Namespace) -> dict[str, Any]:
    tools = body.get("tools") or None
    if body.get("tool_choice") == "none":
        tools = None
    prompt = render(body.get("messages") or [], tools)
    temperature = body.get("temperature")
    asked = body.get("stop") or []
    result = engine.generate(
        prompt,
        max_tokens=int(body.get("max_tokens") or options.max_tokens),
        temperature=options.temperature if temperature is None else float(temperature),
        seed=int(body.get("seed") or options.seed),
        stop=stop_sequences(asked),
    )
    if tools and not options.raw_tool_calls:
        content, calls = parse_output(result.text)
    else:
        content, calls = result.text.strip(), []
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = calls
    print(
        f"[dev-llm] prompt={result.prompt_tokens} reused={result.reused_tokens} "
        f"out={result.completion_tokens} calls={len(calls)} {result.seconds:.1f}s "
        f"(prefill {result.prefill_seconds:.1f}s)",
        file=sys.stderr,
        flush=True,
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or options.name,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else result.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }


def _chunks(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """A completed reply as stream chunks: role + content + tool calls, finish, usage."""
    choice = reply["choices"][0]
    delta: dict[str, Any] = {"role": "assistant", "content": choice["message"]["content"] or ""}
    if choice["message"].get("tool_calls"):
        delta["tool_calls"] = [
            {"index": i, **call} for i, call in enumerate(choice["message"]["tool_calls"])
        ]
    head = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    return [
        head | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        head | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        head | {"choices": [], "usage": reply["usage"]},
    ]


def make_handler(engine: Engine, options: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(
                    200, {"object": "list", "data": [{"id": options.name, "object": "model"}]}
                )
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": "not found"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            try:
                reply = complete(engine, body, options)
            except ContextOverflow as exc:
                self._send(
                    400,
                    {
                        "error": {
                            "message": str(exc),
                            "type": "invalid_request_error",
                            "code": "context_length_exceeded",
                        }
                    },
                )
                return
            if not body.get("stream"):
                self._send(200, reply)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in _chunks(reply):
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a GGUF file")
    parser.add_argument("--name", default="qwen2.5-1.5b", help="the model id it answers to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--ctx", type=int, default=8192, help="context window (tokens)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=512, help="when a request sets none")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--raw-tool-calls", action="store_true", help="leave <tool_call> as text")
    parser.add_argument("--library", help="llama-cpp-cffi's _llama_cpp_cpu*.so (or its folder)")
    options = parser.parse_args()
    engine = Engine(
        options.model, n_ctx=options.ctx, threads=options.threads, library=options.library
    )
    server = ThreadingHTTPServer((options.host, options.port), make_handler(engine, options))
    print(
        f"[dev-llm] http://{options.host}:{options.port}/v1 ({options.name})",
        file=sys.stderr,
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
