"""Applies the humans' decisions: approve (four-eyes aware), edit (re-gated), reject, withdraw.

Who may do what is ``agents.authority.rule`` on the stored Approval row (its terms, requester,
first approver, expiry) and the deciding caller — the run's authenticated principal from
``config``, never a name or a verdict carried in graph state.

Runs in the node after the interrupt, so it may run twice after a crash: an approval that is no
longer pending is reported as it stands and never decided again. ``record_decision`` is the one
place a person's approve / reject / withdraw is written; the REST API calls it too, to record a
decision durably *before* it resumes the thread (``api.decisions``), and the graph then finds it
recorded and reports it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.approvals import EditDecision, HITLResponse, approval_id, settle_approval
from agents.authority import Action, Caller, caller_of, is_due, rule
from agents.executor.audit import record_event
from agents.expiry import expire_approval
from agents.graphs.common import subjects
from agents.graphs.common.failures import fail_proposal, fail_subject
from agents.graphs.common.orders import (
    ProposalInvalid,
    create_markdown,
    create_transfer,
    price_shipment,
)
from agents.graphs.common.review import EditInvalid, parse_edited_args
from agents.graphs.common.state import Outcome, ProposalRecord, records_by_subject
from agents.lease import fence
from agents.proposals import MarkdownProposalInput, ProposedShipment
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import Approval, ApprovalStatus

FlowState = dict[str, Any]


def deciding_caller(config: RunnableConfig, response: HITLResponse | None) -> Caller | None:
    """The run's authenticated caller; the resume's own principal only for in-process runs."""
    configured = (config.get("configurable") or {}).get("principal")
    if configured is not None:
        return caller_of(configured)
    return caller_of(response.principal) if response is not None else None


def outcome_of(approval: Approval) -> Outcome:
    """What a settled approval means for the graph (an approval: who gave the last consent)."""
    if approval.status == ApprovalStatus.APPROVED:
        return Outcome(
            status="approved",
            decision="approved",
            by=approval.second_approver or approval.decided_by,
            message=approval.comment or "",
            rule=approval.policy_rule,
        )
    return Outcome(
        status=str(approval.status),
        by=approval.decided_by,
        message=approval.comment or "",
        rule=approval.policy_rule,
    )


def first_approval_note(name: str) -> str:
    return f"first approval by {name}; a second approver must confirm"


def record_decision(
    engine: Engine,
    now: dt.datetime,
    approval_id_: str,
    caller: Caller,
    decision: str,
    message: str | None,
    *,
    run_id: str | None,
    replay: bool = True,
) -> Outcome | str:
    """Record one person's approve / reject / withdraw on its Approval row, judged by the one
    authority (``rule``) in the transaction that writes it, with the subject's own step (an
    approved order's reservation and outbox row) and the audit rows.

    Returns the outcome, or a note why the approval stays pending (not allowed, first of two
    approvals). With ``replay`` (the graph: its node may run again after a crash, or find the
    decision the API recorded) an approval that is no longer pending is reported as it stands;
    without it (a new decision from the API) that is the authority's refusal, as a note.
    Inside a run the transaction is fenced by the run's lease (``agents.lease.fence``).
    """
    try:
        with session_scope(engine) as session:
            fence(session)
            approval = session.get(Approval, approval_id_, with_for_update=True)
            if approval is None:
                return f"no approval record {approval_id_}"
            if replay and approval.status != ApprovalStatus.PENDING:
                return outcome_of(approval)
            ruling = rule(approval, caller, decision, now)
            if ruling.expired:
                expire_approval(session, approval, now)
                return outcome_of(approval)
            if not ruling.allowed:
                return ruling.reason
            kind, subject_id = approval.subject_type, approval.subject_id
            if decision == Action.WITHDRAW:
                comment = message or f"withdrawn by {caller.name}"
                settle_approval(
                    session, approval, ApprovalStatus.WITHDRAWN, caller.name, now, comment
                )
                subjects.withdraw(
                    session, kind, subject_id, by=caller.name, at=now, comment=comment
                )
                return outcome_of(approval)
            if decision == Action.REJECT:
                settle_approval(
                    session, approval, ApprovalStatus.REJECTED, caller.name, now, message
                )
                subjects.reject(session, kind, subject_id, by=caller.name, at=now, comment=message)
                return outcome_of(approval)
            if decision != Action.APPROVE:
                return f"{decision!r} is not recorded here (an edit goes through the graph)"
            if ruling.first_approval:
                approval.decided_by = caller.name
                session.add(approval)
                record_event(
                    session,
                    at=now,
                    actor=caller.name,
                    kind="approval.first_approval",
                    subject_type=kind,
                    subject_id=subject_id,
                    run_id=run_id,
                )
                return first_approval_note(caller.name)
            if approval.decided_by is not None:  # the second of two approvers
                approval.second_approver = caller.name
            settle_approval(
                session,
                approval,
                ApprovalStatus.APPROVED,
                approval.decided_by or caller.name,
                now,
                message,
            )
            # The decision, the reservation and the outbox row commit together; the executor
            # checks the row just written before it reserves anything.
            subjects.approve(session, kind, subject_id, by=caller.name, at=now)
            return Outcome(
                status="approved",
                decision="approved",
                by=caller.name,
                rule=approval.policy_rule,
                message=message or "",
            )
    except ValueError as exc:  # not enough ATP any more, or the subject moved on
        with Session(engine) as session:
            approval = session.get(Approval, approval_id_)
            assert approval is not None
            kind, subject_id = approval.subject_type, approval.subject_id
            requested_by, thread_id = approval.requested_by, approval.thread_id
        return fail_subject(
            engine,
            now,
            kind=kind,
            subject_id=subject_id,
            requested_by=requested_by,
            run_id=run_id,
            thread_id=thread_id,
            message=f"approved by {caller.name} but {exc}",
            by=caller.name,
        )


class DecisionApplier:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    def apply_decisions(self, state: FlowState, config: RunnableConfig) -> FlowState:
        raw = state.get("decisions")
        pending = list(state.get("pending") or [])
        if not raw:
            return {}
        if raw.get("recheck"):
            return self._recheck(pending)
        response = HITLResponse.model_validate(raw)
        caller = deciding_caller(config, response)
        records = records_by_subject(state)
        outcomes: dict[str, Outcome] = {}
        notes: dict[str, str] = {}
        new_records: list[ProposalRecord] = []
        still_pending: list[str] = []
        for subject_id, decision in zip(pending, response.decisions, strict=True):
            record = records[subject_id]
            result = self._apply_one(state, record, decision, caller, new_records)
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

    def _recheck(self, pending: list[str]) -> FlowState:
        """No decision came with the resume: report what was decided, expired or withdrawn
        outside the graph (decisions the API recorded before resuming, the expiry sweep)."""
        now = self.runtime.clock()
        outcomes: dict[str, Outcome] = {}
        notes: dict[str, str] = {}
        still_pending: list[str] = []
        with session_scope(self.runtime.engine) as session:
            for subject_id in pending:
                approval = session.get(Approval, approval_id(subject_id))
                if approval is not None and approval.status == ApprovalStatus.PENDING:
                    if not is_due(approval, now):
                        still_pending.append(subject_id)
                        if approval.decided_by:
                            notes[subject_id] = first_approval_note(approval.decided_by)
                        continue
                    expire_approval(session, approval, now)
                if approval is not None:
                    outcomes[subject_id] = outcome_of(approval)
        return {
            "outcomes": outcomes,
            "pending": still_pending,
            "review_notes": notes,
            "decisions": None,
        }

    def _apply_one(
        self,
        state: FlowState,
        record: ProposalRecord,
        decision: Any,
        caller: Caller | None,
        new_records: list[ProposalRecord],
    ) -> Outcome | str:
        """The outcome, or a note saying why the decision could not be taken (stays pending)."""
        subject_id = record["subject_id"]
        now = self.runtime.clock()
        if caller is None:
            return "nobody is named as deciding: the run has no authenticated principal"
        if not isinstance(decision, EditDecision):
            return record_decision(
                self.runtime.engine,
                now,
                approval_id(subject_id),
                caller,
                decision.type,
                decision.message,
                run_id=state.get("run_id"),
            )
        try:
            with session_scope(self.runtime.engine) as session:
                fence(session)
                approval = session.get(Approval, approval_id(subject_id), with_for_update=True)
                if approval is None:
                    return f"no approval record for {subject_id}"
                if approval.status != ApprovalStatus.PENDING:
                    if (approval.comment or "").startswith("replaced by"):
                        # Applied before a crash: bring the replacement back into the state.
                        new = self._replacement(session, state, record, decision, caller, now)
                        if not isinstance(new, str):
                            new_records.append(new)
                    return outcome_of(approval)
                ruling = rule(approval, caller, decision.type, now)
                if ruling.expired:
                    expire_approval(session, approval, now)
                    return outcome_of(approval)
                if not ruling.allowed:
                    return ruling.reason
                return self._edit(
                    session, state, record, approval, decision, caller, now, new_records
                )
        except ValueError as exc:  # the edited order cannot be priced any more
            return fail_proposal(
                self.runtime,
                state,
                record,
                f"edited by {caller.name} but {exc}",
                by=caller.name,
            )

    def _edit(
        self,
        session: Session,
        state: FlowState,
        record: ProposalRecord,
        approval: Approval,
        decision: EditDecision,
        principal: Caller,
        now: Any,
        new_records: list[ProposalRecord],
    ) -> Outcome | str:
        """An edit replaces the subject with a new one, which goes through the gate again."""
        kind, subject_id = record["kind"], record["subject_id"]
        new = self._replacement(session, state, record, decision, principal, now)
        if isinstance(new, str):
            return new
        message = f"replaced by {new['subject_id']} (edited by {principal.name})"
        settle_approval(session, approval, ApprovalStatus.REJECTED, principal.name, now, message)
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
        principal: Caller,
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
