"""Deciding an approval from REST: the same resume of the waiting graph that an SDK client
would send, so the graph's policy checks, executor and audit run exactly once, in one place."""

from __future__ import annotations

from typing import Any

from langgraph.types import Command
from sqlmodel import Session

from agents.policy.model import Policy
from api.auth import Principal
from api.errors import ApiError, conflict, not_found
from api.four_eyes import check_may_decide
from api.langgraph_compat.runner import GraphRunner
from api.run_store import utcnow
from api.schemas.approvals import DecisionRequest
from inventory.models import AgentThread, Approval, ApprovalStatus


def load_pending(session: Session, approval_id: str) -> Approval:
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise not_found("approval", approval_id)
    if approval.status != ApprovalStatus.PENDING:
        raise conflict(
            f"approval {approval_id} is already {approval.status}"
            + (f" (by {approval.decided_by})" if approval.decided_by else ""),
            field="status",
            value=approval.status,
        )
    expires = approval.expires_at
    if expires is not None and expires.replace(tzinfo=expires.tzinfo or utcnow().tzinfo) < utcnow():
        raise conflict(
            f"approval {approval_id} expired at {expires.isoformat()}",
            field="expires_at",
            value=expires.isoformat(),
        )
    return approval


def decide(
    runner: GraphRunner,
    session: Session,
    policy: Policy,
    approval_id: str,
    body: DecisionRequest,
    principal: Principal,
) -> Approval:
    approval = load_pending(session, approval_id)
    check_may_decide(session, approval, principal, policy)
    if approval.thread_id is None:
        raise conflict(
            f"approval {approval_id} has no waiting run to resume", field="thread_id", value=None
        )
    thread = session.get(AgentThread, approval.thread_id)
    assistant_id = thread.assistant_id if thread is not None else None
    if assistant_id is None:
        raise conflict(
            f"approval {approval_id} belongs to thread {approval.thread_id!r}, which has no run",
            field="thread_id",
            value=approval.thread_id,
        )
    decisions = _decisions_for(runner, assistant_id, approval, body)
    resume: dict[str, Any] = {
        "decisions": decisions,
        "principal": principal.as_resume_principal(),
    }
    ticket = runner.admit(
        thread_id=approval.thread_id,
        assistant_id=assistant_id,
        principal=principal,
        graph_input=Command(resume=resume),
        trigger="approval",
        run_input={"command": {"resume": resume}},
        run_id=approval.run_id,
    )
    outcome = runner.run_to_end(ticket)
    if outcome.error is not None:
        raise ApiError(409, f"the decision could not be applied: {outcome.error['message']}")
    session.expire_all()
    refreshed = session.get(Approval, approval_id)
    return refreshed or approval


def _decisions_for(
    runner: GraphRunner, assistant_id: str, approval: Approval, body: DecisionRequest
) -> list[dict[str, Any]]:
    """The waiting interrupt asks for one decision per action; this call decides one of them."""
    state = runner.graph(assistant_id).get_state(
        {"configurable": {"thread_id": approval.thread_id}}
    )
    requests: list[dict[str, Any]] = []
    for pending in state.interrupts:
        value = pending.value if isinstance(pending.value, dict) else {}
        requests.extend(value.get("action_requests", []))
    subjects = [r.get("args", {}).get("subject_id") for r in requests]
    if approval.subject_id not in subjects:
        raise conflict(
            f"approval {approval.id} is not waiting in thread {approval.thread_id!r}",
            field="thread_id",
            value=approval.thread_id,
        )
    if len(subjects) > 1:
        others = [s for s in subjects if s != approval.subject_id]
        raise conflict(
            f"approval {approval.id} is asked together with {', '.join(map(str, others))}; decide "
            "them together with a LangGraph resume carrying one decision per action request",
            field="thread_id",
            value=approval.thread_id,
        )
    decision: dict[str, Any] = {"type": body.decision}
    if body.comment:
        decision["message"] = body.comment
    return [decision]
