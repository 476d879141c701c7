"""CORS for browser clients on another origin (agent-chat-ui calls the API from the page).

Origins come from one setting (``STOCKPILOT_CORS_ORIGINS``); a ``*`` in an entry matches a port
or host part, so the demo default admits ``http://localhost:<any port>`` without listing ports.
Starlette's middleware answers the preflight of every route, before authentication: the browser
sends no key with an ``OPTIONS`` request.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

#: Headers the browser may send: the key, JSON bodies, and the SSE reconnect header.
ALLOWED_HEADERS = ["x-api-key", "content-type", "authorization", "last-event-id", "x-request-id"]
#: Headers the page may read: the JS SDK takes the run id from ``Content-Location``.
EXPOSED_HEADERS = ["Content-Location", "Location", "X-Request-Id"]


def origin_regex(setting: str) -> str | None:
    """One regex for the comma-separated origins; ``None`` when the setting allows none."""
    entries = [entry.strip().rstrip("/") for entry in setting.split(",") if entry.strip()]
    if not entries:
        return None
    if "*" in entries:
        return r".*"
    parts = [re.escape(entry).replace(r"\*", r"[A-Za-z0-9.\-]*") for entry in entries]
    return "(" + "|".join(parts) + ")"


def install_cors(app: FastAPI, setting: str) -> None:
    regex = origin_regex(setting)
    if regex is None:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=regex,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
