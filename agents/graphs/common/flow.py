"""The approval flow both graphs share: gate → execute → (await_decisions → apply_decisions →
execute)* → done. Auto-approved orders are handed to the outbox at once (the worker's
dispatcher sends them); large ones wait for their humans.

``await_decisions`` only builds the request and calls ``interrupt()``: it re-runs from its start
on resume (DESIGN §10), so every write lives in ``gate``, ``apply_decisions`` and ``execute``,
each idempotent (approval ids derive from the subject; status is checked before each step).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.types import RetryPolicy, interrupt
from pydantic import ValidationError

from agents.approvals import (
    ActionRequest,
    HITLRequest,
    HITLResponse,
    Recheck,
    ReviewConfig,
    open_approval,
)
from agents.graphs.common import review, subjects
from agents.graphs.common.decisions import DecisionApplier
from agents.graphs.common.failures import fail_proposal
from agents.graphs.common.grounding import Recorded, pool_proposal, refusal
from agents.graphs.common.state import Outcome, ProposalRecord, records_by_subject
from agents.policy import GateOutcome, Proposal, Verdict, evaluate
from agents.policy.gate import RunTotals
from agents.runtime import AgentRuntime
from inventory.db import is_transient, session_scope
from inventory.models import ApprovalStatus

FlowState = dict[str, Any]


#: The side-effecting nodes run again when PostgreSQL aborts their transaction as a deadlock
#: victim (e.g. approving an order while the dispatcher books another from the same DC): each
#: step is idempotent (decided approvals and movement keys are found, not redone).
TRANSIENT_RETRY = RetryPolicy(retry_on=is_transient, max_attempts=4, initial_interval=0.2)


class ApprovalFlow:
    """Node functions bound to one runtime."""

    def attach(self, graph: StateGraph, *, done: str) -> None:
        """Add the approval path to ``graph``: ``gate`` → ``execute`` ⇄ human decisions → ``done``.

        Both assistants enter it at ``gate`` and leave at ``done``; wiring it here keeps the one
        path every side effect takes in one place.
        """
        graph.add_node("gate", self.gate, retry_policy=TRANSIENT_RETRY)
        graph.add_node("await_decisions", self.await_decisions)
        graph.add_node("apply_decisions", self.apply_decisions, retry_policy=TRANSIENT_RETRY)
        graph.add_node("execute", self.execute, retry_policy=TRANSIENT_RETRY)
        graph.add_edge("gate", "execute")
        graph.add_edge("await_decisions", "apply_decisions")
        graph.add_conditional_edges("apply_decisions", self.route_after_apply)
        graph.add_conditional_edges(
            "execute",
            self.route_after_execute,
            {"await_decisions": "await_decisions", "done": done},
        )

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.apply_decisions = DecisionApplier(runtime).apply_decisions

    # -- gate -----------------------------------------------------------------------------------

    def gate(self, state: FlowState, config: RunnableConfig) -> FlowState:
        """Judge each fresh proposal on numbers recomputed from the pool, never on the record's.

        A record the pool does not back (another thread's subject, a subject already decided, a
        requester or numbers that differ) is refused without touching the subject.
        """
        judged: dict[str, Any] = state.get("judged") or {}
        fresh = [p for p in state.get("proposals") or [] if p["subject_id"] not in judged]
        if not fresh:
            return {}
        now = self.runtime.clock()
        thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        with session_scope(self.runtime.engine) as session:
            grounded = [
                pool_proposal(session, record, run_id=state.get("run_id"), thread_id=thread_id)
                for record in fresh
            ]
        totals = RunTotals.model_validate(state.get("run_totals") or {})
        to_judge = [g for g in grounded if isinstance(g, Proposal)]
        verdicts = iter(evaluate(self.runtime.policy, to_judge, now=now, prior=totals))
        outcomes: dict[str, Outcome] = {}
        new_judged: dict[str, Any] = {}
        pending = list(state.get("pending") or [])
        for record, ground in zip(fresh, grounded, strict=True):
            subject_id = record["subject_id"]
            if isinstance(ground, Proposal):
                verdict = next(verdicts)
                outcome = self._record_verdict(state, record, ground, verdict, thread_id)
            elif isinstance(ground, Recorded):  # judged before a crash: keep that verdict
                verdict, outcome = ground.verdict, ground.outcome
            else:
                verdict = refusal(record, ground)
                outcome = Outcome(
                    status="refused", by="policy", rule=ground, message=f"refused: {ground}"
                )
            outcomes[subject_id] = outcome
            new_judged[subject_id] = verdict.model_dump(mode="json")
            if outcome["status"] == "pending":
                pending.append(subject_id)
            elif outcome["status"] == "auto_approved" and isinstance(ground, Proposal):
                totals.units += ground.units
                totals.cost += ground.cost
        return {
            "judged": new_judged,
            "outcomes": outcomes,
            "pending": pending,
            "run_totals": totals.model_dump(),
        }

    def _record_verdict(
        self,
        state: FlowState,
        record: ProposalRecord,
        proposal: Proposal,
        verdict: Verdict,
        thread_id: str,
    ) -> Outcome:
        kind, subject_id = record["kind"], record["subject_id"]
        now = self.runtime.clock()
        common = {
            "subject_type": kind,
            "subject_id": subject_id,
            "run_id": state.get("run_id"),
            "thread_id": thread_id or state.get("thread_id"),
            "requested_by": proposal.requested_by,
            "policy_rule": verdict.rule_text,
            "at": now,
            # What the gate judged (recomputed from the pool) and the terms of the decision, so
            # the authority, the executor, the API and evals read what the policy saw.
            "payload": {
                "summary": record.get("summary", ""),
                "action": record.get("action", {}),
                "units": proposal.units,
                "value": proposal.value,
                "cost": proposal.cost,
                "depth": proposal.depth,
                "rules": verdict.rules,
                "approver_roles": verdict.approver_roles,
                "approvers_required": verdict.approvers_required,
                "distinct_from_requester": verdict.distinct_from_requester,
            },
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
            return fail_proposal(
                self.runtime, state, record, f"could not be approved: {exc}", by="policy"
            )
        return Outcome(
            status="auto_approved",
            decision="auto_approved",
            by="policy",
            rule=verdict.rule_text,
            message="",
        )

    # -- await_decisions (no side effects: re-runs on resume) ---------------------------------

    def await_decisions(self, state: FlowState) -> FlowState:
        records = records_by_subject(state)
        judged = state.get("judged") or {}
        notes: dict[str, str] = state.get("review_notes") or {}
        pending = list(state.get("pending") or [])
        labels = review.sku_labels(self.runtime.engine, [records[s] for s in pending])
        lanes = review.lane_notes(self.runtime.engine, [records[s] for s in pending])
        requests: list[ActionRequest] = []
        for subject_id in pending:
            record, verdict = records[subject_id], judged[subject_id]
            action = record.get("action") or {"name": record["kind"], "args": {}}
            requests.append(
                ActionRequest(
                    name=action["name"],
                    args={**action["args"], "subject_id": subject_id},
                    description=review.describe(
                        record,
                        verdict,
                        note=notes.get(subject_id) or notes.get("*"),
                        labels=labels,
                        lanes=lanes,
                    ),
                )
            )
        names = sorted({r.name for r in requests})
        request = HITLRequest(
            action_requests=requests,
            review_configs=[
                ReviewConfig(action_name=name, args_schema=review.args_schema(name))
                for name in names
            ],
        )
        raw = interrupt(request.model_dump(mode="json"))
        if isinstance(raw, dict) and "recheck" in raw:
            try:
                Recheck.model_validate(raw)
            except ValidationError:
                pass
            else:
                return {"decisions": {"recheck": True}, "review_notes": {}}
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

    @staticmethod
    def route_after_apply(state: FlowState) -> Literal["gate", "execute"]:
        """Edits go back through the gate; what was decided goes out before anyone waits again."""
        judged = state.get("judged") or {}
        if any(p["subject_id"] not in judged for p in state.get("proposals") or []):
            return "gate"
        return "execute"

    @staticmethod
    def route_after_execute(state: FlowState) -> Literal["await_decisions", "done"]:
        """Auto-approved orders are sent first; then the graph waits for the humans, if any."""
        return "await_decisions" if state.get("pending") else "done"

    # -- execute ------------------------------------------------------------------------------

    def execute(self, state: FlowState) -> FlowState:
        outcomes: dict[str, Outcome] = state.get("outcomes") or {}
        records = records_by_subject(state)
        approved = [
            s for s, o in outcomes.items() if o["status"] in {"auto_approved", "approved", "queued"}
        ]
        if not approved:
            return {}
        # The approval wrote the outbox row in its own transaction; the worker's dispatcher
        # sends it (woken by the commit). Sending here would make this turn wait on the WMS,
        # and on every other thread's backlog with it.
        updates: dict[str, Outcome] = {}
        with session_scope(self.runtime.engine) as session:
            for subject_id in approved:
                status, ref = subjects.settled_outcome(
                    session, records[subject_id]["kind"], subject_id
                )
                updates[subject_id] = Outcome(
                    **{**outcomes[subject_id], "status": status, "external_ref": ref}
                )
        return {"outcomes": updates}
