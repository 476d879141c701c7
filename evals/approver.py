"""The scripted human: answers approval interrupts the way a scenario says an approver would.

It speaks the human-in-the-loop payload of DESIGN §4 (``action_requests`` / ``review_configs``)
and answers with the ``decisions`` resume value, so the graphs are exercised exactly as the
service's approval endpoint exercises them.
"""

from __future__ import annotations

import copy
import math
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


class ScriptedDecision(BaseModel):
    """What the approver did with one action, for the report."""

    action_name: str
    subject_id: str | None = None
    decision: DecisionKind
    units: int
    value: float
    rule: str
    edited_units: int | None = None


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


def action_figures(action: ActionRequest) -> ActionFigures:
    """Units and value of an action, read from its args (a shipment, an order, or a plan)."""
    units = _number(action.args, "units", "total_units", "qty")
    if units is None:
        units = float(sum(int(line.get("qty", 0)) for line in _lines(action.args)))
    value = _number(action.args, "expected_value", "value", "total_value")
    return ActionFigures(units=int(units), value=value or 0.0)


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

    def __init__(self, script: ApproverScript) -> None:
        self.script = script
        self.decisions: list[ScriptedDecision] = []
        self.requests_seen = 0
        self._edited: set[str] = set()

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
            figures = action_figures(action)
            rule, kind = self._choose(action, figures)
            subject = action.args.get("subject_id")
            if kind == "edit" and subject in self._edited:
                # The gate re-asks about an edited action: a human approves their own edit
                # rather than cutting the quantities again.
                rule, kind = None, "approve"
            record = ScriptedDecision(
                action_name=action.name,
                subject_id=action.args.get("subject_id"),
                decision=kind,
                units=figures.units,
                value=figures.value,
                rule=rule.model_dump_json(exclude_defaults=True) if rule else "default",
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
                decisions.append(
                    {"type": "edit", "edited_action": {"name": action.name, "args": args}}
                )
        principal = self.principal_for(round_index)
        return {"decisions": decisions, "principal": principal.model_dump()}
