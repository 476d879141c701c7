"""What the gate judges about a proposal record, read from the pool rather than from the record.

Graph state can be wrong (a crash, a bug, a forged update), so a record only names its subject:
the requester, units, retail value, freight cost and depth come from the subject's own rows. A
record whose subject the pool does not back as a fresh proposal of this run is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from agents.approvals import approval_id
from agents.executor.decided import transfer_numbers
from agents.graphs.common.state import Outcome, ProposalRecord
from agents.policy import GateOutcome, Proposal, Verdict
from inventory.models import Approval, ApprovalStatus, OrderStatus, PromoProposal, TransferOrder

FRESH = str(OrderStatus.PROPOSED)


@dataclass(frozen=True)
class Recorded:
    """The gate judged this subject before (and then crashed): its recorded verdict stands."""

    verdict: Verdict
    outcome: Outcome


def pool_proposal(
    session: Session, record: ProposalRecord, *, run_id: str | None, thread_id: str
) -> Proposal | Recorded | str:
    """The proposal to judge, the earlier verdict, or why the record is refused."""
    kind, subject_id = record.get("kind"), record.get("subject_id")
    model = {"transfer_order": TransferOrder, "promo_proposal": PromoProposal}.get(str(kind))
    if model is None or not isinstance(subject_id, str):
        return f"unknown proposal kind {kind!r}"
    row = session.get(model, subject_id)
    if row is None:
        return f"{kind} {subject_id!r} does not exist"
    if run_id is not None and row.run_id != run_id:
        return f"{kind} {subject_id} was not proposed in this run"
    approval = session.get(Approval, approval_id(subject_id))
    if approval is not None:
        if approval.thread_id != thread_id:
            return f"{kind} {subject_id} belongs to another thread"
        return _recorded(approval)
    if row.status != FRESH:
        return f"{kind} {subject_id} is {row.status}, not a fresh proposal"
    emergency = bool(record.get("emergency", False))
    if isinstance(row, TransferOrder):
        units, value, cost = transfer_numbers(session, subject_id)
        return Proposal(
            kind="transfer_order",
            subject_id=subject_id,
            requested_by=row.requested_by,
            units=units,
            value=value,
            cost=cost,
            emergency=emergency,
        )
    return Proposal(
        kind="promo_proposal",
        subject_id=subject_id,
        requested_by=row.requested_by,
        depth=row.depth,
        emergency=emergency,
    )


def _recorded(approval: Approval) -> Recorded:
    payload = approval.payload or {}
    status = ApprovalStatus(approval.status)
    outcome = {
        ApprovalStatus.PENDING: GateOutcome.NEEDS_APPROVAL,
        ApprovalStatus.AUTO_APPROVED: GateOutcome.AUTO_APPROVE,
    }.get(status, GateOutcome.REFUSE)
    verdict = Verdict(
        subject_id=approval.subject_id,
        kind=approval.subject_type,  # type: ignore[arg-type]
        outcome=outcome,
        rules=list(payload.get("rules") or []),
        approver_roles=list(payload.get("approver_roles") or []),
        approvers_required=int(payload.get("approvers_required") or 0),
        distinct_from_requester=bool(payload.get("distinct_from_requester")),
        expires_at=approval.expires_at,
    )
    label = {
        ApprovalStatus.PENDING: "pending",
        ApprovalStatus.AUTO_APPROVED: "auto_approved",
        ApprovalStatus.REJECTED: "refused",
    }.get(status, str(status))
    return Recorded(
        verdict=verdict,
        outcome=Outcome(
            status=label,
            by=approval.decided_by,
            rule=approval.policy_rule,
            message=approval.comment or "",
            **({"decision": "auto_approved"} if label == "auto_approved" else {}),
        ),
    )


def refusal(record: ProposalRecord, reason: str) -> Verdict:
    """A verdict for a record the pool does not back (nothing is written for it)."""
    kind = record.get("kind")
    return Verdict(
        subject_id=str(record.get("subject_id")),
        kind=kind if kind in ("transfer_order", "promo_proposal") else "transfer_order",  # type: ignore[arg-type]
        outcome=GateOutcome.REFUSE,
        rules=[reason],
    )
