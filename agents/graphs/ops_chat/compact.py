"""Tool results as a model reads them: a compact, paged summary within a token budget.

A small local model has a few thousand tokens for everything; a stock lookup over a city can be
50,000 characters. The summary puts what answers most questions first (scalars and totals, then
short lists such as per-location subtotals), then as many rows of the longest list as the budget
holds, and says how to page the rest (call the tool again with ``page``). Fields equal in every
row are said once (``same_for_all``), empty ones are dropped, and nested lists in rows are
reduced to their length when full rows would not fit. The output is always valid JSON; the full
result stays in the audit trail (``tool.result``). Lists keep their key and shape, so the offline
planner reads a summary (``for_model=False``: no hoisting, no flattening) as it reads the tool's
output.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: The argument added to every read tool's schema in chat.
PAGE_ARG = "page"
#: Tokens a tool result may take when the model has no window (offline planner, scripted model):
#: a cap on checkpoint size, not on what a reader can hold (≈ the former 60,000 characters).
UNBOUNDED_RESULT_TOKENS = 17_000
#: Rows a page is sized for at least (a page must progress); the budget may still cut them.
MIN_ROWS = 1


def approx_tokens(text: str) -> int:
    """Tokens a typical BPE tokenizer spends on ``text``: ~3.5 ASCII characters per token, about
    one per CJK character. Close enough to budget with; no tokenizer dependency."""
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return math.ceil((len(text) - non_ascii) / 3.5 + non_ascii)


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def _clean_row(row: Any, same: dict[str, Any], flat: bool) -> Any:
    if not isinstance(row, dict):
        return row
    out = {}
    for key, value in row.items():
        if key in same or value is None or value == [] or value == {}:
            continue
        if flat and isinstance(value, list):
            out[f"{key}_count"] = len(value)
            continue
        out[key] = value
    return out


def _same_for_all(rows: list[Any]) -> dict[str, Any]:
    """Scalar fields with one value across every row (said once instead of per row)."""
    if len(rows) < 2 or not all(isinstance(r, dict) for r in rows):
        return {}
    first = rows[0]
    return {
        key: value
        for key, value in first.items()
        if not isinstance(value, list | dict)
        and value is not None
        and all(r.get(key) == value for r in rows[1:])
    }


def _page_of(
    tool: str, rows: list[Any], budget: int, page: int, for_model: bool
) -> tuple[list[Any], dict[str, Any]]:
    """The rows of ``page`` that fit ``budget`` tokens, and what the page holds.

    ``for_model``: fields equal in every row are said once and nested lists may become counts;
    otherwise rows keep their shape (the offline planner reads them as the tool wrote them).
    """
    same = _same_for_all(rows) if for_model else {}
    nested = any(isinstance(v, list) for r in rows[:5] if isinstance(r, dict) for v in r.values())
    head_tokens = approx_tokens(dumps(same)) + 40
    per_row = [approx_tokens(dumps(_clean_row(r, same, False))) + 1 for r in rows[:50]]
    flat = False
    if for_model and nested and sum(per_row[:10]) + head_tokens > budget:
        flat = True  # nested lists (forecast points, plan lines) give way to more rows
        per_row = [approx_tokens(dumps(_clean_row(r, same, True))) + 1 for r in rows[:50]]
    mean = max(1.0, sum(per_row) / max(1, len(per_row)))
    size = max(MIN_ROWS, int((budget - head_tokens) / mean))
    pages = max(1, math.ceil(len(rows) / size))
    page = min(max(1, page), pages)
    start = (page - 1) * size
    chosen = [_clean_row(r, same, flat) if for_model else r for r in rows[start : start + size]]
    while len(chosen) > MIN_ROWS and approx_tokens(dumps(chosen)) + head_tokens > budget:
        chosen.pop()
    info: dict[str, Any] = {
        "shown": f"{start + 1}-{start + len(chosen)} of {len(rows)}"
        if chosen
        else f"0 of {len(rows)}",
    }
    if same:
        info["same_for_all"] = same
    if flat:
        info["note"] = "nested lists reduced to *_count; page for details"
    if start + len(chosen) < len(rows):
        # Totals cover every row: a small model told only "call again" pages on instead of
        # answering (Qwen2.5-Coder-1.5B asked for page 2 of a stock lookup it had the total of).
        info["next"] = (
            f"only for more rows: call {tool} again with the same arguments and "
            f"{PAGE_ARG}={page + 1} (totals cover every row)"
        )
    return chosen, info


def summarise(
    tool: str, payload: dict[str, Any], max_tokens: int, page: int = 1, *, for_model: bool = True
) -> str:
    """``payload`` as JSON of about ``max_tokens`` tokens at most, totals first, then rows.

    Each list keeps its key and gains ``<key>_page`` (rows shown, of how many, how to get the
    next page). Page ``page`` of the longest list is shown; shorter lists show their first rows.
    """
    text = dumps(payload)
    if approx_tokens(text) <= max_tokens and page <= 1:
        return text
    head = {k: v for k, v in payload.items() if not _is_rows(v)}
    lists = sorted(((k, v) for k, v in payload.items() if _is_rows(v)), key=lambda kv: len(kv[1]))
    out: dict[str, Any] = dict(head)
    remaining = max_tokens - approx_tokens(dumps(head))
    for index, (key, rows) in enumerate(lists):
        primary = index == len(lists) - 1
        share = remaining if primary else max(60, remaining // 2)
        chosen, info = _page_of(tool, rows, share, page if primary else 1, for_model)
        out[key], out[f"{key}_page"] = chosen, info
        remaining -= approx_tokens(dumps({key: chosen, f"{key}_page": info}))
    return _within(out, max_tokens)


def _within(out: dict[str, Any], max_tokens: int) -> str:
    """The budget is a hard limit: drop the last shown rows (longest list first) until the text
    fits, keeping each list's ``shown`` true; the totals and page notes always stay."""
    text = dumps(out)
    while approx_tokens(text) > max_tokens:
        shown = [k for k, v in out.items() if isinstance(v, list) and v and f"{k}_page" in out]
        if not shown:
            break
        # Lists keep their last row longest, so every page still shows (and pages past) one.
        several = [k for k in shown if len(out[k]) > 1] or shown
        key = max(several, key=lambda k: len(dumps(out[k])))
        out[key] = out[key][:-1]
        info = out[f"{key}_page"]
        first, _, total = info["shown"].partition(" of ")
        start = int(first.split("-")[0])
        info["shown"] = (
            f"{start}-{start + len(out[key]) - 1} of {total}" if out[key] else f"0 of {total}"
        )
        text = dumps(out)
    return text
