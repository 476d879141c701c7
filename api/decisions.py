"""Deciding approvals from the API: the authority's ruling, then the decision recorded durably
(``agents.graphs.common.decisions.record_decision``: Approval row, the order's step and its
outbox row, audit, in one transaction), then the waiting graph resumed — it finds the decision
recorded and reports it. The request holds the thread's lease from before recording until the
resume ends, so nothing else resumes the thread in between. A crash between the two leaves a
recorded decision on a thread held by a dead run: the worker takes it over (at once, its process
is gone), finds it interrupted, and its sweep (``sweep_expired``) resumes it once, with a recheck
that reads the recorded rows. A resume that fails with an ordinary error is finished by the
worker too (``recover_failed``). Approvals that expired are settled ``expired`` here too
(409), and their thread is told, as the worker's sweep does.

An embedder's own graph (a catalog without the agents' runtime) records its decisions itself
from the resume value, so for it the API only resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from langgraph.types import Command
from sqlmodel import Session, col, select

from agents.approvals import Recheck
from agents.authority import Action, caller_of, rule
from agents.expiry import expire_approval, expire_due_approvals
from agents.graphs.common.decisions import first_approval_note, record_decision
from api.approval_waits import Wait, interrupt_subjects, waits_for
from api.auth import Principal
from api.errors import ApiError, conflict, not_found
from api.langgraph_compat.runner import GraphRunner
from api.schemas.approvals import DecisionRequest
from inventory.clock import Clock, wall_clock
from inventory.db import session_scope
from inventory.models import AgentThread, Approval, ApprovalStatus, Run, RunStatus

log = logging.getLogger(__name__)

#: Who resumes a thread to tell it that its approvals expired (it decides nothing).
SYSTEM_PRINCIPAL = Principal(name="system", roles=[])


def pending_for_thread(session: Session, thread_id: str) -> list[Approval]:
    return list(
        session.exec(
            select(Approval).where(
                Approval.thread_id == thread_id, Approval.status == str(ApprovalStatus.PENDING)
            )
        ).all()
    )


def service_clock(runner: GraphRunner) -> Clock:
    """The clock the agents record by (the service's one "now"); the wall clock for a catalog
    without the agents' runtime (embedders' own graphs)."""
    runtime = getattr(runner.catalog, "runtime", None)
    return runtime.clock if runtime is not None else wall_clock


def authorise(
    runner: GraphRunner,
    approval: Approval,
    principal: Principal,
    action: Action | str,
    clock: Clock,
) -> None:
    """Raise the authority's refusal as an API error; a due approval is expired first (409)."""
    now = clock()
    ruling = rule(approval, caller_of(principal), action, now)  # type: ignore[arg-type]
    if ruling.expired:
        expire_and_recheck(runner, [approval.id], now)
    if not ruling.allowed:
        field = "status" if ruling.status == 409 else "principal"
        raise ApiError(ruling.status, ruling.reason, field=field, value=principal.name)


def expire_and_recheck(runner: GraphRunner, approval_ids: Iterable[str], now: datetime) -> None:
    """Settle these approvals as expired (if still pending) and tell their threads."""
    threads: set[str] = set()
    with session_scope(runner.engine) as session:
        for approval_id in approval_ids:
            approval = session.get(Approval, approval_id)
            if approval is not None and approval.status == ApprovalStatus.PENDING:
                expire_approval(session, approval, now)
            if approval is not None and approval.thread_id:
                threads.add(approval.thread_id)
    for thread_id in sorted(threads):
        recheck_thread(runner, thread_id)


#: Settled by a person or the sweep while a thread waited: the thread is resumed to report it.
_SETTLED_WHILE_WAITING = [
    str(ApprovalStatus.APPROVED),
    str(ApprovalStatus.REJECTED),
    str(ApprovalStatus.WITHDRAWN),
    str(ApprovalStatus.EXPIRED),
]


def sweep_expired(runner: GraphRunner, clock: Clock | None = None) -> int:
    """The worker's pass: expire due approvals, then resume every thread still waiting on an
    approval that is no longer pending — expired, withdrawn, or decided through the API by a
    request whose resume never ran (a crash between recording and resuming). Returns how many
    approvals expired."""
    expired = expire_due_approvals(runner.engine, (clock or service_clock(runner))())
    for thread_id in stale_threads(runner, {a.thread_id for a in expired if a.thread_id}):
        recheck_thread(runner, thread_id)
    return len(expired)


