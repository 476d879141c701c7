"""The service's logs: uvicorn's access and error logs plus ours, as text or one JSON per line.

Every record carries the request id (from ``X-Request-Id`` or a new one, echoed back) and the run
id of the graph run it belongs to, kept in context variables: the request middleware sets the
first, the thread that runs a graph sets the second. ``STOCKPILOT_LOG_FORMAT=json`` switches the
format; the same dictConfig is handed to uvicorn, so its access log keeps working.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stockpilot_request_id", default=None
)
run_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stockpilot_run_id", default=None
)

REQUEST_ID_HEADER = "x-request-id"


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``run_id`` to every record (``-`` outside a request or run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        record.run_id = run_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; uvicorn's access records get method, path and status fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "run_id": getattr(record, "run_id", None),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            entry.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(
            {k: v for k, v in entry.items() if v not in (None, "-")},
            ensure_ascii=False,
            default=str,
        )


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s run=%(run_id)s] %(message)s"


def log_config(fmt: Literal["text", "json"] = "text", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the app (pass as ``log_config``)."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if fmt == "json" else {"format": TEXT_FORMAT}
    level = level.upper()
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            # the connectors' HTTP client logs every request at INFO: the access log says enough
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
        "root": {"handlers": ["default"], "level": level},
    }


@contextmanager
def run_context(run_id: str) -> Iterator[None]:
    """Tag the log records of this thread with ``run_id`` while a graph runs."""
    token = run_id_var.set(run_id)
    try:
        yield
    finally:
        run_id_var.reset(token)


class RequestIdMiddleware:
    """Gives every HTTP request an id (the caller's ``X-Request-Id`` or a new one), echoed back
    in the response, so a client's report and the service's log lines can be matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode())
        request_id = sent.decode("latin-1")[:128] if sent else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
