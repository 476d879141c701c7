"""Who may decide an approval: the approver role, and above the policy's four-eyes value someone
other than the requester. Checked by the REST decision and by ``command.resume`` alike."""

from __future__ import annotations

from sqlmodel import Session, select

from agents.policy.model import Policy
from api.auth import Principal, Role
from api.errors import ApiError
from inventory.models import Approval, ApprovalStatus, PromoProposal, TransferOrder


def four_eyes_required(session: Session, approval: Approval, policy: Policy) -> bool:
    if approval.subject_type == "transfer_order":
        order = session.get(TransferOrder, approval.subject_id)
        value = order.expected_value if order else float(approval.payload.get("value", 0.0))
        return value > policy.transfer.four_eyes.above_value
    if approval.subject_type == "promo_proposal":
        promo = session.get(PromoProposal, approval.subject_id)
        depth = promo.depth if promo else float(approval.payload.get("depth", 0.0))
        return depth > policy.markdown.four_eyes_above_depth
    return False


def check_may_decide(
    session: Session, approval: Approval, principal: Principal, policy: Policy
) -> None:
    """Raise 403 when ``principal`` may not decide ``approval``."""
    if not principal.has_any(Role.APPROVER):
        raise ApiError(
            403,
            f"{principal.name!r} may not decide approvals; needs the approver role",
            field="role",
            value=[str(r) for r in principal.roles],
        )
    if four_eyes_required(session, approval, policy) and approval.requested_by == principal.name:
        raise ApiError(
            403,
            f"approval {approval.id} is above the four-eyes limit: its requester "
            f"{principal.name!r} cannot decide it; another approver must",
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