def stale_threads(runner: GraphRunner, extra: set[str], limit: int = 50) -> list[str]:
    """Interrupted threads whose interrupt asks about an approval that is settled.

    Candidates come from the most recently settled approvals of interrupted threads, so old
    threads with long-settled approvals cannot crowd out one that waits on a new decision.
    """
    with Session(runner.engine) as session:
        rows = session.exec(
            select(AgentThread.id, Approval.decided_at)
            .join(Approval, col(Approval.thread_id) == col(AgentThread.id))
            .where(
                AgentThread.status == "interrupted",
                col(Approval.status).in_(_SETTLED_WHILE_WAITING),
            )
            .order_by(col(Approval.decided_at).desc())
            .limit(limit * 4)
        ).all()
    rows = list(dict.fromkeys(thread_id for thread_id, _ in rows))[:limit]
    stale: list[str] = []
    for thread_id in sorted(set(rows) | extra):
        with Session(runner.engine) as session:
            thread = session.get(AgentThread, thread_id)
            if thread is None or thread.assistant_id is None or thread.status != "interrupted":
                continue
            subjects = interrupt_subjects(runner, thread.assistant_id, thread_id)
            settled = session.exec(
                select(sa.func.count())
                .select_from(Approval)
                .where(
                    col(Approval.subject_id).in_(subjects),
                    Approval.status != str(ApprovalStatus.PENDING),
                )
            ).one()
        if settled:
            stale.append(thread_id)
    return stale


def recheck_thread(runner: GraphRunner, thread_id: str) -> None:
    """Resume a waiting thread with no decision, so it reports what was settled outside it
    (expired, withdrawn, decided through the API); a busy thread is left for the next sweep.
    Exactly once per settlement: the recheck moves the thread past those approvals, so the
    next sweep no longer finds it waiting on them."""
    with Session(runner.engine) as session:
        thread = session.get(AgentThread, thread_id)
    if thread is None or thread.assistant_id is None or thread.status != "interrupted":
        return
    resume = Recheck().model_dump()
    try:
        ticket = runner.admit(
            thread_id=thread_id,
            assistant_id=thread.assistant_id,
            principal=SYSTEM_PRINCIPAL,
            graph_input=Command(resume=resume),
            trigger="recheck",
            run_input={"command": {"resume": resume}},
        )
    except ApiError as exc:
        log.info("thread %s not rechecked now: %s", thread_id, exc)
        return
    runner.run_to_end(ticket)


def records_first(runner: GraphRunner) -> bool:
    """The agents' graphs settle decisions with ``record_decision``, so the API records one
    before resuming; an embedder's graph (no agents' runtime) records its own from the resume."""
    return getattr(runner.catalog, "runtime", None) is not None


@dataclass(frozen=True)
class Decided:
    """What a REST decision did: the approvals as they stand (with whether a run waits on
    each), and whether this request resumed their thread itself (else the worker will)."""

    approvals: list[Approval]
    waits: dict[str, Wait]
    resumed: bool


