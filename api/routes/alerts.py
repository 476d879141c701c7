"""``POST /v1/alerts``: the signed webhook. The alert and its run are stored before the 202."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api import run_store, signatures
from api.alert_inputs import alert_response_input
from api.deps import AppStateDep, ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.schemas.alerts import AlertAccepted, AlertPayload, WeatherAlert
from api.schemas.common import Page, Paging
from api.schemas.records import AlertView
from inventory.models import AlertRecord, Run, RunStatus
from inventory.vocabulary import UnknownTerm, vocabulary_of

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=ERROR_RESPONSES)

_PAYLOAD = TypeAdapter(AlertPayload)
ALERT_ASSISTANT = "alert_response"
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
    _check_city(state.engine, alert)
    accepted = admit_alert(state.engine, sender, alert)
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


def admit_alert(engine, sender: str, alert: AlertPayload) -> AlertAccepted:  # type: ignore[valid-type]
    """Record the alert, its thread and an admitted run in one transaction; idempotent on id."""
    existing = _existing(engine, alert.alert_id)
    if existing is not None:
        return existing
    now = run_store.utcnow()
    payload = alert.model_dump(mode="json")
    graph_input = alert_response_input(alert, sender)
    try:
        with Session(engine, expire_on_commit=False) as session:
            thread = run_store.create_thread(
                session,
                created_by=sender,
                assistant_id=ALERT_ASSISTANT,
                metadata={"alert_id": alert.alert_id, "sender": sender, "type": alert.type},
            )
            run = run_store.record_run(
                session,
                thread_id=thread.id,
                assistant_id=ALERT_ASSISTANT,
                trigger="alert",
                status=RunStatus.ADMITTED if graph_input else RunStatus.FAILED,
                run_input=graph_input or {"alert": payload},
                actor=sender,
            )
            if graph_input is None:
                run.error = f"recorded only: no assistant handles {alert.type!r} alerts yet"
            session.add(
                AlertRecord(
                    external_id=alert.alert_id,
                    sender=sender,
                    type=alert.type,
                    payload=payload,
                    received_at=now,
                    run_id=run.id,
                )
            )
            session.commit()
    except IntegrityError:  # the same alert arrived concurrently: the first one won
        existing = _existing(engine, alert.alert_id)
        if existing is None:
            raise
        return existing
    return AlertAccepted(run_id=run.id, thread_id=thread.id, status=run.status, duplicate=False)


def _existing(engine, alert_id: str) -> AlertAccepted | None:
    with Session(engine, expire_on_commit=False) as session:
        record = session.exec(
            select(AlertRecord).where(AlertRecord.external_id == alert_id)
        ).first()
        if record is None:
            return None
        run = session.get(Run, record.run_id)
    return AlertAccepted(
        run_id=record.run_id,
        thread_id=run.thread_id if run else "",
        status=run.status if run else "unknown",
        duplicate=True,
    )


@router.get("", summary="Alerts received, newest first", response_model=Page[AlertView])
def list_alerts(
    session: SessionDep, _: ReaderDep, paging: Annotated[Paging, Depends()]
) -> Page[AlertView]:
    query = select(AlertRecord).order_by(AlertRecord.received_at.desc())  # type: ignore[attr-defined]
    return paging.page(session, query, AlertView.from_row)


@router.get("/{alert_id}", summary="One alert by the sender's alert id", response_model=AlertView)
def get_alert(alert_id: str, session: SessionDep, _: ReaderDep) -> AlertView:
    record = session.exec(select(AlertRecord).where(AlertRecord.external_id == alert_id)).first()
    if record is None:
        raise not_found("alert", alert_id, field="alert_id")
    return AlertView.from_row(record)


__all__ = ["ApiError", "admit_alert", "router"]
