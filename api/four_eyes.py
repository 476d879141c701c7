"""Who may decide an approval: the approver role, and above the policy's four-eyes limit someone
other than the requester, then a second, different approver. Checked by the REST decision and by
``command.resume`` alike.

The policy gate records its verdict in ``Approval.payload`` (``approvers_required``,
``distinct_from_requester``, judged on the retail value it recomputed from the pool). The API
reads that verdict rather than judging again, so the API and the graph can never disagree.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session, select

from agents.policy.model import Policy
from api.auth import Principal, Role
from api.errors import ApiError
from inventory.models import Approval, ApprovalStatus


class FourEyes(BaseModel):
    """The part of the gate's verdict that says who may approve."""

    approvers_required: int
    distinct_from_requester: bool


def recorded_verdict(approval: Approval, policy: Policy) -> FourEyes:
    """The gate's verdict as recorded with the approval.

    Approvals written before the gate recorded its verdict carry only the judged value (or depth):
    the policy's four-eyes rule is applied to that recorded number — never to a value the API
    computes itself.
    """
    payload = approval.payload or {}
    if "approvers_required" in payload and "distinct_from_requester" in payload:
        return FourEyes(
            approvers_required=int(payload["approvers_required"]),
            distinct_from_requester=bool(payload["distinct_from_requester"]),
        )
    if approval.subject_type == "transfer_order":
        rule = policy.transfer.four_eyes
        above = float(payload.get("value") or 0.0) > rule.above_value
        return FourEyes(
            approvers_required=rule.approvers_required if above else 1,
            distinct_from_requester=above and rule.distinct_from_requester,
        )
    if approval.subject_type == "promo_proposal":
        above = float(payload.get("depth") or 0.0) > policy.markdown.four_eyes_above_depth
        return FourEyes(approvers_required=2 if above else 1, distinct_from_requester=above)
    return FourEyes(approvers_required=1, distinct_from_requester=False)


def check_may_decide(
    approval: Approval, principal: Principal, policy: Policy, decision: str = "approve"
) -> None:
    """Raise 403 when ``principal`` may not take ``decision`` on ``approval``.

    As in the graph, four-eyes limits who may approve (or edit); a requester may still withdraw
    their own proposal by rejecting it.
    """
    if not principal.has_any(Role.APPROVER):
        raise ApiError(
            403,
            f"{principal.name!r} may not decide approvals; needs the approver role",
            field="role",
            value=[str(r) for r in principal.roles],
        )
    if decision == "reject":
        return
    verdict = recorded_verdict(approval, policy)
    if verdict.distinct_from_requester and approval.requested_by == principal.name:
        raise ApiError(
            403,
            f"approval {approval.id} is above the four-eyes limit: its requester "
            f"{principal.name!r} cannot decide it; another approver must",
            field="principal",
            value=principal.name,
        )
    if verdict.approvers_required >= 2 and approval.decided_by == principal.name:
        raise ApiError(
            403,
            f"approval {approval.id} needs {verdict.approvers_required} different approvers: "
            f"{principal.name!r} already gave the first approval; another approver must confirm",
            field="principal",
            value=principal.name,
        )


def pending_for_thread(session: Session, thread_id: str) -> list[Approval]:
    return list(
        session.exec(
            select(Approval).where(
                Approval.thread_id == thread_id, Approval.status == str(ApprovalStatus.PENDING)
            )
        ).all()
    )