def decide(
    runner: GraphRunner,
    choices: list[tuple[str, DecisionRequest]],
    principal: Principal,
    clock: Clock,
) -> Decided:
    """Decide approvals that wait in one interrupt; one resume carries every decision.

    Expiry is judged on the service's clock (``inventory.clock``), the one the graph records by.
    Only approvals a run really waits on can be decided (409 with the reason otherwise:
    ``api.approval_waits``). Each decision is recorded in its own transaction before the
    resume, while this request holds the thread (409 when a run holds it: nothing recorded);
    the resume then only reports them, and a crash or failure of it is repaired by the worker
    (``resumed`` False: the caller answers 202).

    Holds at most one pooled connection at a time, and none while waiting: every session here
    is closed before the next step opens another (the run opens its own), and nothing is left
    checked out when this returns. A request that kept its session across the resume, or
    across the hop back to the event loop, parked one connection per finished decision while
    the others queued for a request thread: 50 decisions in flight exhausted the pool.
    """
    now = clock()  # before any session: the clock may read the pool itself
    caller = caller_of(principal)
    due: list[str] = []
    refusal: ApiError | None = None
    with Session(runner.engine, expire_on_commit=False) as session:
        approvals: list[Approval] = []
        for approval_id, body in choices:
            approval = session.get(Approval, approval_id)
            if approval is None:
                raise not_found("approval", approval_id)
            ruling = rule(approval, caller, body.decision, now)  # type: ignore[arg-type]
            if not ruling.allowed:
                field = "status" if ruling.status == 409 else "principal"
                refusal = ApiError(ruling.status, ruling.reason, field=field, value=principal.name)
                if not ruling.expired:
                    raise refusal
                due.append(approval.id)
            approvals.append(approval)
        if not due:
            thread_id, assistant_id, resume = _resume_for(runner, session, approvals, choices)
            resume["principal"] = principal.as_resume_principal()
    if due:  # settled expired (its thread told) with no session open, then refused
        expire_and_recheck(runner, due, now)
        assert refusal is not None
        raise refusal
    ids = [a.id for a in approvals]
    # The thread is taken first (409 busy when a run holds it: nothing recorded, decide again
    # when it waits), then the decisions are recorded, then the graph resumes. Holding the
    # thread while recording keeps the worker's sweep from resuming it in between, so the
    # request that decided is the one that resumes.
    ticket = runner.admit(
        thread_id=thread_id,
        assistant_id=assistant_id,
        principal=principal,
        graph_input=Command(resume=resume),
        trigger="approval",
        run_input={"command": {"resume": resume}},
        run_id=approvals[0].run_id,
    )
    recorded = records_first(runner)
    if recorded:
        try:
            record_all(runner, approvals, choices, principal, clock)
        except BaseException:  # refused (409) or failed: the thread waits again as it was
            ticket.admitted.lease.close(RunStatus.INTERRUPTED)
            raise
    resumed = True
    outcome = runner.run_to_end(ticket)
    if outcome.error is not None:
        message = outcome.error["message"]
        if not recorded:
            raise ApiError(409, f"the decision could not be applied: {message}")
        resumed = False
        log.warning("decision on %s recorded; resuming its thread failed: %s", ids, message)
    with Session(runner.engine, expire_on_commit=False) as session:
        rows = [
            session.get(Approval, approval_id) or a
            for approval_id, a in zip(ids, approvals, strict=True)
        ]
        waits = waits_for(runner, session, rows)
    return Decided(approvals=rows, waits=waits, resumed=resumed)


def _resume_for(
    runner: GraphRunner,
    session: Session,
    approvals: list[Approval],
    choices: list[tuple[str, DecisionRequest]],
) -> tuple[str, str, dict[str, Any]]:
    """(thread, assistant, resume value) for decisions on approvals one interrupt waits on;
    409 when they are not all on one thread that waits for them now."""
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
    for approval_id, wait in waits_for(runner, session, approvals).items():
        if not wait.decidable and wait.state != "not_waiting":  # not_waiting: named below
            raise conflict(
                f"approval {approval_id} cannot be decided now ({wait.state}): {wait.reason}",
                field="approval_id",
                value=approval_id,
            )
    by_subject = {a.subject_id: body for a, (_, body) in zip(approvals, choices, strict=True)}
    decisions = _ordered_decisions(session, runner, thread.assistant_id, first, by_subject)
    return thread.id, thread.assistant_id, {"decisions": decisions}


def record_all(
    runner: GraphRunner,
    approvals: list[Approval],
    choices: list[tuple[str, DecisionRequest]],
    principal: Principal,
    clock: Clock,
) -> None:
    """Record each decision durably through the authority (``record_decision``); a ruling that
    changed since ``authorise`` (a concurrent decision got there first) is a 409."""
    caller = caller_of(principal)
    assert caller is not None
    now = clock()
    for approval, (_, body) in zip(approvals, choices, strict=True):
        result = record_decision(
            runner.engine,
            now,
            approval.id,
            caller,
            body.decision,
            body.comment,
            run_id=approval.run_id,
            replay=False,
        )
        if isinstance(result, str) and result != first_approval_note(caller.name):
            raise ApiError(409, result, field="approval_id", value=approval.id)
        if isinstance(result, dict) and result.get("status") == "expired":  # due meanwhile
            raise ApiError(409, f"approval {approval.id} expired", field="status", value="expired")


