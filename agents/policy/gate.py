"""Judges proposals against the policy. Pure: the graphs record what it decides.

Limits are inclusive (at the limit → auto-approve). Run limits count only what was auto-approved
earlier in the same run, so a plan cannot slip past them by splitting into many small orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from agents.policy.model import Policy


class GateOutcome(StrEnum):
    AUTO_APPROVE = "auto_approve"
    NEEDS_APPROVAL = "needs_approval"
    REFUSE = "refuse"


class Proposal(BaseModel):
    """What the gate judges about one order or markdown; numbers come from the pool, not an LLM."""

    kind: Literal["transfer_order", "promo_proposal"]
    subject_id: str
    requested_by: str
    units: int = Field(default=0, ge=0)
    value: float = Field(default=0.0, ge=0, description="Retail value of the goods, CNY.")
    cost: float = Field(default=0.0, ge=0, description="Freight and handling, CNY.")
    depth: float | None = Field(default=None, ge=0, le=1)
    emergency: bool = False


class RunTotals(BaseModel):
    """What was already auto-approved in this run."""

    units: int = 0
    cost: float = 0.0


class Verdict(BaseModel):
    subject_id: str
    kind: Literal["transfer_order", "promo_proposal"]
    outcome: GateOutcome
    rules: list[str] = Field(description="Each rule hit, with the numbers; empty when auto.")
    approver_roles: list[str] = Field(default_factory=list)
    approvers_required: int = 0
    distinct_from_requester: bool = False
    expires_at: dt.datetime | None = None

    @property
    def rule_text(self) -> str:
        return "; ".join(self.rules) if self.rules else "within auto-approve limits"


def _transfer_rules(policy: Policy, proposal: Proposal, totals: RunTotals) -> list[str]:
    limits = policy.transfer.auto_approve
    checks = [
        ("max_units_per_order", proposal.units, limits.max_units_per_order),
        ("max_value_per_order", proposal.value, limits.max_value_per_order),
        ("max_cost_per_order", proposal.cost, limits.max_cost_per_order),
        ("max_units_per_run", totals.units + proposal.units, limits.max_units_per_run),
        ("max_cost_per_run", totals.cost + proposal.cost, limits.max_cost_per_run),
    ]
    return [
        f"transfer.{rule}: {actual:g} > {limit:g}"
        for rule, actual, limit in checks
        if actual > limit
    ]


def _judge_transfer(
    policy: Policy, proposal: Proposal, totals: RunTotals, expires_at: dt.datetime
) -> Verdict:
    rules = _transfer_rules(policy, proposal, totals)
    if not rules:
        return Verdict(
            subject_id=proposal.subject_id,
            kind=proposal.kind,
            outcome=GateOutcome.AUTO_APPROVE,
            rules=[],
        )
    four_eyes = policy.transfer.four_eyes
    needs_four = proposal.value > four_eyes.above_value
    if needs_four:
        rules.append(f"transfer.four_eyes: value {proposal.value:g} > {four_eyes.above_value:g}")
    return Verdict(
        subject_id=proposal.subject_id,
        kind=proposal.kind,
        outcome=GateOutcome.NEEDS_APPROVAL,
        rules=rules,
        approver_roles=list(policy.transfer.approver_roles),
        approvers_required=four_eyes.approvers_required if needs_four else 1,
        distinct_from_requester=needs_four and four_eyes.distinct_from_requester,
        expires_at=expires_at,
    )


def _judge_markdown(policy: Policy, proposal: Proposal, expires_at: dt.datetime) -> Verdict:
    rules = policy.markdown
    depth = proposal.depth or 0.0
    if depth > rules.max_depth:
        return Verdict(
            subject_id=proposal.subject_id,
            kind=proposal.kind,
            outcome=GateOutcome.REFUSE,
            rules=[f"markdown.max_depth: {depth:g} > {rules.max_depth:g}"],
        )
    if depth <= rules.auto_approve_max_depth:
        return Verdict(
            subject_id=proposal.subject_id,
            kind=proposal.kind,
            outcome=GateOutcome.AUTO_APPROVE,
            rules=[],
        )
    hit = [f"markdown.auto_approve_max_depth: {depth:g} > {rules.auto_approve_max_depth:g}"]
    needs_four = depth > rules.four_eyes_above_depth
    if needs_four:
        hit.append(f"markdown.four_eyes: depth {depth:g} > {rules.four_eyes_above_depth:g}")
    return Verdict(
        subject_id=proposal.subject_id,
        kind=proposal.kind,
        outcome=GateOutcome.NEEDS_APPROVAL,
        rules=hit,
        approver_roles=list(rules.approver_roles),
        approvers_required=2 if needs_four else 1,
        distinct_from_requester=needs_four,
        expires_at=expires_at,
    )


def evaluate(
    policy: Policy,
    proposals: Sequence[Proposal],
    *,
    now: dt.datetime,
    prior: RunTotals | None = None,
) -> list[Verdict]:
    """One verdict per proposal, in order; auto-approvals count towards the run limits."""
    totals = (prior or RunTotals()).model_copy()
    verdicts: list[Verdict] = []
    for proposal in proposals:
        hours = policy.expiry.emergency_hours if proposal.emergency else policy.expiry.default_hours
        expires_at = now + dt.timedelta(hours=hours)
        if proposal.kind == "transfer_order":
            verdict = _judge_transfer(policy, proposal, totals, expires_at)
            if verdict.outcome is GateOutcome.AUTO_APPROVE:
                totals.units += proposal.units
                totals.cost += proposal.cost
        else:
            verdict = _judge_markdown(policy, proposal, expires_at)
        verdicts.append(verdict)
    return verdicts
