"""``/v1/fulfilment``: signed events from the fulfilling systems, and what was learnt from them.

``POST /events`` is a webhook like ``/v1/alerts``: the sender signs the body (HMAC-SHA256 over
``"<timestamp>.<body>"``, secrets per sender in ``STOCKPILOT_FULFILMENT_SECRETS``), no API key.
It is idempotent per sender on ``event_id``: the same body again answers ``duplicate: true``, a
different body under a known id is a 409. The reads (events, outcomes, lanes, nodes) are for
staff keys; ``/lanes`` shows the configured, learnt and effective figures planning uses.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from api import signatures
from api.deps import AppStateDep, ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, conflict
from api.schemas.common import Page, Paging
from api.schemas.fulfilment import (
    EventAccepted,
    FulfilmentEventView,
    LaneFiguresView,
    NodeFiguresView,
    OutcomeView,
)
from inventory.db import retrying
from inventory.fulfilment import (
    EVENT_TYPES,
    FulfilmentEventIn,
    FulfilmentRefused,
    outcomes_query,
    record_event,
)
from inventory.fulfilment_stats import lane_figures, node_figures
from inventory.models import FulfilmentEvent

router = APIRouter(prefix="/fulfilment", tags=["fulfilment"], responses=ERROR_RESPONSES)

_EVENT = TypeAdapter(FulfilmentEventIn)
_EXAMPLE = {
    "event_id": "WMS-000042:shipped",
    "type": "shipped",
    "system": "wms",
    "order_ref": "WMS-000042",
    "client_ref": "TO-1A2B3C4D5E6F",
    "order_kind": "transfer",
    "origin": "DC-SHA",
    "destination": "SHA-S01",
    "occurred_at": "2015-07-01T15:00:00+00:00",
    "released_at": "2015-07-01T09:00:00+00:00",
    "lines": [{"line": "1", "sku": "RB001-BLK-38", "qty_ordered": 6, "qty_shipped": 5}],
}


@router.post(
    "/events",
    summary="Receive a signed fulfilment event (shipped, delivered, cost, cancelled)",
    response_model=EventAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _EVENT.json_schema(ref_template="#/components/schemas/{model}"),
                    "example": _EXAMPLE,
                }
            },
        }
    },
)
async def receive_event(
    request: Request,
    state: AppStateDep,
    x_stockpilot_sender: Annotated[str | None, Header()] = None,
    x_stockpilot_timestamp: Annotated[str | None, Header()] = None,
    x_stockpilot_signature: Annotated[str | None, Header()] = None,
) -> EventAccepted:
    body = await request.body()
    sender = signatures.verify(
        state.settings.fulfilment_secrets,
        sender=x_stockpilot_sender,
        timestamp=x_stockpilot_timestamp,
        signature=x_stockpilot_signature,
        body=body,
        what="fulfilment event",
    )
    try:
        event = _EVENT.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *_without_tag(e["loc"]))} for e in exc.errors(include_url=False)]
        ) from None

    def record() -> EventAccepted:  # writes the pool: off the event loop
        recorded = retrying(
            state.engine, lambda session: record_event(session, sender, event, now=state.clock())
        )
        return EventAccepted(
            event_id=event.event_id,
            sender=sender,
            type=event.type,
            system=event.system,
            order_ref=event.order_ref,
            duplicate=recorded.duplicate,
        )

    try:
        return await run_in_threadpool(record)
    except FulfilmentRefused as refused:
        if refused.kind == "conflict":
            raise conflict(str(refused), field=f"body.{refused.field}") from None
        raise ApiError(422, str(refused), field=f"body.{refused.field}") from None


def _without_tag(loc: tuple) -> tuple:
    return loc[1:] if loc and loc[0] in EVENT_TYPES else loc


@router.get("/events", summary="Fulfilment events received, newest first")
def list_events(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    order_ref: str | None = Query(default=None, max_length=64),
) -> Page[FulfilmentEventView]:
    query = select(FulfilmentEvent).order_by(
        FulfilmentEvent.received_at.desc(),  # type: ignore[attr-defined]
        FulfilmentEvent.id.desc(),  # type: ignore[union-attr]
    )
    if order_ref is not None:
        query = query.where(FulfilmentEvent.order_ref == order_ref)
    return paging.page(session, query, FulfilmentEventView.from_row)


@router.get("/outcomes", summary="Realised order outcomes, most recently updated first")
def list_outcomes(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    system: str | None = Query(default=None, max_length=32),
    order_ref: str | None = Query(default=None, max_length=64),
    origin: str | None = Query(default=None, max_length=64),
) -> Page[OutcomeView]:
    query = outcomes_query(system=system, order_ref=order_ref, origin=origin)
    return paging.page(session, query, OutcomeView.from_row)


@router.get(
    "/lanes",
    summary="Per lane: configured, learnt and effective lead time, cost and pick-short rate",
)
def list_lanes(
    session: SessionDep,
    _: ReaderDep,
    origin: str | None = Query(default=None, max_length=64),
    destination: str | None = Query(default=None, max_length=64),
    observed_only: bool = Query(default=False, description="Only lanes with realised orders."),
    differs_only: bool = Query(
        default=False, description="Only lanes whose realised figures differ materially."
    ),
) -> list[LaneFiguresView]:
    items = [
        item
        for item in lane_figures(session).values()
        if (origin is None or item.origin == origin)
        and (destination is None or item.destination == destination)
        and (not observed_only or item.learnt.deliveries or item.learnt.costed or item.learnt.lines)
        and (not differs_only or item.differs)
    ]
    return [LaneFiguresView.of(item) for item in items]


@router.get("/nodes", summary="Per fulfilling node: pick-short rate, handling time, cancellations")
def list_nodes(session: SessionDep, _: ReaderDep) -> list[NodeFiguresView]:
    return [NodeFiguresView.of(item) for item in node_figures(session)]
