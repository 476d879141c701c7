"""Alert admission: a sender's alert → its thread and an admitted alert_response run, durably.

Below the API so every way an alert arrives (the signed webhook, an eval's scripted alert) is
admitted the same way. Idempotent per sender on the sender's alert id: a repeat delivery answers
the first run (``duplicate: true``); a different body under an id the sender already used raises
``AlertConflict``, never silently dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from agents.graphs.alert_response.state import AlertPayload as GraphAlert
from agents.runs import new_run, new_thread, record_run
from inventory.models import AlertRecord, Run, RunStatus

ALERT_ASSISTANT = "alert_response"

__all__ = [
    "ALERT_ASSISTANT",
    "AlertAccepted",
    "AlertConflict",
    "AlertPayload",
    "DemandSpikeAlert",
    "SupplierDelayAlert",
    "WeatherAlert",
    "admit_alert",
    "alert_response_input",
]


class _Alert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str = Field(
        min_length=1, max_length=200, description="The sender's id; resending it is harmless."
    )
    issued_at: datetime = Field(description="When the sender issued the alert (ISO 8601).")


class WeatherAlert(_Alert):
    """A rain forecast for a city: the alert_response assistant plans transfers for it."""

    type: Literal["weather"] = "weather"
    city: str = Field(
        min_length=1,
        max_length=64,
        description="One of the pool's cities, in English or Chinese (e.g. Shanghai or 上海).",
    )
    precipitation_mm: float = Field(ge=0, le=2000, description="Expected rain over the window.")
    window_hours: int = Field(ge=1, le=168, description="Hours the forecast covers.")

    @field_validator("city")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()


class DemandSpikeAlert(_Alert):
    type: Literal["demand_spike"] = "demand_spike"
    location: str = Field(min_length=1, max_length=64)
    sku: str | None = Field(default=None, max_length=64)
    style: str | None = Field(default=None, max_length=64)
    factor: float = Field(gt=0, le=100, description="Demand as a multiple of normal.")


class SupplierDelayAlert(_Alert):
    type: Literal["supplier_delay"] = "supplier_delay"
    supplier: str = Field(min_length=1, max_length=200)
    styles: list[str] = Field(default_factory=list, max_length=500)
    delay_days: int = Field(ge=1, le=365)


#: What senders may send; ``type`` selects the model.
AlertPayload = Annotated[
    WeatherAlert | DemandSpikeAlert | SupplierDelayAlert, Field(discriminator="type")
]


class AlertAccepted(BaseModel):
    run_id: str
    thread_id: str
    status: str
    duplicate: bool = Field(description="True when this alert id had been received before.")


class AlertConflict(ValueError):
    """The sender already sent another alert under this id."""


def alert_response_input(alert: AlertPayload, sender: str) -> dict[str, Any] | None:  # type: ignore[valid-type]
    """The alert_response assistant's input for ``alert``, or None when no assistant handles
    its type yet (it is recorded but starts nothing). Senders speak their own vocabulary
    (``weather``, precipitation over a window); the graph has its own model."""
    if isinstance(alert, WeatherAlert):
        graph_alert = GraphAlert(
            type="rain",
            city=alert.city,
            mm=alert.precipitation_mm,
            hours=alert.window_hours,
            external_id=alert.alert_id,
            sender=sender,
        )
        return {"alert": graph_alert.model_dump(mode="json")}
    return None


def admit_alert(engine: Engine, sender: str, alert: AlertPayload) -> AlertAccepted:  # type: ignore[valid-type]
    """Record the alert, its thread and an admitted run in one transaction; idempotent on
    (sender, alert id). Raises AlertConflict when the id was used for a different alert."""
    payload = alert.model_dump(mode="json")
    existing = _existing(engine, sender, alert.alert_id, payload)
    if existing is not None:
        return existing
    graph_input = alert_response_input(alert, sender)
    try:
        with Session(engine, expire_on_commit=False) as session:
            thread = new_thread(
                session,
                created_by=sender,
                assistant_id=ALERT_ASSISTANT,
                metadata={"alert_id": alert.alert_id, "sender": sender, "type": alert.type},
            )
            run = record_run(
                session,
                new_run(
                    thread_id=thread.id,
                    assistant_id=ALERT_ASSISTANT,
                    trigger="alert",
                    status=RunStatus.ADMITTED if graph_input else RunStatus.FAILED,
                    run_input=graph_input or {"alert": payload},
                ),
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
                    received_at=datetime.now(UTC),
                    run_id=run.id,
                )
            )
            session.commit()
    except IntegrityError:  # the same alert arrived concurrently: the first one won
        existing = _existing(engine, sender, alert.alert_id, payload)
        if existing is None:
            raise
        return existing
    return AlertAccepted(run_id=run.id, thread_id=thread.id, status=run.status, duplicate=False)


def _existing(
    engine: Engine, sender: str, alert_id: str, payload: dict[str, Any]
) -> AlertAccepted | None:
    with Session(engine, expire_on_commit=False) as session:
        record = session.exec(
            select(AlertRecord).where(
                AlertRecord.sender == sender, AlertRecord.external_id == alert_id
            )
        ).first()
        if record is None:
            return None
        if record.payload != payload:
            changed = sorted(
                key
                for key in set(record.payload) | set(payload)
                if record.payload.get(key) != payload.get(key)
            )
            raise AlertConflict(
                f"alert {alert_id!r} from {sender!r} was already received with a different body "
                f"(differs in: {', '.join(changed)}); send a new alert id for a new alert"
            )
        run = session.get(Run, record.run_id)
    return AlertAccepted(
        run_id=record.run_id,
        thread_id=run.thread_id if run else "",
        status=run.status if run else "unknown",
        duplicate=True,
    )
