"""Whether a run really waits on an approval: what the inbox shows, and what a decision needs.

An approval's row says ``pending`` from the moment the gate asks until someone decides, but the
thread behind it may meanwhile be run by someone (a run holds its lease), be recovered (its
holder died or its lease lapsed; the worker takes it over and it waits again), or have moved on.
Only an approval its thread is interrupted on, with no run holding the thread, can be decided
now; the others are listed with the reason instead of being offered (docs/api.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, or_, select

from agents.lease import lapse_reason, utcnow
from api.langgraph_compat.runner import GraphRunner
from inventory.models import AgentThread, Approval, ApprovalStatus, Run, RunStatus


class WaitState(StrEnum):
    AWAITING_DECISION = "awaiting_decision"
    RUN_IN_PROGRESS = "run_in_progress"
    RECOVERING = "recovering"
    NOT_WAITING = "not_waiting"
    SETTLED = "settled"


@dataclass(frozen=True)
class Wait:
    state: WaitState
    reason: str

    @property
    def decidable(self) -> bool:
        return self.state is WaitState.AWAITING_DECISION


def interrupt_requests(runner: GraphRunner, assistant_id: str, thread_id: str) -> list[dict]:
    """The action requests of the thread's pending interrupt, in its order, each with the
    decisions its review config allows (``allowed_decisions``)."""
    state = runner.graph(assistant_id).get_state({"configurable": {"thread_id": thread_id}})
    requests: list[dict] = []
    for pending in state.interrupts:
        value = pending.value if isinstance(pending.value, dict) else {}
        allowed = {
            c.get("action_name"): c.get("allowed_decisions")
            for c in value.get("review_configs") or []
            if isinstance(c, dict)
        }
        for request in value.get("action_requests") or []:
            if isinstance(request, dict):
                requests.append({**request, "allowed_decisions": allowed.get(request.get("name"))})
    return requests


def interrupt_subjects(runner: GraphRunner, assistant_id: str, thread_id: str) -> list[str]:
    """The subjects the thread's pending interrupt asks about, in its order."""
    return [
        str((r.get("args") or {}).get("subject_id"))
        for r in interrupt_requests(runner, assistant_id, thread_id)
    ]


def _thread_wait(
    runner: GraphRunner, session: Session, thread_id: str, now: dt.datetime
) -> tuple[Wait | None, set[str]]:
    """(why nothing can be decided on the thread now, or None; the subjects it waits on)."""
    runs = session.exec(
        select(Run).where(
            Run.thread_id == thread_id,
            or_(col(Run.lease_owner).is_not(None), Run.status == str(RunStatus.ADMITTED)),
        )
    ).all()
    holders = [r for r in runs if r.lease_owner is not None]
    live = [r for r in holders if lapse_reason(r, now) is None]
    if live:
        return Wait(
            WaitState.RUN_IN_PROGRESS,
            f"run {live[0].id} is running on thread {thread_id}; "
            "the approval can be decided when the thread waits for it again",
        ), set()
    if holders:
        reason = lapse_reason(holders[0], now)
        why = "its process is gone" if reason == "holder_gone" else "its lease lapsed"
        return Wait(
            WaitState.RECOVERING,
            f"run {holders[0].id} on thread {thread_id} stopped ({why}); the worker takes it "
            "over and the approval can be decided once the thread waits for it again",
        ), set()
    if runs:
        return Wait(
            WaitState.RUN_IN_PROGRESS,
            f"run {runs[0].id} is queued on thread {thread_id}; "
            "the approval can be decided when the thread waits for it",
        ), set()
    thread = session.get(AgentThread, thread_id)
    if thread is None or thread.assistant_id is None:
        return Wait(WaitState.NOT_WAITING, f"no run of thread {thread_id} asks about it"), set()
    subjects = set(interrupt_subjects(runner, thread.assistant_id, thread_id))
    if not subjects and thread.status == "busy":
        return Wait(
            WaitState.RECOVERING,
            f"thread {thread_id} is between runs; the approval can be decided once it waits again",
        ), set()
    return None, subjects


def waits_for(
    runner: GraphRunner,
    session: Session,
    approvals: Iterable[Approval],
    now: dt.datetime | None = None,
) -> dict[str, Wait]:
    """Per approval id: may it be decided now, and if not, why (one look per thread)."""
    now = now or utcnow()
    threads: dict[str, tuple[Wait | None, set[str]]] = {}
    waits: dict[str, Wait] = {}
    for approval in approvals:
        if approval.status != ApprovalStatus.PENDING:
            waits[approval.id] = Wait(WaitState.SETTLED, f"already {approval.status}")
            continue
        if approval.thread_id is None:
            waits[approval.id] = Wait(WaitState.NOT_WAITING, "no run asks about it")
            continue
        if approval.thread_id not in threads:
            threads[approval.thread_id] = _thread_wait(runner, session, approval.thread_id, now)
        blocked, subjects = threads[approval.thread_id]
        if blocked is not None:
            waits[approval.id] = blocked
        elif approval.subject_id in subjects:
            waits[approval.id] = Wait(
                WaitState.AWAITING_DECISION, f"thread {approval.thread_id} waits for a decision"
            )
        else:
            waits[approval.id] = Wait(
                WaitState.NOT_WAITING,
                f"thread {approval.thread_id} is not waiting for it (its run ended without "
                "asking); it stays pending until it expires or is withdrawn",
            )
    return waits
