"""The executor's own check that a subject was really decided, in the transaction that acts on it.

An order or markdown becomes approved only through its Approval row: decided by the humans its
terms ask for, or auto-approved by the policy gate on numbers that still match the pool (units,
retail value and freight cost recomputed here from the order's own rows). Whatever a graph state
claims, nothing reaches the outbox otherwise.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from agents.approvals import approval_id
from agents.authority import ApprovalTerms
from agents.executor.errors import NotDecided
from inventory.models import (
    Approval,
    ApprovalStatus,
    PromoProposal,
    Sku,
    Style,
    TransferLine,
    TransferOrder,
)

POLICY = "policy"


def transfer_numbers(session: Session, order_id: str) -> tuple[int, float, float]:
    """(units, retail value, freight cost) of an order, from its own rows and the catalogue."""
    order = session.get(TransferOrder, order_id)
    if order is None:
        raise NotDecided(f"transfer_order {order_id!r} does not exist")
    lines = session.exec(select(TransferLine).where(col(TransferLine.order_id) == order_id)).all()
    units, value = 0, 0.0
    for line in lines:
        sku = session.get(Sku, line.sku_code)
        style = session.get(Style, sku.style_code) if sku else None
        units += line.qty
        value += line.qty * (style.price if style else 0.0)
    return units, round(value, 2), round(order.cost, 2)


def require_decided(
    session: Session, subject_type: str, subject_id: str, requested_by: str
) -> None:
    """Raise ``NotDecided`` unless the subject's Approval allows executing it now."""
    approval = session.get(Approval, approval_id(subject_id))
    what = f"{subject_type} {subject_id}"
    if approval is None or approval.subject_type != subject_type:
        raise NotDecided(f"{what} has no approval record")
    if approval.requested_by != requested_by:
        raise NotDecided(f"{what}: its approval names another requester")
    if approval.status == ApprovalStatus.AUTO_APPROVED:
        if approval.decided_by != POLICY:
            raise NotDecided(f"{what}: an auto-approval is the policy's alone")
        if subject_type == "transfer_order":
            recorded = approval.payload or {}
            units, value, cost = transfer_numbers(session, subject_id)
            judged = (
                int(recorded.get("units", -1)),
                round(float(recorded.get("value", -1)), 2),
                round(float(recorded.get("cost", -1)), 2),
            )
            if judged != (units, value, cost):
                raise NotDecided(
                    f"{what}: auto-approved on units/value/cost {judged}, but the order is "
                    f"{(units, value, cost)}"
                )
        else:
            promo = session.get(PromoProposal, subject_id)
            judged_depth = (approval.payload or {}).get("depth")
            if promo is None or judged_depth is None or abs(promo.depth - judged_depth) > 1e-9:
                raise NotDecided(f"{what}: auto-approved on another depth than it has")
        return
    if approval.status != ApprovalStatus.APPROVED:
        raise NotDecided(f"{what}: its approval is {approval.status}, not approved")
    terms = ApprovalTerms.of(approval)
    deciders = [d for d in (approval.decided_by, approval.second_approver) if d]
    if not deciders or POLICY in deciders:
        raise NotDecided(f"{what}: no human decision is recorded")
    if len(set(deciders)) < terms.approvers_required:
        raise NotDecided(
            f"{what}: needs {terms.approvers_required} different approvers, has {deciders}"
        )
    if terms.distinct_from_requester and requested_by in deciders:
        raise NotDecided(f"{what}: four-eyes, but its requester {requested_by!r} approved it")
