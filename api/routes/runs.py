"""``/v1/runs``: a run's status, its steps (checkpoints), tool calls and proposals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import select

from api.deps import ReaderDep, RunnerDep, SessionDep
from api.errors import ERROR_RESPONSES, not_found
from api.langgraph_compat.serialization import to_jsonable
from api.schemas.common import Page, Paging
from api.schemas.records import PromoProposalView, RunView, TransferOrderView
from inventory.models import PromoProposal, Run, RunStatus, TransferLine, TransferOrder

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)


class RunStep(BaseModel):
    """One checkpoint of the run's thread and what happened after it."""

    checkpoint_id: str | None
    step: int | None
    source: str | None = Field(description="input | loop | update")
    completed: list[str] = Field(description="Nodes that ran from this checkpoint and finished.")
    waiting: list[str] = Field(description="Nodes stopped at an interrupt (awaiting a human).")
    next: list[str]
    created_at: str | None


class ToolCall(BaseModel):
    """A tool call of the run, including the model's invalid ones that the adapter repaired."""

    id: str | None
    name: str
    args: dict[str, Any]
    result: str | None
    status: Literal["ok", "error", "invalid"] = Field(
        default="ok",
        description="ok; error: the tool refused it; invalid: never run (bad JSON, unknown "
        "tool, arguments off the schema), sent back to the model to fix.",
    )
    error: str | None = None
    repairs: list[str] = Field(
        default_factory=list,
        description="What the adapter repaired in the model reply that carried this call "
        "(e.g. a call written as text, arguments sent as an object, an empty reply).",
    )


class RunProposals(BaseModel):
    transfer_orders: list[TransferOrderView]
    promo_proposals: list[PromoProposalView]


def _run(session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise not_found("run", run_id)
    return run


@router.get("", summary="Runs, newest first", response_model=Page[RunView])
def list_runs(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[RunStatus | None, Query()] = None,
    trigger: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[RunView]:
    query = select(Run).order_by(Run.created_at.desc())  # type: ignore[attr-defined]
    if status is not None:
        query = query.where(Run.status == str(status))
    if trigger is not None:
        query = query.where(Run.trigger == trigger)
    return paging.page(session, query, RunView.from_row)


@router.get("/{run_id}", summary="One run and its status", response_model=RunView)
def get_run(run_id: str, session: SessionDep, _: ReaderDep) -> RunView:
    return RunView.from_row(_run(session, run_id))


@router.get("/{run_id}/steps", summary="The run's thread checkpoints, oldest first")
def get_steps(run_id: str, session: SessionDep, runner: RunnerDep, _: ReaderDep) -> list[RunStep]:
    run = _run(session, run_id)
    graph = runner.graph(run.assistant_id)
    history = list(graph.get_state_history({"configurable": {"thread_id": run.thread_id}}))
    steps = []
    for snapshot in reversed(history):
        meta = snapshot.metadata or {}
        steps.append(
            RunStep(
                checkpoint_id=(snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
                step=meta.get("step"),
                source=meta.get("source"),
                completed=[
                    t.name
                    for t in snapshot.tasks
                    if t.result is not None and not t.name.startswith("__")
                ],
                waiting=[t.name for t in snapshot.tasks if t.interrupts],
                next=list(snapshot.next),
                created_at=snapshot.created_at,
            )
        )
    return steps


@router.get("/{run_id}/tool-calls", summary="Tool calls the run's messages carry")
def get_tool_calls(
    run_id: str, session: SessionDep, runner: RunnerDep, _: ReaderDep
) -> list[ToolCall]:
    run = _run(session, run_id)
    state = runner.graph(run.assistant_id).get_state({"configurable": {"thread_id": run.thread_id}})
    messages = to_jsonable((state.values or {}).get("messages", []))
    tool_messages = {m.get("tool_call_id"): m for m in messages if m.get("type") == "tool"}
    calls = []
    for message in messages:
        repairs = [
            f"{r.get('kind')}: {r.get('detail')}"
            for r in (message.get("response_metadata") or {}).get("repairs") or []
        ]
        for bad in message.get("invalid_tool_calls") or []:
            calls.append(
                ToolCall(
                    id=bad.get("id"),
                    name=bad.get("name") or "",
                    args={"raw": bad.get("args")},
                    result=None,
                    status="invalid",
                    error=bad.get("error"),
                )
            )
        for call in message.get("tool_calls") or []:
            answer = tool_messages.get(call.get("id")) or {}
            result = answer.get("content")
            failed = answer.get("status") == "error"
            calls.append(
                ToolCall(
                    id=call.get("id"),
                    name=call.get("name", ""),
                    args=call.get("args") or {},
                    result=result if isinstance(result, str) or result is None else str(result),
                    status="error" if failed else "ok",
                    error=result if failed and isinstance(result, str) else None,
                    repairs=repairs,
                )
            )
        if repairs and not message.get("tool_calls"):
            calls.append(
                ToolCall(
                    id=None,
                    name="(model reply)",
                    args={},
                    result=None,
                    status="ok",
                    repairs=repairs,
                )
            )
    return calls


@router.get("/{run_id}/proposals", summary="Transfer orders and promo proposals of the run")
def get_proposals(run_id: str, session: SessionDep, _: ReaderDep) -> RunProposals:
    _run(session, run_id)
    orders = session.exec(select(TransferOrder).where(TransferOrder.run_id == run_id)).all()
    lines = session.exec(
        select(TransferLine).where(TransferLine.order_id.in_([o.id for o in orders]))  # type: ignore[attr-defined]
    ).all()
    promos = session.exec(select(PromoProposal).where(PromoProposal.run_id == run_id)).all()
    return RunProposals(
        transfer_orders=[
            TransferOrderView.from_row(o, [ln for ln in lines if ln.order_id == o.id])
            for o in orders
        ],
        promo_proposals=[PromoProposalView.from_row(p) for p in promos],
    )
