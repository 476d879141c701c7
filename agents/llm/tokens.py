"""Token deltas of a model's reply, for clients that stream ``messages-tuple``.

A local model on CPU takes minutes to write an answer; a person watching agent-chat-ui or the
console should see it grow. The deltas leave the graph as LangGraph custom-stream events (the
API turns them into ``messages`` chunks under the id the final message will carry, so clients
replace the chunks with the checked message at the end of the step). Streaming is asked for per
run (``configurable[STREAM_TOKENS_KEY]``, set by the API when a client streams
``messages-tuple``), so runs nobody watches make plain requests. A context variable carries the
sink to the adapter, so the one ``ChatModel.invoke(messages, tools)`` protocol stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: The run's configurable key saying a client streams the model's tokens.
STREAM_TOKENS_KEY = "stream_tokens"
#: The ``event`` of a token delta in the graph's custom stream.
TOKEN_EVENT = "llm_token"

Sink = Callable[[str], None]
_sink: ContextVar[Sink | None] = ContextVar("stockpilot_token_sink", default=None)


def current_sink() -> Sink | None:
    """Where the adapter sends content deltas now, or None (nobody streams this run)."""
    return _sink.get()


@contextmanager
def streaming_to(message_id: str) -> Iterator[None]:
    """Inside a graph node of a run that streams tokens: send the model's deltas as custom
    events under ``message_id``. Elsewhere (no run, nobody streaming) this does nothing."""
    writer = _run_writer()
    if writer is None:
        yield
        return
    token = _sink.set(
        lambda delta: writer({"event": TOKEN_EVENT, "id": message_id, "delta": delta})
    )
    try:
        yield
    finally:
        _sink.reset(token)


def is_token_event(chunk: Any) -> bool:
    return isinstance(chunk, Mapping) and chunk.get("event") == TOKEN_EVENT


def _run_writer() -> Callable[[Any], None] | None:
    try:
        from langgraph.config import get_config, get_stream_writer

        config = get_config()
    except (RuntimeError, LookupError):  # not inside a graph run
        return None
    if not (config.get("configurable") or {}).get(STREAM_TOKENS_KEY):
        return None
    return get_stream_writer()


class TokenRelay:
    """Forwards one reply's content deltas, except a reply that opens like a tool call written
    as text (``<tool_call>``, a code fence, a JSON object or list): raw markup never reaches a
    person; the checked final message shows what they may see."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._held = ""
        self._open: bool | None = None  # None: undecided until the first visible character

    def feed(self, delta: str) -> None:
        if not delta or self._open is False:
            return
        if self._open:
            self._sink(delta)
            return
        self._held += delta
        head = self._held.lstrip()
        if not head:
            return
        self._open = head[0] not in "<`{["
        if self._open:
            self._sink(self._held)
        self._held = ""
