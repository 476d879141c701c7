"""What a human reviewer sees and sends back: each action's description, its args schema, and
edited args read the way agent-chat-ui sends them.

agent-chat-ui renders ``description`` as Markdown and each arg as a text field, so it sends every
edited arg back as a string (``"lines": "[{\\"sku\\": ...}]"``, ``"depth": "0.3"``). Strings are
parsed as JSON wherever the action's schema expects something other than a string, then the
whole edit is validated against that schema; the schema is published in
``review_configs[].args_schema`` so clients can render typed fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.proposals import MarkdownProposalInput, ProposedShipment
from inventory.fulfilment_stats import lane_figures
from inventory.models import Sku, Style
from tools.plan_transfers.value import yuan

#: The editable part of each action (``subject_id`` is shown, never edited).
EDITABLE: dict[str, type[BaseModel]] = {
    "transfer_order": ProposedShipment,
    "markdown": MarkdownProposalInput,
}
READ_ONLY_ARGS = ("subject_id",)
#: Rows of a description's line table before it says how many more there are.
MAX_TABLE_ROWS = 20


class EditInvalid(ValueError):
    """An edit that cannot be read as the action's args; the message says which arg and why."""


def args_schema(action_name: str) -> dict[str, Any] | None:
    """The JSON schema of an action's args, as ``review_configs[].args_schema`` publishes it."""
    model = EDITABLE.get(action_name)
    if model is None:
        return None
    schema = model.model_json_schema()
    if action_name == "markdown":
        schema["properties"].pop("reason", None)
    schema["properties"]["subject_id"] = {
        "type": "string",
        "title": "Subject Id",
        "description": "The order or proposal under review (read-only; an edit replaces it).",
        "readOnly": True,
    }
    return schema


def parse_edited_args(
    action_name: str, args: Mapping[str, Any], original: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The edited args as the action's model reads them; JSON strings become their values, and
    args the edit leaves out keep their ``original`` values."""
    model = EDITABLE.get(action_name)
    if model is None:
        raise EditInvalid(f"{action_name!r} cannot be edited")
    fields = model.model_json_schema().get("properties", {})
    parsed: dict[str, Any] = {
        k: v for k, v in (original or {}).items() if k in fields and k not in READ_ONLY_ARGS
    }
    for key, value in args.items():
        if key in READ_ONLY_ARGS:
            continue
        if key not in fields:
            raise EditInvalid(f"{action_name} has no arg {key!r}; it has {sorted(fields)}")
        if isinstance(value, str) and fields[key].get("type") not in ("string", None):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise EditInvalid(f"{key}: not valid JSON ({exc.msg}): {value[:80]!r}") from exc
        parsed[key] = value
    try:
        return model.model_validate(parsed).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise EditInvalid(problems) from exc


# -- descriptions -------------------------------------------------------------------------------


def sku_labels(engine: Engine, records: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """(style, size) of every SKU the transfers name; read-only, so safe in a re-run node."""
    codes = {
        line["sku"]
        for record in records
        for line in (record.get("action") or {}).get("args", {}).get("lines", [])
    }
    if not codes:
        return {}
    with Session(engine) as session:
        rows = session.exec(select(Sku).where(Sku.code.in_(sorted(codes)))).all()  # type: ignore[attr-defined]
        wanted = sorted({row.style_code for row in rows})
        styles = {
            s.code: s.name_en
            for s in session.exec(select(Style).where(Style.code.in_(wanted))).all()  # type: ignore[attr-defined]
        }
    return {
        row.code: (f"{row.style_code} {styles.get(row.style_code, '')}".strip(), row.size)
        for row in rows
    }


def lane_notes(engine: Engine, records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """For each transfer's lane whose realised figures differ materially from the configured
    ones (``inventory.fulfilment_stats``), one sentence for the card; read-only."""
    pairs = {
        (args["source"], args["dest"])
        for record in records
        if record.get("kind") == "transfer_order"
        and (args := (record.get("action") or {}).get("args", {})).get("source")
        and args.get("dest")
    }
    if not pairs:
        return {}
    with Session(engine) as session:
        figures = lane_figures(session, pairs)
    return {pair: "; ".join(item.deviations) for pair, item in figures.items() if item.differs}


def _money(value: float | None) -> str:
    return "—" if value is None else yuan(value)


def describe(
    record: Mapping[str, Any],
    verdict: Mapping[str, Any],
    *,
    note: str | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    lanes: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """A small Markdown card: what moves where (by style and size), what it is worth and costs,
    why, what the policy asks for, and whether the lane performs as configured (``lanes``)."""
    subject_id, kind = record["subject_id"], record["kind"]
    args = (record.get("action") or {}).get("args", {})
    parts: list[str] = []
    if note:
        parts.append(f"> ⚠️ {note}")
    if kind == "transfer_order":
        parts.append(f"**Transfer {subject_id}: {args.get('source')} → {args.get('dest')}**")
        parts.append(_lines_table(args.get("lines", []), labels or {}))
        parts.append(
            "| units | retail value | expected sales saved | transfer cost |\n"
            "|---:|---:|---:|---:|\n"
            f"| {record.get('units', 0)} | {_money(record.get('value'))} "
            f"| {_money(record.get('expected_value'))} | {_money(record.get('cost'))} |"
        )
        if (dry := record.get("net_value_if_no_rain")) is not None:
            parts.append(
                f"**If the warned rain does not fall:** net {_money(dry)} for this order "
                f"(expected, at the alert's hit rate: {_money(record.get('net_value'))})"
            )
        if lane_note := (lanes or {}).get((args.get("source"), args.get("dest"))):
            parts.append(f"**Lane (realised ≠ configured):** {lane_note}")
    else:
        where = args.get("location") or "all locations"
        depth = args.get("depth") or record.get("depth") or 0
        parts.append(f"**Markdown {subject_id}: {args.get('style')} at {where}, {depth:.0%} off**")
        parts.append(
            "| depth | expected revenue | margin impact |\n|---:|---:|---:|\n"
            f"| {depth:.0%} | {_money(record.get('expected_value'))} "
            f"| {_money(record.get('margin_impact'))} |"
        )
    if reason := record.get("reason"):
        parts.append(f"**Reason:** {reason}")
    parts.append(
        f"**Policy:** {'; '.join(verdict.get('rules') or []) or 'needs a decision'} — "
        f"{verdict.get('approvers_required', 1)} approver(s) with role "
        f"{' or '.join(verdict.get('approver_roles') or ['approver'])}; asked by "
        f"{record.get('requested_by')}; expires {verdict.get('expires_at') or 'never'}."
    )
    return "\n\n".join(parts)


def _lines_table(lines: list[dict[str, Any]], labels: Mapping[str, tuple[str, str]]) -> str:
    units: dict[tuple[str, str], int] = {}
    for line in lines:
        key = labels.get(line["sku"], (line["sku"], "—"))
        units[key] = units.get(key, 0) + int(line["qty"])
    rows = [f"| {style} | {size} | {qty} |" for (style, size), qty in units.items()]
    shown = rows[:MAX_TABLE_ROWS]
    if len(rows) > MAX_TABLE_ROWS:
        shown.append(f"| … {len(rows) - MAX_TABLE_ROWS} more | | |")
    total = sum(units.values())
    return "\n".join(
        ["| style | size | units |", "|---|---|---:|", *shown, f"| **total** | | **{total}** |"]
    )
