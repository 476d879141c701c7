"""``/v1/reservations``: a channel holds stock, confirms it (deducts on-hand) or releases it.

Every unit moves through the single stock writer (``inventory.movements``) via
``inventory.reservations``; a hold not confirmed within its TTL lapses by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.channel_access import ReservationCallerDep, acting_channel, as_api_error, channel_scope
from api.deps import AppStateDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.schemas.channels import ReservationCreate, ReservationView
from api.schemas.common import Page, Paging
from inventory import reservations
from inventory.models import ChannelReservation, ReservationStatus
from inventory.reservations import ReservationError, ReservationRequest

router = APIRouter(prefix="/reservations", tags=["channels"], responses=ERROR_RESPONSES)


@router.post(
    "",
    summary="Hold stock for a channel (idempotent by key; 201 new, 200 a replay)",
    response_model=ReservationView,
    status_code=201,
)
def create_reservation(
    body: ReservationCreate,
    response: Response,
    state: AppStateDep,
    session: SessionDep,
    principal: ReservationCallerDep,
) -> ReservationView:
    request = ReservationRequest(
        channel=acting_channel(principal, body.channel),
        sku=body.sku,
        qty=body.qty,
        idempotency_key=body.idempotency_key,
        ttl_s=body.ttl_s,
        location=body.location,
    )
    try:
        row, created = reservations.create(
            session, request, actor=principal.name, now=state.clock()
        )
        session.commit()
    except ReservationError as error:
        session.commit()  # keeps a lapsed hold's expiry; a refused change was already undone
        raise as_api_error(error) from error
    if not created:
        response.status_code = 200
    return ReservationView.from_row(row)


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
