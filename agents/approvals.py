"""Human-in-the-loop payloads (DESIGN §4) as typed JSON models, and the Approval rows behind them.

The interrupt payload and resume value follow LangChain's HITL middleware / agent-chat-ui shape, so
any of those clients can answer. Who decided travels in the resume value (``principal``); the API
fills it from the caller's key. Row writes are idempotent on the approval id because the graph
node that records them may run again after a crash.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from agents.executor.audit import record_event
from agents.lease import fence
from inventory.models import Approval, ApprovalStatus

Decision = Literal["approve", "edit", "reject"]


class ActionRequest(BaseModel):
    name: str = Field(description="transfer_order | markdown")
    args: dict[str, Any]
    description: str


class ReviewConfig(BaseModel):
    action_name: str
    allowed_decisions: list[Decision] = Field(default_factory=lambda: ["approve", "edit", "reject"])
    args_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema of the action's args, for typed edit fields."
    )


class HITLRequest(BaseModel):
    """What ``interrupt()`` hands to the human: one action request per pending approval."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]


class Principal(BaseModel):
    name: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)


class EditedAction(BaseModel):
    name: str
    args: dict[str, Any]


class ApproveDecision(BaseModel):
    type: Literal["approve"] = "approve"
    message: str | None = None


class RejectDecision(BaseModel):
    type: Literal["reject"] = "reject"
    message: str | None = None


class EditDecision(BaseModel):
    type: Literal["edit"] = "edit"
    edited_action: EditedAction
    message: str | None = None


class WithdrawDecision(BaseModel):
    """The requester (or an approver) takes the proposal back; agent-chat-ui's "resolve"."""

    type: Literal["withdraw"] = "withdraw"
    message: str | None = None


HumanDecision = Annotated[
    ApproveDecision | RejectDecision | EditDecision | WithdrawDecision,
    Field(discriminator="type"),
]


class HITLResponse(BaseModel):
    """The resume value: one decision per action request, in the same order.

    ``principal`` is who decides when the graph runs in-process without an authenticated
    caller (CLI, evals); a run started through the API decides as its authenticated caller, set
    in ``config["configurable"]["principal"]``, whatever the resume value says.
    """

    decisions: list[HumanDecision]
    principal: Principal | None = None


class Recheck(BaseModel):
    """A resume that brings no decision: re-read the approvals (some expired or were withdrawn
    outside the graph) and report what became of them. Sent by the service's expiry sweep."""

    model_config = ConfigDict(extra="forbid")

    recheck: Literal[True] = True


def approval_id(subject_id: str) -> str:
    return f"AP-{subject_id}"


def open_approval(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    run_id: str | None,
    thread_id: str | None,
    requested_by: str,
    policy_rule: str,
    at: dt.datetime,
    status: ApprovalStatus,
    expires_at: dt.datetime | None = None,
    decided_by: str | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[Approval, bool]:
    """The approval for a subject, created once; returns (row, created). Fenced: a run that
    lost its thread's lease may not open (or settle) approvals."""
    fence(session)
    existing = session.get(Approval, approval_id(subject_id))
    if existing is not None:
        return existing, False
    row = Approval(
        id=approval_id(subject_id),
        subject_type=subject_type,
        subject_id=subject_id,
        run_id=run_id,
        thread_id=thread_id,
        status=status,
        requested_by=requested_by,
        decided_by=decided_by,
        policy_rule=policy_rule,
        requested_at=at,
        decided_at=at if status != ApprovalStatus.PENDING else None,
        expires_at=expires_at,
        payload=payload or {},
    )
    session.add(row)
    record_event(
        session,
        at=at,
        actor=decided_by or requested_by,
        kind=f"approval.{status}" if status != ApprovalStatus.PENDING else "approval.requested",
        subject_type=subject_type,
        subject_id=subject_id,
        run_id=run_id,
        payload={"policy_rule": policy_rule},
    )
    return row, True


def settle_approval(
    session: Session,
    approval: Approval,
    status: ApprovalStatus,
    by: str,
    at: dt.datetime,
    comment: str | None,
) -> None:
    """Settle an approval and audit it. A four-eyes approval keeps its first approver in
    ``decided_by`` (the second is ``second_approver``). Fenced like every write of a run."""
    fence(session)
    approval.status = status
    if not (status == ApprovalStatus.APPROVED and approval.decided_by):
        approval.decided_by = by
    approval.decided_at = at
    approval.comment = comment
    session.add(approval)
    record_event(
        session,
        at=at,
        actor=by,
        kind=f"approval.{status}",
        subject_type=approval.subject_type,
        subject_id=approval.subject_id,
        run_id=approval.run_id,
        payload={"comment": comment, "second_approver": approval.second_approver},
    )
