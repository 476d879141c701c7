"""Applies the humans' decisions: approve (four-eyes aware), edit (re-gated), reject, expiry.

Runs in the node after the interrupt, so it may run twice after a crash: an approval that is no
longer pending is reported as it stands and never decided again.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from agents.approvals import EditDecision, HITLResponse, Principal, approval_id
from agents.executor.audit import record_event
from agents.graphs.common import subjects
from agents.graphs.common.failures import fail_proposal
from agents.graphs.common.orders import (
    ProposalInvalid,
    create_markdown,
    create_transfer,
    price_shipment,
)
from agents.graphs.common.review import EditInvalid, parse_edited_args
from agents.graphs.common.state import Outcome, ProposalRecord, records_by_subject
from agents.proposals import MarkdownProposalInput, ProposedShipment
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import Approval, ApprovalStatus

FlowState = dict[str, Any]


class DecisionApplier:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    def apply_decisions(self, state: FlowState) -> FlowState:
        raw = state.get("decisions")
        pending = list(state.get("pending") or [])
        if not raw:
            return {}
        response = HITLResponse.model_validate(raw)
        principal = response.principal
        records = records_by_subject(state)
        judged = state.get("judged") or {}
        outcomes: dict[str, Outcome] = {}
        notes: dict[str, str] = {}
        new_records: list[ProposalRecord] = []
        still_pending: list[str] = []
        for subject_id, decision in zip(pending, response.decisions, strict=True):
            record, verdict = records[subject_id], judged[subject_id]
            result = self._apply_one(state, record, verdict, decision, principal, new_records)
            if isinstance(result, str):
                notes[subject_id] = result
                still_pending.append(subject_id)
            else:
                outcomes[subject_id] = result
        return {
            "outcomes": outcomes,
            "pending": still_pending,
            "review_notes": notes,
            "decisions": None,
            "proposals": new_records,
        }

    def _apply_one(
        self,
        state: FlowState,
        record: ProposalRecord,
        verdict: dict[str, Any],
        decision: Any,
        principal: Principal | None,
        new_records: list[ProposalRecord],
    ) -> Outcome | str:
        """The outcome, or a note saying why the decision could not be taken (stays pending)."""
        kind, subject_id = record["kind"], record["subject_id"]
        now = self.runtime.clock()
        if principal is None:
            return "the resume value must name the deciding principal ({name, roles})"
        try:
            with session_scope(self.runtime.engine) as session:
                approval = session.get(Approval, approval_id(subject_id))
                if approval is None:
                    return f"no approval record for {subject_id}"
                if approval.status != ApprovalStatus.PENDING:
                    if isinstance(decision, EditDecision) and (approval.comment or "").startswith(
                        "replaced by"
                    ):
                        # Applied before a crash: bring the replacement back into the state.
                        new = self._replacement(session, state, record, decision, principal, now)
                        if not isinstance(new, str):
                            new_records.append(new)
                    return Outcome(
                        status=str(approval.status),
                        by=approval.decided_by,
                        message=approval.comment or "",
                        rule=approval.policy_rule,
                    )
                if approval.expires_at is not None and now > approval.expires_at:
                    self._close(
                        session,
                        approval,
                        ApprovalStatus.EXPIRED,
                        principal.name,
                        now,
                        f"decision by {principal.name} came after expiry {approval.expires_at}",
                    )
                    subjects.expire(session, kind, subject_id, at=now)
                    return Outcome(
                        status="expired",
                        by=principal.name,
                        rule=approval.policy_rule,
                        message=f"approval expired at {approval.expires_at:%Y-%m-%d %H:%M}",
                    )
                allowed = set(verdict["approver_roles"])
                is_approver = bool(allowed & set(principal.roles))
                if decision.type == "reject":
                    if not is_approver and principal.name != record["requested_by"]:
                        return (
                            f"{principal.name} (roles {principal.roles}) may not decide: needs "
                            f"one of {sorted(allowed)} or the requester"
                        )
                    self._close(
                        session,
                        approval,
                        ApprovalStatus.REJECTED,
                        principal.name,
                        now,
                        decision.message,
                    )
                    subjects.reject(
                        session,
                        kind,
                        subject_id,
                        by=principal.name,
                        at=now,
                        comment=decision.message,
                    )
                    return Outcome(
                        status="rejected",
                        by=principal.name,
                        rule=approval.policy_rule,
                        message=decision.message or "",
                    )
                if not is_approver:
                    return (
                        f"{principal.name} (roles {principal.roles}) may not approve: needs one "
                        f"of {sorted(allowed)}"
                    )
                if verdict["distinct_from_requester"] and principal.name == record["requested_by"]:
                    return (
                        f"four-eyes: {principal.name} asked for {subject_id} and may not approve it"
                    )
                if isinstance(decision, EditDecision):
                    return self._edit(
                        session, state, record, approval, decision, principal, now, new_records
                    )
                if verdict["approvers_required"] >= 2 and approval.decided_by is None:
                    approval.decided_by = principal.name
                    session.add(approval)
                    record_event(
                        session,
                        at=now,
                        actor=principal.name,
                        kind="approval.first_approval",
                        subject_type=kind,
                        subject_id=subject_id,
                        run_id=state.get("run_id"),
                    )
                    return f"first approval by {principal.name}; a second approver must confirm"
                if verdict["approvers_required"] >= 2:
                    if principal.name == approval.decided_by:
                        return (
                            f"four-eyes: {principal.name} already approved; a different "
                            "approver must confirm"
                        )
                    approval.second_approver = principal.name
                else:
                    approval.decided_by = principal.name
                self._close(
                    session,
                    approval,
                    ApprovalStatus.APPROVED,
                    approval.decided_by or principal.name,
                    now,
                    decision.message,
                )
                # The decision, the reservation and the outbox row commit together.
                subjects.approve(session, kind, subject_id, by=principal.name, at=now)
                return Outcome(
                    status="approved",
                    decision="approved",
                    by=principal.name,
                    rule=approval.policy_rule,
                    message=decision.message or "",
                )

        except ValueError as exc:  # not enough ATP any more, or the subject moved on
            return fail_proposal(
                self.runtime,
                state,
                record,
                f"approved by {principal.name} but {exc}",
                by=principal.name,
            )

    def _close(
        self,
        session: Session,
        approval: Approval,
        status: ApprovalStatus,
        by: str,
        at: Any,
        comment: str | None,
    ) -> None:
        """Settle the approval. A four-eyes approval keeps its first approver in decided_by."""
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

    def _edit(
        self,
        session: Session,
        state: FlowState,
        record: ProposalRecord,
        approval: Approval,
        decision: EditDecision,
        principal: Principal,
        now: Any,
        new_records: list[ProposalRecord],
    ) -> Outcome | str:
        """An edit replaces the subject with a new one, which goes through the gate again."""
        kind, subject_id = record["kind"], record["subject_id"]
        new = self._replacement(session, state, record, decision, principal, now)
        if isinstance(new, str):
            return new
        message = f"replaced by {new['subject_id']} (edited by {principal.name})"
        self._close(session, approval, ApprovalStatus.REJECTED, principal.name, now, message)
        subjects.reject(session, kind, subject_id, by=principal.name, at=now, comment=message)
        new_records.append(new)
        return Outcome(
            status="edited", by=principal.name, rule=approval.policy_rule, message=message
        )

    def _replacement(
        self,
        session: Session,
        state: FlowState,
        record: ProposalRecord,
        decision: EditDecision,
        principal: Principal,
        now: Any,
    ) -> ProposalRecord | str:
        """The edited subject (created once per original), or why the edit cannot be made."""
        kind, subject_id = record["kind"], record["subject_id"]
        key = f"edit:{subject_id}"
        run_id = state.get("run_id") or ""
        try:
            action = record.get("action") or {"name": kind, "args": {}}
            args = parse_edited_args(
                action["name"], decision.edited_action.args, original=action["args"]
            )
            if kind == "transfer_order":
                shipment = price_shipment(session, ProposedShipment.model_validate(args))
                return create_transfer(
                    session,
                    shipment,
                    key=key,
                    run_id=run_id,
                    requested_by=principal.name,
                    reason=f"edit of {subject_id} by {principal.name}",
                    emergency=record.get("emergency", False),
                    origin=record.get("origin"),
                    at=now,
                )
            return create_markdown(
                session,
                MarkdownProposalInput.model_validate(args),
                key=key,
                run_id=run_id,
                requested_by=principal.name,
                origin=record.get("origin"),
                at=now,
            )
        except (ValidationError, ProposalInvalid, EditInvalid) as exc:
            session.rollback()
            return f"edit rejected: {exc}"
