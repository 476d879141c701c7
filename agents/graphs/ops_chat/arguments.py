"""A model's tool arguments with names turned into the pool's codes, before any tool sees them.

Small models write "上海", "Shanghai flagship 01" or "rain boots" where a code is wanted. Every
field that holds a place, category, style or SKU (at any depth: ``shipments[].lines[].sku``) goes
through ``tools.names``; an unknown one stops the call with a ToolError that says what to do next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.names import NameResolver

#: Argument name → which resolver reads it (lists are resolved item by item).
_FIELDS: dict[str, str] = {
    "city": "city",
    "region": "region",
    "category": "category",
    "categories": "category",
    "location": "location",
    "locations": "location",
    "source": "location",
    "dest": "location",
    "sources": "location",
    "destinations": "location",
    "style": "style",
    "styles": "style",
    "sku": "sku",
    "skus": "sku",
}


def resolve_arguments(
    args: dict[str, Any], names: NameResolver
) -> tuple[dict[str, Any], dict[str, str]]:
    """``args`` with names resolved to codes, and what was resolved (typed → code)."""
    resolved: dict[str, str] = {}

    def one(kind: str, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        fn: Callable[[str], str] = getattr(names, kind)
        code = fn(value)
        if code != value:
            resolved[value] = code
        return code

    def walk(node: Any, key: str | None) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        kind = _FIELDS.get(key or "")
        if isinstance(node, list):
            return [one(kind, v) if kind else walk(v, None) for v in node]
        return one(kind, node) if kind else node

    return walk(args, None), resolved
