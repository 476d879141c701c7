"""Server-sent events in the framing langgraph-sdk decodes: ``id:``, ``event:``, one ``data:``."""

from __future__ import annotations

import json
from typing import Any


def sse_frame(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    """One event; the id lets a client reconnect with ``Last-Event-ID`` and miss nothing."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()
