"""``POST /v1/alerts``: the signed webhook. The alert and its run are stored before the 202.

Admission (``agents.alerts.admit_alert``) is idempotent per sender on the sender's alert id: a
repeat delivery of the same alert answers the first run (``duplicate: true``); a different body
under an id the sender already used is a 409, never silently dropped. Admission writes to the
pool, so it runs on the thread pool, not on the event loop (health checks and reads stay fast
during a burst of alerts).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from agents.alerts import AlertAccepted, AlertConflict, AlertPayload, WeatherAlert, admit_alert
from api import signatures
from api.deps import AppStateDep, ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES, conflict, not_found
from api.schemas.common import Page, Paging
from api.schemas.records import AlertView
from inventory.models import AlertRecord
from inventory.vocabulary import UnknownTerm, vocabulary_of

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=ERROR_RESPONSES)

_PAYLOAD = TypeAdapter(AlertPayload)
ALERT_TYPES = frozenset({"weather", "demand_spike", "supplier_delay"})

_EXAMPLE = {
    "type": "weather",
    "alert_id": "cma-sh-20150701-001",
    "city": "Shanghai",
    "precipitation_mm": 60,
    "window_hours": 24,
    "issued_at": "2015-07-01T08:00:00+08:00",
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a signed alert; returns the run that will handle it",
    response_model=AlertAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _PAYLOAD.json_schema(ref_template="#/components/schemas/{model}"),
                    "example": _EXAMPLE,
                }
            },
        }
    },
)
async def receive_alert(
    request: Request,
    state: AppStateDep,
    x_stockpilot_sender: Annotated[str | None, Header()] = None,
    x_stockpilot_timestamp: Annotated[str | None, Header()] = None,
    x_stockpilot_signature: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    body = await request.body()
    sender = signatures.verify(
        state.settings.alert_secrets,
        sender=x_stockpilot_sender,
        timestamp=x_stockpilot_timestamp,
        signature=x_stockpilot_signature,
        body=body,
    )
    try:
        alert = _PAYLOAD.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *_without_tag(e["loc"]))} for e in exc.errors(include_url=False)]
        ) from None

    def admit() -> AlertAccepted:  # reads and writes the pool: off the event loop
        _check_city(state.engine, alert)
        return admit_alert(state.engine, sender, alert)

    try:
        accepted = await run_in_threadpool(admit)
    except AlertConflict as exc:
        raise conflict(str(exc), field="body.alert_id", value=alert.alert_id) from None
    if not accepted.duplicate:
        state.wake_worker.set()
    return JSONResponse(accepted.model_dump(), status_code=status.HTTP_202_ACCEPTED)


def _check_city(engine, alert: AlertPayload) -> None:  # type: ignore[valid-type]
    """A weather alert must name one of the pool's cities (its rows, not a code constant); the
    city is rewritten to the pool's code so 上海 and shanghai land on the same thread."""
    if not isinstance(alert, WeatherAlert):
        return
    try:
        alert.city = vocabulary_of(engine).resolve_city(alert.city)
    except UnknownTerm as error:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "city"),
                    "msg": str(error),
                    "input": alert.city,
                }
            ]
        ) from None


def _without_tag(loc: tuple) -> tuple:
    """Pydantic puts the union's tag (``weather``) first in the location; people expect fields."""
    return loc[1:] if loc and loc[0] in ALERT_TYPES else loc


@router.get("", summary="Alerts received, newest first", response_model=Page[AlertView])
def list_alerts(
    session: SessionDep, _: ReaderDep, paging: Annotated[Paging, Depends()]
) -> Page[AlertView]:
    query = select(AlertRecord).order_by(AlertRecord.received_at.desc())  # type: ignore[attr-defined]
    return paging.page(session, query, AlertView.from_row)


@router.get("/{alert_id}", summary="One alert by the sender's alert id", response_model=AlertView)
def get_alert(
    alert_id: str,
    session: SessionDep,
    _: ReaderDep,
    sender: Annotated[
        str | None, Query(max_length=200, description="Whose alert id (ids are per sender).")
    ] = None,
) -> AlertView:
    query = select(AlertRecord).where(AlertRecord.external_id == alert_id)
    if sender is not None:
        query = query.where(AlertRecord.sender == sender)
    record = session.exec(query.order_by(AlertRecord.received_at)).first()  # type: ignore[arg-type]
    if record is None:
        raise not_found("alert", alert_id, field="alert_id")
    return AlertView.from_row(record)


__all__ = ["router"]
