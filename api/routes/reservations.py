"""``/v1/reservations``: a channel holds stock, confirms it (deducts on-hand) or releases it.

Every unit moves through the single stock writer (``inventory.movements``) via
``inventory.reservations``; a hold not confirmed within its TTL lapses by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlmodel import Session

from api.auth import Principal
from api.channel_access import (
    RESERVATION_CALLERS,
    ReservationCallerDep,
    acting_channel,
    as_api_error,
    channel_scope,
    closed_to_channel,
)
from api.deps import AppStateDep, SentKeyDep, SessionDep, in_request_thread
from api.errors import ERROR_RESPONSES
from api.schemas.channels import (
    LineError,
    ReservationBatchCreate,
    ReservationBatchView,
    ReservationCreate,
    ReservationLineCreate,
    ReservationLineResult,
    ReservationView,
)
from api.schemas.common import Page, Paging
from api.state import AppState
from inventory import reservations
from inventory.models import ChannelReservation, ReservationStatus
from inventory.reservations import BatchLine, ReservationError, ReservationRequest

router = APIRouter(prefix="/reservations", tags=["channels"], responses=ERROR_RESPONSES)


@router.post(
    "",
    summary="Hold stock for a channel (idempotent by key; 201 new, 200 a replay)",
    response_model=ReservationView,
    status_code=201,
)
async def create_reservation(
    body: ReservationCreate, state: AppStateDep, key: SentKeyDep
) -> Response:
    """The key's check and the hold on one request thread (``in_request_thread``); the answer
    is serialised there too. A store availability leaves out for the channel (``closed_to_channel``)
    is never picked, and asked for by name it is refused (409)."""

    def work(session: Session, principal: Principal) -> Response:
        channel = acting_channel(principal, body.channel)
        now = state.clock()
        request = _request(channel, body, body.ttl_s)
        try:
            row, created = reservations.create(
                session,
                request,
                actor=principal.name,
                now=now,
                closed=closed_to_channel(state.settings, session, channel, now),
            )
            session.commit()
        except ReservationError as error:
            session.commit()  # keeps a lapsed hold's expiry; a refused change was already undone
            raise as_api_error(error) from error
        return _json(ReservationView.from_row(row), 201 if created else 200)

    return await in_request_thread(state, key, RESERVATION_CALLERS, work)


@router.post(
    "/batch",
    summary="Hold up to 500 lines for a channel; each line answered on its own (200)",
    response_model=ReservationBatchView,
)
async def create_reservation_batch(
    body: ReservationBatchCreate, state: AppStateDep, key: SentKeyDep
) -> Response:
    """Partial success: the request is 200 when it was understood, and each line says whether
    it was reserved (201 as a single call), replayed (200) or refused (404 / 409, with why)."""

    def work(session: Session, principal: Principal) -> Response:
        return _json(_hold_batch(state, session, principal, body), 200)

    return await in_request_thread(state, key, RESERVATION_CALLERS, work)


def _request(
    channel: str, hold: ReservationCreate | ReservationLineCreate, ttl_s: int
) -> ReservationRequest:
    """What the pool is asked to hold, for a single call and a batch line alike."""
    return ReservationRequest(
        channel=channel,
        sku=hold.sku,
        qty=hold.qty,
        idempotency_key=hold.idempotency_key,
        ttl_s=ttl_s,
        location=hold.location,
    )


def _json(view: BaseModel, status: int) -> Response:
    """A route's model as JSON, built on the request thread (FastAPI would validate the model
    again and serialise it on the event loop)."""
    return Response(view.model_dump_json(), status_code=status, media_type="application/json")


def _hold_batch(
    state: AppState, session: Session, principal: Principal, body: ReservationBatchCreate
) -> ReservationBatchView:
    channel = acting_channel(principal, body.channel)
    now = state.clock()
    requests = [
        _request(channel, line, line.ttl_s if line.ttl_s is not None else body.ttl_s)
        for line in body.lines
    ]
    try:
        answers = reservations.create_batch(
            session,
            channel,
            requests,
            actor=principal.name,
            now=now,
            closed=closed_to_channel(state.settings, session, channel, now),
        )
        session.commit()
    except ReservationError as error:
        session.rollback()
        raise as_api_error(error) from error
    lines = [
        _line_result(index, line.idempotency_key, answer)
        for index, (line, answer) in enumerate(zip(body.lines, answers, strict=True))
    ]
    return ReservationBatchView(
        channel=channel,
        reserved=sum(line.outcome == "reserved" for line in lines),
        replayed=sum(line.outcome == "replayed" for line in lines),
        refused=sum(line.outcome == "refused" for line in lines),
        lines=lines,
    )


_LINE_STATUS = {"reserved": 201, "replayed": 200}


def _line_result(index: int, key: str, answer: BatchLine) -> ReservationLineResult:
    if answer.error is not None:
        return ReservationLineResult(
            index=index,
            idempotency_key=key,
            outcome="refused",
            status=as_api_error(answer.error).status,
            error=LineError(
                code=answer.error.kind,  # type: ignore[arg-type]
                message=answer.error.message,
                field=answer.error.field,
            ),
        )
    assert answer.reservation is not None
    return ReservationLineResult(
        index=index,
        idempotency_key=key,
        outcome=answer.outcome,  # type: ignore[arg-type]
        status=_LINE_STATUS[answer.outcome],
        reservation=ReservationView.from_row(answer.reservation),
    )


@router.get(
    "",
    summary="Reservations, newest first (a channel sees its own)",
    response_model=Page[ReservationView],
)
def list_reservations(
    session: SessionDep,
    principal: ReservationCallerDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[ReservationStatus | None, Query()] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ReservationView]:
    query = reservations.query_for(channel=channel_scope(principal), status=status, sku=sku)
    return paging.page(session, query, ReservationView.from_row)


@router.get("/{reservation_id}", summary="One reservation", response_model=ReservationView)
def get_reservation(
    reservation_id: str, state: AppStateDep, session: SessionDep, principal: ReservationCallerDep
) -> ReservationView:
    try:
        row = reservations.get(
            session, reservation_id, channel=channel_scope(principal), now=state.clock()
        )
        session.commit()  # a lapsed hold was expired on the way
    except ReservationError as error:
        session.commit()  # keeps a lapsed hold's expiry; a refused change was already undone
        raise as_api_error(error) from error
    return ReservationView.from_row(row)


@router.post(
    "/{reservation_id}/confirm",
    summary="Confirm: the held units leave on-hand (once, however often retried)",
    response_model=ReservationView,
)
def confirm_reservation(
    reservation_id: str, state: AppStateDep, session: SessionDep, principal: ReservationCallerDep
) -> ReservationView:
    return _finish(reservations.confirm, reservation_id, state, session, principal)


@router.post(
    "/{reservation_id}/release",
    summary="Release: the held units return to ATP",
    response_model=ReservationView,
)
def release_reservation(
    reservation_id: str, state: AppStateDep, session: SessionDep, principal: ReservationCallerDep
) -> ReservationView:
    return _finish(reservations.release, reservation_id, state, session, principal)


def _finish(
    verb: Callable[..., ChannelReservation],
    reservation_id: str,
    state: AppStateDep,
    session: SessionDep,
    principal: ReservationCallerDep,
) -> ReservationView:
    try:
        row = verb(
            session,
            reservation_id,
            channel=channel_scope(principal),
            actor=principal.name,
            now=state.clock(),
        )
        session.commit()
    except ReservationError as error:
        session.commit()  # keeps a lapsed hold's expiry; a refused change was already undone
        raise as_api_error(error) from error
    return ReservationView.from_row(row)
