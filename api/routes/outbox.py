"""``/v1/outbox``: side effects waiting for the enterprise systems, and what ops can do about them.

A row keeps being retried (capped backoff) until it is delivered or a person cancels it, except
a bounded route's (an OMS parcel cancellation), which is dead-lettered after its retry bound
(``?status=dead`` is the dead-letter queue). One that keeps failing, failed or dead is listed
with ``alerting: true`` (``?alerting=true`` lists only those). Re-sending and cancelling are for
the ops role (and admin).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agents.executor import outbox_ops
from agents.executor.dispatcher import DispatchSettings
from api.deps import AppStateDep, OpsDep, SessionDep
from api.errors import ERROR_RESPONSES, conflict, not_found
from api.schemas.common import Page, Paging
from api.state import AppState
from inventory.models import OutboxStatus

router = APIRouter(prefix="/outbox", tags=["outbox"], responses=ERROR_RESPONSES)


#: An outbox row's id (a 64-bit integer in both databases).
OutboxId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The outbox row's id.")]


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it will not be sent.")


@router.get("", summary="Outbox rows, newest first", response_model=Page[outbox_ops.OutboxEntry])
def list_outbox(
    session: SessionDep,
    state: AppStateDep,
    _: OpsDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[OutboxStatus | None, Query(description="Only rows in this status.")] = None,
    alerting: Annotated[
        bool | None, Query(description="Only rows that keep failing (true) or not (false).")
    ] = None,
) -> Page[outbox_ops.OutboxEntry]:
    settings = DispatchSettings.from_settings(state.settings)
    query = outbox_ops.entries_query(settings, status=status, alerting=alerting)
    return paging.page(session, query, lambda row: outbox_ops.OutboxEntry.of(row, settings))


@router.post(
    "/{outbox_id}/requeue",
    summary="Send a pending, failed or dead-lettered row again now (same idempotency key)",
    description=(
        "A parcel cancellation (`oms.cancel`) puts its online order back to `cancelling` "
        "(audited `online_order.cancel_requeued`), so the OMS's confirmation cancels it and "
        "releases its holds once; 409, nothing changed, once that order moved on (cancelled, "
        "or the parcel shipped or was withdrawn) or the row was sent or cancelled."
    ),
    response_model=outbox_ops.OutboxEntry,
)
async def requeue(
    outbox_id: OutboxId, state: AppStateDep, principal: OpsDep
) -> outbox_ops.OutboxEntry:
    def act() -> outbox_ops.OutboxEntry:
        return outbox_ops.requeue_message(
            state.engine,
            outbox_id,
            by=principal.name,
            at=_now(state),
            settings=DispatchSettings.from_settings(state.settings),
        )

    return await _answer(act, outbox_id)


@router.post(
    "/{outbox_id}/cancel",
    summary="Give up on a pending, failed or dead row (its approved transfer order is cancelled)",
    response_model=outbox_ops.OutboxEntry,
)
async def cancel(
    outbox_id: OutboxId, body: CancelRequest, state: AppStateDep, principal: OpsDep
) -> outbox_ops.OutboxEntry:
    def act() -> outbox_ops.OutboxEntry:
        return outbox_ops.cancel_message(
            state.engine,
            outbox_id,
            by=principal.name,
            reason=body.reason,
            at=_now(state),
            settings=DispatchSettings.from_settings(state.settings),
        )

    return await _answer(act, outbox_id)


def _now(state: AppState) -> datetime:
    """The clock the outbox rows are stamped with: the service's one "now" (the agents' runtime
    shares it; the order routes that write parcel rows read it too), so a requeued row is due
    on the dispatcher's clock even for an embedder's catalog without the agents' runtime."""
    return state.clock()


async def _answer(
    act: Callable[[], outbox_ops.OutboxEntry], outbox_id: int
) -> outbox_ops.OutboxEntry:
    try:
        return await run_in_threadpool(act)
    except outbox_ops.OutboxNotFound:
        raise not_found("outbox row", str(outbox_id), field="outbox_id") from None
    except outbox_ops.OutboxConflict as exc:
        raise conflict(str(exc), field="status") from None
