"""``/v1/availability``: what a channel may sell now, per SKU (one or a batch of 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from api.auth import Principal
from api.channel_access import AVAILABILITY_READERS, acting_channel, closed_to_channel
from api.deps import AppStateDep, SentKeyDep, in_request_thread
from api.errors import ERROR_RESPONSES
from api.schemas.channels import AvailabilityQuery, AvailabilityRequest, AvailabilityResponse
from api.state import AppState
from inventory import reservations

router = APIRouter(prefix="/availability", tags=["channels"], responses=ERROR_RESPONSES)


async def _answer(state: AppStateDep, key: str, channel: str | None, skus: list[str]) -> Response:
    """The key's check and the whole lookup on one request thread (``in_request_thread``)."""

    def work(session: Session, principal: Principal) -> Response:
        return _lookup(state, session, acting_channel(principal, channel), skus)

    return await in_request_thread(state, key, AVAILABILITY_READERS, work)


def _lookup(state: AppState, session: Session, channel: str, skus: list[str]) -> Response:
    """A store routing would not ship an online order from now (ship-from-store off, the store
    not shipping online, today's pick/pack capacity or share cap reached: the routing policy's)
    offers nothing on channels other than the in-store ones (``closed_to_channel``).

    The items come from the database as JSON (``availability_json``): a batch of 500 is
    about 20,000 location rows, which as Python objects validated and serialised again cost
    most of the request. Only the envelope is a model."""
    now = state.clock()
    closed = sorted(closed_to_channel(state.settings, session, channel, now))
    # Lapsed holds on these SKUs give their units back first, even when the worker is behind.
    items = reservations.available_json(session, channel, skus, closed, now=now)
    envelope = AvailabilityResponse(channel=channel, as_of=now, items=[]).model_dump_json()
    assert envelope.endswith(_NO_ITEMS)
    content = f"{envelope[: -len(_NO_ITEMS)]}[{','.join(items)}]}}"
    return Response(content=content, media_type="application/json")


_NO_ITEMS = "[]}"


@router.get(
    "",
    summary="Sellable quantity per SKU on a channel (ATP after entitlements)",
    response_model=AvailabilityResponse,
)
async def get_availability(
    query: Annotated[AvailabilityQuery, Query()], state: AppStateDep, key: SentKeyDep
) -> Response:
    return await _answer(state, key, query.channel, query.sku)


@router.post(
    "",
    summary="Sellable quantity for a batch of up to 500 SKUs on a channel",
    response_model=AvailabilityResponse,
)
async def post_availability(
    body: AvailabilityRequest, state: AppStateDep, key: SentKeyDep
) -> Response:
    return await _answer(state, key, body.channel, body.skus)
