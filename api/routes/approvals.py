"""``/v1/approvals``: what waits for a human, and the decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import or_
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api import decisions
from api.approval_waits import waits_for
from api.deps import AppStateDep, PrincipalDep, ReaderDep, RunnerDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.schemas.approvals import BatchDecisionRequest, DecisionRequest
from api.schemas.common import Page, Paging
from api.schemas.records import ApprovalView
from inventory.models import Approval, ApprovalStatus

router = APIRouter(prefix="/approvals", tags=["approvals"], responses=ERROR_RESPONSES)


#: Rows looked at when the list is filtered on ``decidable`` (judged per row, after the query).
DECIDABLE_SCAN = 5000


@router.get(
    "",
    summary="Approvals, pending first by default; each says whether a run waits on it now",
    response_model=Page[ApprovalView],
)
def list_approvals(
    session: SessionDep,
    _: ReaderDep,
    state: AppStateDep,
    runner: RunnerDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[
        ApprovalStatus | None, Query(description="e.g. pending")
    ] = ApprovalStatus.PENDING,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    decidable: Annotated[
        bool | None,
        Query(
            description="true: only approvals a run waits on now (the approver's inbox); "
            "false: only those that cannot be decided now"
        ),
    ] = None,
) -> Page[ApprovalView]:
    query = select(Approval).order_by(Approval.requested_at.desc())  # type: ignore[attr-defined]
    if status is not None:
        query = query.where(Approval.status == str(status))
    if status == ApprovalStatus.PENDING:  # due ones are no longer decidable: the sweep expires them
        now = state.clock()
        query = query.where(or_(col(Approval.expires_at).is_(None), col(Approval.expires_at) > now))
    if run_id is not None:
        query = query.where(Approval.run_id == run_id)
    if decidable is None:
        page = paging.page(session, query, lambda row: row)
        waits = waits_for(runner, session, page.items)
        return Page[ApprovalView](
            items=[ApprovalView.from_row(row, waits[row.id]) for row in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )
    rows = session.exec(query.limit(DECIDABLE_SCAN)).all()
    waits = waits_for(runner, session, rows)
    chosen = [row for row in rows if waits[row.id].decidable is decidable]
    return Page[ApprovalView](
        items=[
            ApprovalView.from_row(row, waits[row.id])
            for row in chosen[paging.offset : paging.offset + paging.limit]
        ],
        total=len(chosen),
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/{approval_id}", summary="One approval", response_model=ApprovalView)
def get_approval(
    approval_id: str, session: SessionDep, _: ReaderDep, runner: RunnerDep
) -> ApprovalView:
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise not_found("approval", approval_id)
    return ApprovalView.from_row(approval, waits_for(runner, session, [approval])[approval.id])


def _answer(decided: decisions.Decided, response: Response) -> list[ApprovalView]:
    """200 when this request resumed the run; 202 when the decision is recorded but its resume
    failed, so the worker finishes it (``api.decisions.recover_failed``)."""
    if not decided.resumed:
        response.status_code = 202
    return [ApprovalView.from_row(row, decided.waits[row.id]) for row in decided.approvals]


_DECISION_RESPONSES: dict[int | str, dict] = {
    **ERROR_RESPONSES,
    202: {
        "description": "The decision is recorded but resuming its run failed; the worker "
        "finishes the run (nothing to repeat)."
    },
}


@router.post(
    "/{approval_id}/decision",
    summary="Approve, reject or withdraw (who may: agents.authority; see docs/api.md)",
    response_model=ApprovalView,
    responses=_DECISION_RESPONSES,
)
async def decide(
    approval_id: str,
    body: DecisionRequest,
    response: Response,
    runner: RunnerDep,
    principal: PrincipalDep,
    state: AppStateDep,
) -> ApprovalView:
    # One hop to a request thread, with no request-scoped session: the decision opens and
    # closes its own, so no connection waits idle while this request waits for a thread.
    decided = await run_in_threadpool(
        decisions.decide, runner, [(approval_id, body)], principal, state.clock
    )
    return _answer(decided, response)[0]


@router.post(
    "/decisions",
    summary="Decide every approval one interrupt asks about, in one call",
    response_model=list[ApprovalView],
    responses=_DECISION_RESPONSES,
)
async def decide_together(
    body: BatchDecisionRequest,
    response: Response,
    runner: RunnerDep,
    principal: PrincipalDep,
    state: AppStateDep,
) -> list[ApprovalView]:
    choices = [(item.approval_id, item) for item in body.decisions]
    ids = [approval_id for approval_id, _ in choices]
    if len(set(ids)) != len(ids):
        raise ApiError(422, "an approval appears twice", field="body.decisions", value=ids)
    decided = await run_in_threadpool(decisions.decide, runner, choices, principal, state.clock)
    return _answer(decided, response)
