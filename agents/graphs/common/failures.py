"""A proposal the executor refused (no ATP left, subject moved on): settle it as failed."""

from __future__ import annotations

from typing import Any

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
    kind, subject_id = record["kind"], record["subject_id"]
    now = runtime.clock()
    with session_scope(runtime.engine) as session:
        row, _ = open_approval(
            session,
            subject_type=kind,
            subject_id=subject_id,
            run_id=state.get("run_id"),
            thread_id=state.get("thread_id"),
            requested_by=record["requested_by"],
            policy_rule="executor refused",
            at=now,
            status=ApprovalStatus.REJECTED,
            decided_by=by,
        )
        row.status, row.comment, row.decided_at = ApprovalStatus.REJECTED, message, now
        session.add(row)
        subjects.reject(session, kind, subject_id, by="system", at=now, comment=message)
    return Outcome(status="failed", by=by, message=message, rule="")
