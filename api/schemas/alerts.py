"""Alert payloads the webhook accepts; ``type`` selects the model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


AlertPayload = Annotated[
    WeatherAlert | DemandSpikeAlert | SupplierDelayAlert, Field(discriminator="type")
]


class AlertAccepted(BaseModel):
    run_id: str
    thread_id: str
    status: str
    duplicate: bool = Field(description="True when this alert id had been received before.")
