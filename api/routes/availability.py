"""``/v1/availability``: what a channel may sell now, per SKU (one or a batch of 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.channel_access import AvailabilityReaderDep, acting_channel
from api.deps import AppStateDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.schemas.channels import (
    AvailabilityQuery,
    AvailabilityRequest,
    AvailabilityResponse,
    LocationAvailability,
    SkuAvailabilityView,
)
from inventory import reservations
from inventory.availability import availability

router = APIRouter(prefix="/availability", tags=["channels"], responses=ERROR_RESPONSES)


def _answer(state: AppStateDep, session: SessionDep, channel: str, skus: list[str]) -> Response:
    """Built once and serialised once: a batch of 500 is thousands of location rows, and
    FastAPI validating the model again would double the cost of the hot path."""
    now = state.clock()
    # Lapsed holds on these SKUs give their units back first, even when the worker is behind.
    if reservations.sweep_expired(session, now=now, skus=skus):
        session.commit()
    items = [
        SkuAvailabilityView(
            sku=item.sku,
            known=item.known,
            sellable=item.sellable,
            locations=[
                LocationAvailability(location=loc.location, atp=loc.atp) for loc in item.locations
            ],
        )
        for item in availability(session, channel, skus)
    ]
    answer = AvailabilityResponse(channel=channel, as_of=now, items=items)
    return Response(content=answer.model_dump_json(), media_type="application/json")


@router.get(
    "",
    summary="Sellable quantity per SKU on a channel (ATP after entitlements)",
    response_model=AvailabilityResponse,
)
def get_availability(
    query: Annotated[AvailabilityQuery, Query()],
    state: AppStateDep,
    session: SessionDep,
    principal: AvailabilityReaderDep,
) -> Response:
    return _answer(state, session, acting_channel(principal, query.channel), query.sku)


@router.post(
    "",
    summary="Sellable quantity for a batch of up to 500 SKUs on a channel",
    response_model=AvailabilityResponse,
)
def post_availability(
    body: AvailabilityRequest,
    state: AppStateDep,
    session: SessionDep,
    principal: AvailabilityReaderDep,
) -> Response:
    return _answer(state, session, acting_channel(principal, body.channel), body.skus)
