"""Tool results small enough for a model's context, and still valid JSON.

Cutting serialised JSON at a character limit leaves text no reader can parse (the planner then
reports the tool as failed). Instead the longest lists are shortened, and the result says how
many items it left out; totals computed by the tool over every match stay exact.
"""

from __future__ import annotations

import json
from typing import Any

OMITTED_KEY = "omitted_items"


def compact_json(payload: dict[str, Any], max_chars: int) -> str:
    """``payload`` as JSON of at most ``max_chars`` characters where lists allow it."""
    text = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
    if len(text) <= max_chars:
        return text
    shortened = dict(payload)
    omitted: dict[str, int] = {}
    while len(text) > max_chars:
        key = _longest_list(shortened)
        if key is None:  # nothing left to shorten: the scalars alone exceed the limit
            break
        items = shortened[key]
        keep = max(0, min(len(items) - 1, int(len(items) * max_chars / len(text) * 0.9)))
        omitted[key] = omitted.get(key, 0) + len(items) - keep
        shortened[key] = items[:keep]
        shortened[OMITTED_KEY] = omitted
        text = json.dumps(shortened, ensure_ascii=False, default=str, separators=(",", ":"))
    return text


def _longest_list(payload: dict[str, Any]) -> str | None:
    lists = [(len(v), k) for k, v in payload.items() if isinstance(v, list) and v]
    return max(lists)[1] if lists else None
