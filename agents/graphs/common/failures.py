"""A proposal the executor refused (no ATP left, subject moved on): settle it as failed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine

from agents.approvals import open_approval
from agents.graphs.common import subjects
from agents.graphs.common.state import Outcome, ProposalRecord
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import ApprovalStatus


def fail_proposal(
    runtime: AgentRuntime, state: dict[str, Any], record: ProposalRecord, message: str, *, by: str
) -> Outcome:
    """Reject the subject with the reason, in a fresh transaction (the failed one rolled back)."""
    return fail_subject(
        runtime.engine,
        runtime.clock(),
        kind=record["kind"],
        subject_id=record["subject_id"],
        requested_by=record["requested_by"],
        run_id=state.get("run_id"),
        thread_id=state.get("thread_id"),
        message=message,
        by=by,
    )


def fail_subject(
    engine: Engine,
    now: dt.datetime,
    *,
    kind: str,
    subject_id: str,
    requested_by: str,
    run_id: str | None,
    thread_id: str | None,
    message: str,
    by: str,
) -> Outcome:
    """``fail_proposal`` for a caller that has the subject's names but no graph state."""
    with session_scope(engine) as session:
        row, _ = open_approval(
            session,
            subject_type=kind,
            subject_id=subject_id,
            run_id=run_id,
            thread_id=thread_id,
            requested_by=requested_by,
            policy_rule="executor refused",
            at=now,
            status=ApprovalStatus.REJECTED,
            decided_by=by,
        )
        row.status, row.comment, row.decided_at = ApprovalStatus.REJECTED, message, now
        session.add(row)
        subjects.reject(session, kind, subject_id, by="system", at=now, comment=message)
    return Outcome(status="failed", by=by, message=message, rule="")
