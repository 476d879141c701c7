"""Deciding an approval from REST: the same resume of the waiting graph that an SDK client
would send, so the graph's policy checks, executor and audit run exactly once, in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.types import Command
from sqlmodel import Session

from agents.policy.model import Policy
from api.auth import Principal
from api.errors import ApiError, conflict, not_found
from api.four_eyes import check_may_decide, pending_for_thread
from api.langgraph_compat.runner import GraphRunner
from api.schemas.approvals import DecisionRequest
from inventory.clock import Clock, as_utc
from inventory.models import AgentThread, Approval, ApprovalStatus


def load_pending(session: Session, approval_id: str, now: datetime) -> Approval:
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
    if expires is not None and as_utc(expires) < now:
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
    choices: list[tuple[str, DecisionRequest]],
    principal: Principal,
    clock: Clock,
) -> list[Approval]:
    """Decide approvals that wait in one interrupt; one resume carries every decision.

    Expiry is judged on the service's clock (``inventory.clock``), the one the graph records by.
    """
    now = clock()
    approvals = [load_pending(session, approval_id, now) for approval_id, _ in choices]
    for approval, (_, body) in zip(approvals, choices, strict=True):
        check_may_decide(approval, principal, policy, body.decision)
    threads = {a.thread_id for a in approvals}
    if len(threads) != 1 or None in threads:
        raise conflict(
            "decide the approvals of one waiting run at a time",
            field="approval_id",
            value=[a.id for a in approvals],
        )
    first = approvals[0]
    thread = session.get(AgentThread, first.thread_id)
    if thread is None or thread.assistant_id is None:
        raise conflict(
            f"approval {first.id} has no waiting run to resume",
            field="thread_id",
            value=first.thread_id,
        )
    by_subject = {a.subject_id: body for a, (_, body) in zip(approvals, choices, strict=True)}
    decisions = _ordered_decisions(session, runner, thread.assistant_id, first, by_subject)
    resume: dict[str, Any] = {
        "decisions": decisions,
        "principal": principal.as_resume_principal(),
    }
    ticket = runner.admit(
        thread_id=thread.id,
        assistant_id=thread.assistant_id,
        principal=principal,
        graph_input=Command(resume=resume),
        trigger="approval",
        run_input={"command": {"resume": resume}},
        run_id=first.run_id,
    )
    outcome = runner.run_to_end(ticket)
    if outcome.error is not None:
        raise ApiError(409, f"the decision could not be applied: {outcome.error['message']}")
    session.expire_all()
    return [session.get(Approval, a.id) or a for a in approvals]


def _ordered_decisions(
    session: Session,
    runner: GraphRunner,
    assistant_id: str,
    approval: Approval,
    by_subject: dict[str, DecisionRequest],
) -> list[dict[str, Any]]:
    """The interrupt asks for one decision per action request, in its own order."""
    config = {"configurable": {"thread_id": approval.thread_id}}
    state = runner.graph(assistant_id).get_state(config)
    subjects: list[str] = []
    for pending in state.interrupts:
        value = pending.value if isinstance(pending.value, dict) else {}
        subjects.extend(
            str(r.get("args", {}).get("subject_id")) for r in value.get("action_requests", [])
        )
    unknown = sorted(set(by_subject) - set(subjects))
    if unknown:
        raise conflict(
            f"not waiting for a decision in thread {approval.thread_id!r}: {', '.join(unknown)}",
            field="approval_id",
            value=unknown,
        )
    missing = [s for s in subjects if s not in by_subject]
    if missing:
        ids = {a.subject_id: a.id for a in pending_for_thread(session, approval.thread_id or "")}
        others = [ids.get(s, s) for s in missing]
        raise conflict(
            f"this interrupt asks about {len(subjects)} proposals together; decide them in one "
            f"call to POST /v1/approvals/decisions (also: {', '.join(others)})",
            field="approval_id",
            value=others,
        )
    decisions = []
    for subject in subjects:
        body = by_subject[subject]
        decision: dict[str, Any] = {"type": body.decision}
        if body.comment:
            decision["message"] = body.comment
        decisions.append(decision)
    return decisions
