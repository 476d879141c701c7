"""Lean views of chat state for clients: summaries instead of whole tool results (placeholder)."""

from __future__ import annotations

from typing import Any


def lean_event(event: str, data: Any) -> Any:
    return data
