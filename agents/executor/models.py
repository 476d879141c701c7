"""Pydantic views and inputs of the executor, so table rows never leak across the boundary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from inventory.models import OutboxMessage, TransferLine, TransferOrder


class OutboxView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    idempotency_key: str
    target: str
    action: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    external_ref: str | None
    last_error: str | None


class TransferLineView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku_code: str
    qty: int
    expected_units_saved: float
    expected_value: float
    cost: float
    explanation: dict


class TransferOrderView(BaseModel):
    """A transfer order as the API and the graphs show it: lines and delivery status together."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    source_code: str
    dest_code: str
    status: str
    reason: str
    expected_value: float
    cost: float
    lead_time_hours: float
    run_id: str | None
    requested_by: str
    external_ref: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    units: int
    lines: list[TransferLineView]
    outbox: list[OutboxView]

    @classmethod
    def build(
        cls, order: TransferOrder, lines: list[TransferLine], outbox: list[OutboxMessage]
    ) -> TransferOrderView:
        return cls.model_validate(
            {
                **order.model_dump(),
                "units": sum(line.qty for line in lines),
                "lines": [TransferLineView.model_validate(line) for line in lines],
                "outbox": [OutboxView.model_validate(message) for message in outbox],
            }
        )


class PromoDraft(BaseModel):
    """A markdown someone (a tool, a chat turn) wants to apply, before it is decided."""

    model_config = ConfigDict(extra="forbid")

    style: str = Field(min_length=1)
    location: str | None = Field(default=None, description="None: every location.")
    depth: float = Field(gt=0, lt=1, description="Markdown as a fraction of full price.")
    expected_extra_units: float = 0.0
    expected_revenue: float = 0.0
    margin_impact: float = 0.0
    details: dict = Field(default_factory=dict)
