"""Promo (markdown) proposal lifecycle: proposed → pending_approval → approved → applied, or
rejected / expired. Approval enqueues the price change in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from agents.executor import outbox
from agents.executor.audit import record_event
from agents.executor.decided import require_decided
from agents.executor.models import PromoDraft
from agents.executor.timing import as_utc
from agents.executor.transactions import atomic_step
from agents.executor.transitions import load, transition
from connectors.models import PriceChange
from inventory.models import Location, PromoProposal, PromoStatus, Style

SUBJECT = "promo_proposal"
PRICING_TARGET = "pricing"
PRICING_ACTION = "apply_price_change"
UNDECIDED = (PromoStatus.PROPOSED, PromoStatus.PENDING_APPROVAL)


def pricing_idempotency_key(proposal_id: str) -> str:
    return f"pricing:price_change:{proposal_id}"


def create_promo_proposal(
    session: Session,
    draft: PromoDraft,
    *,
    at: datetime,
    run_id: str | None = None,
    requested_by: str = "system",
    status: PromoStatus = PromoStatus.PROPOSED,
    proposal_id: str | None = None,
) -> PromoProposal:
    """Store a markdown awaiting a decision.

    Raises:
        ValueError: unknown style or location, or a status that is already a decision.
    """
    at = as_utc(at)
    if status not in UNDECIDED:
        raise ValueError(f"status: a new proposal is proposed or pending_approval, got {status!r}")
    with atomic_step(session):
        if session.get(Style, draft.style) is None:
            raise ValueError(f"style: unknown style {draft.style!r}")
        if draft.location is not None and session.get(Location, draft.location) is None:
            raise ValueError(f"location: unknown location {draft.location!r}")
        proposal = PromoProposal(
            id=proposal_id or f"PP-{uuid.uuid4().hex[:12].upper()}",
            style_code=draft.style,
            location_code=draft.location,
            depth=draft.depth,
            expected_extra_units=draft.expected_extra_units,
            expected_revenue=draft.expected_revenue,
            margin_impact=draft.margin_impact,
            status=status,
            run_id=run_id,
            requested_by=requested_by,
            details=draft.details,
            created_at=at,
            updated_at=at,
        )
        session.add(proposal)
        session.flush()
        _audit(session, proposal, actor=requested_by, at=at, depth=draft.depth)
    return proposal


def request_promo_approval(session: Session, proposal_id: str, *, at: datetime) -> PromoProposal:
    at = as_utc(at)
    with atomic_step(session):
        proposal = _move(
            session,
            proposal_id,
            allowed_from=[PromoStatus.PROPOSED],
            to=PromoStatus.PENDING_APPROVAL,
            at=at,
            actor=load(session, PromoProposal, proposal_id).requested_by,
        )
    return proposal


def approve_promo_proposal(
    session: Session, proposal_id: str, *, decided_by: str, at: datetime
) -> PromoProposal:
    """Approve and enqueue the price change for the pricing system, in one transaction; only
    with a decided (or validly auto-approved) Approval row, checked in that transaction."""
    at = as_utc(at)
    with atomic_step(session):
        current = load(session, PromoProposal, proposal_id)
        require_decided(session, SUBJECT, proposal_id, current.requested_by)
        style = session.get(Style, current.style_code)
        assert style is not None  # enforced by the foreign key
        change = PriceChange(
            proposal_id=current.id,
            style=current.style_code,
            location=current.location_code,
            depth=current.depth,
            new_price=round(style.price * (1 - current.depth), 2),
            reason=f"markdown {current.depth:.0%} approved by {decided_by}",
        )
        proposal = _move(
            session,
            proposal_id,
            allowed_from=UNDECIDED,
            to=PromoStatus.APPROVED,
            at=at,
            actor=decided_by,
            new_price=change.new_price,
        )
        outbox.enqueue(
            session,
            target=PRICING_TARGET,
            action=PRICING_ACTION,
            subject_id=proposal.id,
            payload=change,
            idempotency_key=pricing_idempotency_key(proposal.id),
            at=at,
        )
    return proposal


def reject_promo_proposal(
    session: Session,
    proposal_id: str,
    *,
    decided_by: str,
    at: datetime,
    comment: str | None = None,
) -> PromoProposal:
    at = as_utc(at)
    with atomic_step(session):
        proposal = _move(
            session,
            proposal_id,
            allowed_from=UNDECIDED,
            to=PromoStatus.REJECTED,
            at=at,
            actor=decided_by,
            comment=comment,
        )
    return proposal


def expire_promo_proposal(
    session: Session, proposal_id: str, *, at: datetime, actor: str = "system"
) -> PromoProposal:
    at = as_utc(at)
    with atomic_step(session):
        proposal = _move(
            session,
            proposal_id,
            allowed_from=UNDECIDED,
            to=PromoStatus.EXPIRED,
            at=at,
            actor=actor,
        )
    return proposal


def mark_applied(
    session: Session, proposal_id: str, *, external_ref: str, at: datetime, actor: str
) -> PromoProposal:
    """The pricing system took the change (dispatcher only)."""
    at = as_utc(at)
    with atomic_step(session):
        proposal = _move(
            session,
            proposal_id,
            allowed_from=[PromoStatus.APPROVED],
            to=PromoStatus.APPLIED,
            at=at,
            values={"external_ref": external_ref},
            actor=actor,
            external_ref=external_ref,
        )
    return proposal


def _move(
    session: Session,
    proposal_id: str,
    *,
    allowed_from: list[PromoStatus] | tuple[PromoStatus, ...],
    to: PromoStatus,
    at: datetime,
    actor: str,
    values: dict[str, object] | None = None,
    **audit: object,
) -> PromoProposal:
    """One lifecycle step: the guarded status change and its audit row."""
    proposal = transition(
        session,
        PromoProposal,
        proposal_id,
        allowed_from=allowed_from,
        to=to,
        at=at,
        values=values,
    )
    _audit(session, proposal, actor=actor, at=at, **audit)
    return proposal


def _audit(
    session: Session, proposal: PromoProposal, *, actor: str, at: datetime, **extra: object
) -> None:
    record_event(
        session,
        kind=f"{SUBJECT}.{proposal.status}",
        actor=actor,
        at=at,
        subject_type=SUBJECT,
        subject_id=proposal.id,
        run_id=proposal.run_id,
        payload={key: value for key, value in extra.items() if value is not None},
    )
