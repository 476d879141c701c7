"""The listener of ``stockpilot serve``, open before the service's own modules are imported.

Importing the service (FastAPI routes, the LangGraph agents, the OpenAI client, the MCP server,
pandas, the optimizers) costs several seconds of CPU, and many times that on a busy machine;
nobody should look at a refused connection meanwhile. ``LoadingShell`` is what uvicorn serves
from the first moment: it imports nothing heavy, answers ``/healthz`` with ``starting`` and
every other request with 503 + ``Retry-After`` (the same answers as ``api.startup`` while the
demo world builds), while a thread loads the real app. Then it runs that app's lifespan and
hands it every request from then on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before retrying while the service loads (as api.startup).
RETRY_AFTER_S = 5


class LoadingShell:
    """An ASGI app that answers ``starting`` until ``load()`` (run on a thread) has returned the
    real app and that app's lifespan has started, then passes everything to it."""

    def __init__(self, load: Callable[[], ASGIApp]) -> None:
        self._load = load
        self._started_at = time.monotonic()
        self._app: ASGIApp | None = None  # set once loaded AND its lifespan has started
        self._error: str | None = None
        self._inner_events: asyncio.Queue[Message] | None = None
        self._inner_done: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._app is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._app is not None:
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":  # websockets: refuse until the service is there
            await send({"type": "websocket.close", "code": 1013})
            return
        await self._answer_while_loading(scope, send)

    # -- while loading ---------------------------------------------------------------------

    def message(self) -> tuple[str, str]:
        """``/healthz`` status and message while loading (or why loading failed)."""
        if self._error is not None:
            return "failed", f"start-up failed: {self._error}; see the server log"
        elapsed = time.monotonic() - self._started_at
        return "starting", f"loading the service, {elapsed:.0f} s"

    async def _answer_while_loading(self, scope: Scope, send: Send) -> None:
        status, message = self.message()
        if scope["path"] == "/healthz":
            await _send_json(send, 200, {"status": status, "message": message})
            return
        headers = {} if status == "failed" else {"retry-after": str(RETRY_AFTER_S)}
        text = (
            message
            if status == "failed"
            else f"the service is starting ({message}); retry in {RETRY_AFTER_S} s "
            "(progress at /healthz)"
        )
        error = {"status": 503, "code": "unavailable", "message": text, "field": None}
        body = {"error": {**error, "value": None, "details": []}}  # api.errors' shape
        await _send_json(send, 503, body, headers)

    # -- lifespan --------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        self._task = asyncio.create_task(self._load_and_start())
        await send({"type": "lifespan.startup.complete"})  # listen now, load meanwhile
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await self._shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def _load_and_start(self) -> None:
        loop = asyncio.get_running_loop()
        loaded: asyncio.Future[ASGIApp] = loop.create_future()

        def load() -> None:  # a daemon thread: a stop during the import does not wait for it
            try:
                app = self._load()
            except BaseException as exc:
                log.exception("loading the service failed")
                loop.call_soon_threadsafe(_set_exception, loaded, exc)
            else:
                loop.call_soon_threadsafe(_set_result, loaded, app)

        threading.Thread(target=load, name="stockpilot-load", daemon=True).start()
        try:
            app = await loaded
        except BaseException as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            return
        events: asyncio.Queue[Message] = asyncio.Queue()
        started: asyncio.Future[Message] = loop.create_future()
        done: asyncio.Future[Message] = loop.create_future()
        self._inner_events, self._inner_done = events, done

        async def inner_send(message: Message) -> None:
            kind = message["type"]
            if kind.startswith("lifespan.startup") and not started.done():
                started.set_result(message)
            elif kind.startswith("lifespan.shutdown") and not done.done():
                done.set_result(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        inner = asyncio.create_task(app(scope, events.get, inner_send))
        inner.add_done_callback(lambda _: done.done() or done.set_result({"type": "ended"}))
        await events.put({"type": "lifespan.startup"})
        waiting = asyncio.ensure_future(started)
        await asyncio.wait({waiting, inner}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done() or started.result()["type"] != "lifespan.startup.complete":
            reason = started.result().get("message", "") if started.done() else "it ended"
            self._error = f"the service's start-up failed: {reason or 'see the server log'}"
            return
        self._app = app

    async def _shutdown(self) -> None:
        if self._app is not None and self._inner_events is not None:
            await self._inner_events.put({"type": "lifespan.shutdown"})
            assert self._inner_done is not None
            await self._inner_done
        elif self._task is not None:
            self._task.cancel()


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
