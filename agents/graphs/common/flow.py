"""The approval flow both graphs share: gate → await_decisions ⇄ apply_decisions → execute.

``await_decisions`` only builds the request and calls ``interrupt()``: it re-runs from its start
on resume (DESIGN §10), so every write lives in ``gate``, ``apply_decisions`` and ``execute``,
each idempotent (approval ids derive from the subject; status is checked before each step).
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import ValidationError
from sqlmodel import Session

from agents.approvals import (
    ActionRequest,
    EditDecision,
    HITLRequest,
    HITLResponse,
    Principal,
    ReviewConfig,
    approval_id,
    audit,
    open_approval,
)
from agents.executor.dispatcher import Dispatcher
from agents.graphs.common import subjects
from agents.graphs.common.orders import (
    ProposalInvalid,
    create_markdown,
    create_transfer,
    price_shipment,
)
from agents.graphs.common.state import Outcome, ProposalRecord
from agents.policy import GateOutcome, Proposal, Verdict, evaluate
from agents.policy.gate import RunTotals
from agents.proposals import MarkdownProposalInput, ProposedShipment
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import Approval, ApprovalStatus

FlowState = dict[str, Any]


def _records(state: FlowState) -> dict[str, ProposalRecord]:
    return {p["subject_id"]: p for p in state.get("proposals") or []}


def _as_proposal(record: ProposalRecord) -> Proposal:
    return Proposal(
        kind=record["kind"],  # type: ignore[arg-type]
        subject_id=record["subject_id"],
        requested_by=record["requested_by"],
        units=record.get("units", 0),
        value=record.get("value", 0.0),
        cost=record.get("cost", 0.0),
        depth=record.get("depth"),
        emergency=record.get("emergency", False),
    )


class ApprovalFlow:
    """Node functions bound to one runtime."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    # -- gate -----------------------------------------------------------------------------------

    def gate(self, state: FlowState) -> FlowState:
        judged: dict[str, Any] = state.get("judged") or {}
        fresh = [p for p in state.get("proposals") or [] if p["subject_id"] not in judged]
        if not fresh:
            return {}
        now = self.runtime.clock()
        totals = RunTotals.model_validate(state.get("run_totals") or {})
        verdicts = evaluate(
            self.runtime.policy, [_as_proposal(p) for p in fresh], now=now, prior=totals
        )
        outcomes: dict[str, Outcome] = {}
        pending = list(state.get("pending") or [])
        for record, verdict in zip(fresh, verdicts, strict=True):
            outcome = self._record_verdict(state, record, verdict)
            outcomes[record["subject_id"]] = outcome
            if outcome["status"] == "pending":
                pending.append(record["subject_id"])
            elif outcome["status"] == "auto_approved":
                totals.units += record.get("units", 0)
                totals.cost += record.get("cost", 0.0)
        return {
            "judged": {v.subject_id: v.model_dump(mode="json") for v in verdicts},
            "outcomes": outcomes,
            "pending": pending,
            "run_totals": totals.model_dump(),
        }

    def _record_verdict(
        self, state: FlowState, record: ProposalRecord, verdict: Verdict
    ) -> Outcome:
        kind, subject_id = record["kind"], record["subject_id"]
        now = self.runtime.clock()
        common = {
            "subject_type": kind,
            "subject_id": subject_id,
            "run_id": state.get("run_id"),
            "thread_id": state.get("thread_id"),
            "requested_by": record["requested_by"],
            "policy_rule": verdict.rule_text,
            "at": now,
            "payload": {"summary": record.get("summary", ""), "action": record.get("action", {})},
        }
        if verdict.outcome is GateOutcome.NEEDS_APPROVAL:
            with session_scope(self.runtime.engine) as session:
                open_approval(
                    session, status=ApprovalStatus.PENDING, expires_at=verdict.expires_at, **common
                )
                subjects.request(session, kind, subject_id, at=now, expires_at=verdict.expires_at)
            return Outcome(status="pending", by=None, rule=verdict.rule_text, message="")
        if verdict.outcome is GateOutcome.REFUSE:
            with session_scope(self.runtime.engine) as session:
                open_approval(
                    session, status=ApprovalStatus.REJECTED, decided_by="policy", **common
                )
                subjects.reject(
                    session, kind, subject_id, by="policy", at=now, comment=verdict.rule_text
                )
            return Outcome(
                status="refused",
                by="policy",
                rule=verdict.rule_text,
                message=f"refused by policy: {verdict.rule_text}",
            )
        try:
            with session_scope(self.runtime.engine) as session:
                open_approval(
                    session, status=ApprovalStatus.AUTO_APPROVED, decided_by="policy", **common
                )
                subjects.approve(session, kind, subject_id, by="policy", at=now)
        except ValueError as exc:  # not enough ATP any more, or the subject moved on
            return self._fail(state, record, f"could not be approved: {exc}", by="policy")
        return Outcome(
            status="auto_approved",
            decision="auto_approved",
            by="policy",
            rule=verdict.rule_text,
            message="",
        )

    def _fail(self, state: FlowState, record: ProposalRecord, message: str, *, by: str) -> Outcome:
        kind, subject_id = record["kind"], record["subject_id"]
        now = self.runtime.clock()
        with session_scope(self.runtime.engine) as session:
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

    @staticmethod
    def route_after_gate(state: FlowState) -> Literal["await_decisions", "execute"]:
        return "await_decisions" if state.get("pending") else "execute"

    # -- await_decisions (no side effects: re-runs on resume) ---------------------------------

    def await_decisions(self, state: FlowState) -> FlowState:
        records = _records(state)
        judged = state.get("judged") or {}
        notes: dict[str, str] = state.get("review_notes") or {}
        pending = list(state.get("pending") or [])
        requests: list[ActionRequest] = []
        for subject_id in pending:
            record, verdict = records[subject_id], judged[subject_id]
            lines = [
                f"{record.get('summary', subject_id)} [{record['kind']} {subject_id}]",
                f"asked by {record['requested_by']}; policy: {'; '.join(verdict['rules'])}",
                f"approvers needed: {verdict['approvers_required']} with role "
                f"{' or '.join(verdict['approver_roles'])}; expires {verdict['expires_at']}",
            ]
            if note := notes.get(subject_id) or notes.get("*"):
                lines.append(f"note: {note}")
            action = record.get("action") or {"name": record["kind"], "args": {}}
            requests.append(
                ActionRequest(
                    name=action["name"],
                    args={**action["args"], "subject_id": subject_id},
                    description="\n".join(lines),
                )
            )
        names = sorted({r.name for r in requests})
        request = HITLRequest(
            action_requests=requests,
            review_configs=[ReviewConfig(action_name=name) for name in names],
        )
        raw = interrupt(request.model_dump(mode="json"))
        try:
            response = HITLResponse.model_validate(raw)
        except ValidationError as exc:
            return {
                "review_notes": {
                    "*": f"could not read the decisions: {exc.errors(include_url=False)}"
                },
                "decisions": None,
            }
        if len(response.decisions) != len(pending):
            return {
                "review_notes": {
                    "*": f"expected {len(pending)} decisions, got {len(response.decisions)}"
                },
                "decisions": None,
            }
        return {"decisions": response.model_dump(mode="json"), "review_notes": {}}

    # -- apply_decisions --------------------------------------------------------------------------

    def apply_decisions(self, state: FlowState) -> FlowState:
        raw = state.get("decisions")
        pending = list(state.get("pending") or [])
        if not raw:
            return {}
        response = HITLResponse.model_validate(raw)
        principal = response.principal
        records = _records(state)
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
                    audit(
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
            return self._fail(
                state, record, f"approved by {principal.name} but {exc}", by=principal.name
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
        audit(
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
        args = {k: v for k, v in decision.edited_action.args.items() if k != "subject_id"}
        key = f"edit:{subject_id}"
        run_id = state.get("run_id") or ""
        try:
            if kind == "transfer_order":
                shipment = price_shipment(session, ProposedShipment.model_validate(args))
                new = create_transfer(
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
            else:
                new = create_markdown(
                    session,
                    MarkdownProposalInput.model_validate(args),
                    key=key,
                    run_id=run_id,
                    requested_by=principal.name,
                    origin=record.get("origin"),
                    at=now,
                )
        except (ValidationError, ProposalInvalid) as exc:
            session.rollback()
            return f"edit rejected: {exc}"
        message = f"replaced by {new['subject_id']} (edited by {principal.name})"
        self._close(session, approval, ApprovalStatus.REJECTED, principal.name, now, message)
        subjects.reject(session, kind, subject_id, by=principal.name, at=now, comment=message)
        new_records.append(new)
        return Outcome(
            status="edited", by=principal.name, rule=approval.policy_rule, message=message
        )

    @staticmethod
    def route_after_apply(state: FlowState) -> Literal["gate", "await_decisions", "execute"]:
        judged = state.get("judged") or {}
        if any(p["subject_id"] not in judged for p in state.get("proposals") or []):
            return "gate"
        return "await_decisions" if state.get("pending") else "execute"

    # -- execute ------------------------------------------------------------------------------

    def execute(self, state: FlowState) -> FlowState:
        outcomes: dict[str, Outcome] = state.get("outcomes") or {}
        records = _records(state)
        approved = [s for s, o in outcomes.items() if o["status"] in {"auto_approved", "approved"}]
        if not approved:
            return {}
        report = Dispatcher(self.runtime.engine, self.runtime.connectors).run_pending()
        updates: dict[str, Outcome] = {}
        with session_scope(self.runtime.engine) as session:
            for subject_id in approved:
                status, ref = subjects.settled_outcome(
                    session, records[subject_id]["kind"], subject_id
                )
                updates[subject_id] = Outcome(
                    **{**outcomes[subject_id], "status": status, "external_ref": ref}
                )
        return {
            "outcomes": updates,
            "dispatch": report.model_dump(mode="json")
            if hasattr(report, "model_dump")
            else {"report": str(report)},
        }
