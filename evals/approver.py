"""The scripted human: answers approval interrupts the way a scenario says an approver would.

It speaks the human-in-the-loop payload of DESIGN §4 (``action_requests`` / ``review_configs``)
and answers with the ``decisions`` resume value, so the graphs are exercised exactly as the
service's approval endpoint exercises them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from evals.scenario import ApproverScript, DecisionKind, DecisionRule, Principal


class ActionRequest(BaseModel):
    """One action a graph asks a human to review."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class ReviewConfig(BaseModel):
    action_name: str
    allowed_decisions: list[str] = Field(default_factory=lambda: ["approve", "edit", "reject"])


class ApprovalRequest(BaseModel):
    """The interrupt payload (agent-chat-ui / LangChain HITL shape)."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig] = Field(default_factory=list)


class ActionFigures(BaseModel):
    """The numbers a human judges an action by."""

    units: int = 0
    value: float = 0.0


Signature = tuple[str, str, tuple[tuple[str, int], ...]]


class ScriptedDecision(BaseModel):
    """What the approver did with one action, for the report."""

    action_name: str
    subject_id: str | None = None
    decision: DecisionKind
    units: int
    value: float
    rule: str
    edited_units: int | None = None
    route: tuple[str, str] | None = Field(default=None, description="(source, dest) of a transfer.")
    proposed_lines: dict[str, int] | None = None
    edited_lines: dict[str, int] | None = None


def signature(args: dict[str, Any]) -> Signature | None:
    """(source, dest, sorted (sku, qty)) of a transfer action: how an edit is recognised when
    the gate asks about it again under a new subject id."""
    lines = _lines(args)
    source, dest = args.get("source"), args.get("dest")
    if not lines or not isinstance(source, str) or not isinstance(dest, str):
        return None
    items = tuple(sorted((str(line.get("sku")), int(line.get("qty", 0))) for line in lines))
    return source, dest, items


def _lines(args: dict[str, Any]) -> list[dict[str, Any]]:
    for holder in (args, args.get("shipment") or {}, args.get("order") or {}):
        lines = holder.get("lines") if isinstance(holder, dict) else None
        if isinstance(lines, list):
            return [line for line in lines if isinstance(line, dict)]
    return []


def _number(args: dict[str, Any], *keys: str) -> float | None:
    for holder in (
        args,
        args.get("shipment") or {},
        args.get("order") or {},
        args.get("totals") or {},
    ):
        if not isinstance(holder, dict):
            continue
        for key in keys:
            value = holder.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


PriceOf = Callable[[str], float]


def action_figures(action: ActionRequest, price_of: PriceOf | None = None) -> ActionFigures:
    """Units and value of an action, read from its args (a shipment, an order, or a plan).

    Value is the retail value of the goods (the policy's measure): given in the args, or
    Σ qty × price when the approver knows the prices.
    """
    lines = _lines(action.args)
    units = _number(action.args, "units", "total_units", "qty")
    if units is None:
        units = float(sum(int(line.get("qty", 0)) for line in lines))
    value = _number(action.args, "value", "retail_value", "total_value")
    if value is None and price_of is not None and lines:
        value = sum(int(line.get("qty", 0)) * price_of(str(line.get("sku"))) for line in lines)
    return ActionFigures(units=int(units), value=round(value or 0.0, 2))


def _rule_matches(rule: DecisionRule, action: ActionRequest, figures: ActionFigures) -> bool:
    checks = (
        rule.action_name is None or rule.action_name == action.name,
        rule.min_value is None or figures.value >= rule.min_value,
        rule.max_value is None or figures.value <= rule.max_value,
        rule.min_units is None or figures.units >= rule.min_units,
        rule.max_units is None or figures.units <= rule.max_units,
    )
    return all(checks)


def edit_quantities(args: dict[str, Any], factor: float) -> dict[str, Any]:
    """Scale every line's qty by ``factor`` (at least 1 unit per line kept) and fix the totals."""
    edited = copy.deepcopy(args)
    lines = _lines(edited)
    if not lines:
        raise ValueError(f"cannot edit quantities: no `lines` in action args {sorted(args)}")
    for line in lines:
        qty = int(line.get("qty", 0))
        line["qty"] = max(1, math.floor(qty * factor)) if qty > 0 else 0
    new_units = sum(int(line["qty"]) for line in lines)
    for holder in (edited, edited.get("shipment"), edited.get("order")):
        if isinstance(holder, dict) and "units" in holder:
            holder["units"] = new_units
    return edited


class ScriptedApprover:
    """Answers each approval request per the scenario's script, and remembers what it did."""

    def __init__(self, script: ApproverScript, price_of: PriceOf | None = None) -> None:
        self.script = script
        self.price_of = price_of
        self.decisions: list[ScriptedDecision] = []
        self.requests_seen = 0
        self._edited: set[str] = set()
        self._my_edits: set[Signature] = set()

    def _choose(
        self, action: ActionRequest, figures: ActionFigures
    ) -> tuple[DecisionRule | None, DecisionKind]:
        for rule in self.script.rules:
            if _rule_matches(rule, action, figures):
                return rule, rule.decision
        return None, self.script.default

    def principal_for(self, round_index: int) -> Principal:
        """The first request goes to the approver; a repeat (four-eyes) to the second one."""
        if round_index > 0 and self.script.second_principal is not None:
            return self.script.second_principal
        return self.script.principal

    def decide(self, request: ApprovalRequest, *, round_index: int = 0) -> dict[str, Any] | None:
        """The resume value for ``request``, or None when the script ignores it (stays pending)."""
        self.requests_seen += 1
        decisions: list[dict[str, Any]] = []
        for action in request.action_requests:
            figures = action_figures(action, self.price_of)
            rule, kind = self._choose(action, figures)
            subject = action.args.get("subject_id")
            shape = signature(action.args)
            if kind == "edit" and (subject in self._edited or shape in self._my_edits):
                # The gate asks again about an action this approver edited (the edit may come
                # back under a new subject id): a human approves their own edit rather than
                # cutting the quantities again.
                rule, kind = None, "approve"
            record = ScriptedDecision(
                action_name=action.name,
                subject_id=subject,
                decision=kind,
                units=figures.units,
                value=figures.value,
                rule=rule.model_dump_json(exclude_defaults=True) if rule else "default",
                route=(shape[0], shape[1]) if shape else None,
                proposed_lines=dict(shape[2]) if shape else None,
            )
            self.decisions.append(record)
            if kind == "ignore":
                return None
            if kind == "approve":
                decisions.append({"type": "approve"})
            elif kind == "reject":
                message = rule.message if rule else self.script.message
                decisions.append({"type": "reject", "message": message})
            else:
                factor = (rule.qty_factor if rule and rule.qty_factor else None) or (
                    self.script.qty_factor
                )
                args = edit_quantities(action.args, factor)
                if isinstance(subject, str):
                    self._edited.add(subject)
                record.edited_units = sum(int(line.get("qty", 0)) for line in _lines(args))
                edited_shape = signature(args)
                if edited_shape is not None:
                    self._my_edits.add(edited_shape)
                    record.edited_lines = dict(edited_shape[2])
                decisions.append(
                    {"type": "edit", "edited_action": {"name": action.name, "args": args}}
                )
        principal = self.principal_for(round_index)
        return {"decisions": decisions, "principal": principal.model_dump()}
