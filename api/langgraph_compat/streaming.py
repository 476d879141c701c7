"""Server-sent events in the framing langgraph-sdk decodes: ``event:`` + one JSON ``data:`` line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool

_DONE = object()


def sse_frame(event: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()


async def stream_in_thread(
    produce: Callable[[], Iterator[tuple[str, Any]]],
) -> AsyncIterator[tuple[str, Any]]:
    """Drive a blocking generator on its own thread and hand its items to the event loop.

    LangGraph's sync ``stream`` sets context variables per call, so the whole generator must run
    in one thread; the run finishes even when the listener disconnects.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def hand_over(item: object) -> None:
        # The loop may be gone when the server shuts down mid-run; the run still completes.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for item in produce():
                hand_over(item)
        finally:
            hand_over(_DONE)

    worker = threading.Thread(target=pump, name="graph-run", daemon=True)
    worker.start()
    while True:
        item = await queue.get()
        if item is _DONE:
            break
        yield item  # type: ignore[misc]
    await run_in_threadpool(worker.join)
