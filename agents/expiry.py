"""Approvals nobody decided in time: the sweep the service's worker calls on every pass.

An expired approval is settled ``expired`` and its order (or markdown) ``expired`` in one
transaction with the audit rows. Nothing is reserved before an approval is decided (the
reservation is part of approving), so expiry has no stock to give back. The threads that waited
on those approvals are returned so the caller can resume them with a recheck
(``agents.approvals.Recheck``), which reports the outcome in the conversation.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.approvals import settle_approval
from agents.graphs.common import subjects
from inventory.db import session_scope
from inventory.models import Approval, ApprovalStatus

SYSTEM = "system"


def expire_approval(session: Session, approval: Approval, now: dt.datetime) -> None:
    """Settle one due approval as expired, and its subject with it (caller's transaction)."""
    settle_approval(
        session,
        approval,
        ApprovalStatus.EXPIRED,
        SYSTEM,
        now,
        f"nobody decided before {approval.expires_at:%Y-%m-%d %H:%M}",
    )
    subjects.expire(session, approval.subject_type, approval.subject_id, at=now)


def expire_due_approvals(engine: Engine, now: dt.datetime) -> list[Approval]:
    """Expire every pending approval whose ``expires_at`` has passed; returns them.

    Each approval is settled in its own transaction with a guarded re-read, so a decision that
    lands at the same moment wins or loses cleanly and the sweep never decides twice.
    """
    with Session(engine) as session:
        due = session.exec(
            select(Approval.id).where(
                col(Approval.status) == str(ApprovalStatus.PENDING),
                col(Approval.expires_at).is_not(None),
                col(Approval.expires_at) <= now,
            )
        ).all()
    expired: list[Approval] = []
    for approval_id in due:
        with session_scope(engine) as session:
            approval = session.get(Approval, approval_id, with_for_update=True)
            if approval is None or approval.status != ApprovalStatus.PENDING:
                continue
            expire_approval(session, approval, now)
            session.flush()
            session.expunge(approval)
        expired.append(approval)
    return expired