def _ordered_decisions(
    session: Session,
    runner: GraphRunner,
    assistant_id: str,
    approval: Approval,
    by_subject: dict[str, DecisionRequest],
) -> list[dict[str, Any]]:
    """The interrupt asks for one decision per action request, in its own order. Requests whose
    approval is already settled (expired, withdrawn) get a placeholder: the graph reports them
    as they stand and never decides them again."""
    thread_id = approval.thread_id or ""
    subjects = interrupt_subjects(runner, assistant_id, thread_id)
    unknown = sorted(set(by_subject) - set(subjects))
    if unknown:
        raise conflict(
            f"not waiting for a decision in thread {thread_id!r}: {', '.join(unknown)}",
            field="approval_id",
            value=unknown,
        )
    still_pending = {a.subject_id: a.id for a in pending_for_thread(session, thread_id)}
    missing = [s for s in subjects if s not in by_subject and s in still_pending]
    if missing:
        others = [still_pending[s] for s in missing]
        raise conflict(
            f"this interrupt asks about {len(subjects)} proposals together; decide them in one "
            f"call to POST /v1/approvals/decisions (also: {', '.join(others)})",
            field="approval_id",
            value=others,
        )
    decisions = []
    for subject in subjects:
        body = by_subject.get(subject)
        if body is None:
            decisions.append({"type": "reject", "message": "already settled"})
            continue
        decision: dict[str, Any] = {"type": body.decision}
        if body.comment:
            decision["message"] = body.comment
        decisions.append(decision)
    return decisions


#: Times the worker retries a failed resume of one thread before leaving it in ``error`` for a
#: person (a resume that fails every time is a bug to look at, not a load to repeat forever).
MAX_RECOVERIES = 3


def failed_resumes(runner: GraphRunner, limit: int = 50) -> list[str]:
    """Threads left in ``error`` by a resume that failed with an ordinary error after their
    decision was recorded: the graph still has a decision to apply (``decisions`` in its state,
    or an interrupt), and fewer than ``MAX_RECOVERIES`` recovery runs failed since."""
    with Session(runner.engine) as session:
        candidates = session.exec(
            select(AgentThread.id, AgentThread.assistant_id)
            .join(Approval, col(Approval.thread_id) == col(AgentThread.id))
            .where(AgentThread.status == "error", col(AgentThread.assistant_id).is_not(None))
            .distinct()
            .limit(limit)
        ).all()
    found: list[str] = []
    for thread_id, assistant_id in candidates:
        with Session(runner.engine) as session:
            runs = session.exec(
                select(Run)
                .where(Run.thread_id == thread_id)
                .order_by(col(Run.updated_at).desc())
                .limit(MAX_RECOVERIES + 1)
            ).all()
        if any(r.lease_owner is not None for r in runs):
            continue  # a run holds it now
        recoveries = 0
        for run in runs:
            if run.trigger != "recover":
                break
            recoveries += 1
        if recoveries >= MAX_RECOVERIES:
            continue
        state = runner.graph(assistant_id).get_state({"configurable": {"thread_id": thread_id}})
        if state.next and (state.interrupts or (state.values or {}).get("decisions")):
            found.append(thread_id)
    return found


def recover_thread(runner: GraphRunner, thread_id: str) -> bool:
    """Finish a failed resume from the thread's last checkpoint (a new run, trigger
    ``recover``). The decision is recorded already, so the graph finds it settled and reports
    it; it decides nothing itself (the system principal has no authority), so an approval still
    pending only waits again. True when the run ended without an error."""
    with Session(runner.engine) as session:
        thread = session.get(AgentThread, thread_id)
    if thread is None or thread.assistant_id is None or thread.status != "error":
        return False
    graph = runner.graph(thread.assistant_id)
    state = graph.get_state({"configurable": {"thread_id": thread_id}})
    resume = Recheck().model_dump()
    graph_input = Command(resume=resume) if state.interrupts else None
    try:
        ticket = runner.admit(
            thread_id=thread_id,
            assistant_id=thread.assistant_id,
            principal=SYSTEM_PRINCIPAL,
            graph_input=graph_input,
            trigger="recover",
            run_input={"command": {"resume": resume}} if state.interrupts else {},
        )
    except ApiError as exc:
        log.info("thread %s not recovered now: %s", thread_id, exc)
        return False
    outcome = runner.run_to_end(ticket)
    if outcome.error is not None:
        log.warning("recovering thread %s failed: %s", thread_id, outcome.error["message"])
    return outcome.error is None


def recover_failed(runner: GraphRunner) -> int:
    """The worker's pass over failed resumes (``failed_resumes``); returns how many finished."""
    return sum(recover_thread(runner, thread_id) for thread_id in failed_resumes(runner))
