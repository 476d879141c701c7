"""State keys of the approval flow. Plain JSON values only, so checkpoints stay allowlist-safe."""

from __future__ import annotations

from typing import Any, TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later keys win, earlier keys stay."""
    return {**(left or {}), **(right or {})}


def append_list(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    return [*(left or []), *(right or [])]


class ProposalRecord(TypedDict, total=False):
    """One order or markdown on its way through the gate (JSON)."""

    kind: str  # transfer_order | promo_proposal
    subject_id: str
    requested_by: str
    units: int
    value: float  # retail value of the goods (what the policy limits)
    cost: float
    net_value: float | None  # expected net value of the plan (tools.plan_transfers.value)
    net_value_if_no_rain: float | None  # an alert's order if the warned rain does not fall
    depth: float | None
    emergency: bool
    summary: str
    action: dict[str, Any]  # {"name", "args"}: what a human sees and may edit
    origin: str | None  # the tool call that proposed it (ops_chat)
    expected_value: float | None  # expected sales saved / revenue, for the reviewer
    margin_impact: float | None  # markdowns
    reason: str  # why it was proposed, for the reviewer


class Outcome(TypedDict, total=False):
    """Where a proposal ended up: auto_approved, approved, rejected, refused, expired, failed,
    pending, dispatched, queued."""

    status: str
    decision: str  # auto_approved | approved, kept after dispatch
    by: str | None
    message: str
    rule: str
    external_ref: str | None


def records_by_subject(state: dict[str, Any]) -> dict[str, ProposalRecord]:
    return {p["subject_id"]: p for p in state.get("proposals") or []}
