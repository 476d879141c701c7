"""Request bodies the service refuses before any route sees them: too large (413), or JSON whose
text cannot be stored (a lone surrogate such as ``"\\ud800"``: 422).

A lone surrogate decodes fine from JSON but fails every later UTF-8 encode, so one such message
stored in a run's input would break the run listings for everyone; it is refused at the door.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

#: A ``\\uD800``–``\\uDFFF`` escape: only then is the (costlier) full check needed.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def unencodable_path(value: Any, path: str = "body") -> str | None:
    """Where a string that cannot be encoded as UTF-8 sits in ``value``, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = unencodable_path(key, path) or unencodable_path(item, f"{path}.{key}")
            if where is not None:
                return where
    elif isinstance(value, list):
        for index, item in enumerate(value):
            where = unencodable_path(item, f"{path}.{index}")
            if where is not None:
                return where
    return None


class RequestLimits:
    """ASGI middleware: buffer the body up to ``max_bytes``; refuse it whole beyond that."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        if _SURROGATE_ESCAPE.search(body):
            where = _lone_surrogate(bytes(body))
            if where is not None:
                response = error_response(
                    422,
                    f"{where} holds text that is not valid Unicode (a lone surrogate)",
                    field=where,
                )
                await response(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"the request body is larger than {self.max_bytes} bytes "
            "(STOCKPILOT_MAX_REQUEST_BYTES)",
            field="body",
        )
        await response(scope, receive, send)


def _lone_surrogate(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers
    return unencodable_path(data)
