"""Public views of pool records (alerts, runs, approvals, orders, promos, audit events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inventory.models import (
    AlertRecord,
    Approval,
    AuditEvent,
    PromoProposal,
    Run,
    TransferLine,
    TransferOrder,
)


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AlertView(_View):
    alert_id: str
    sender: str
    type: str
    payload: dict[str, Any]
    received_at: datetime
    run_id: str

    @classmethod
    def from_row(cls, row: AlertRecord) -> AlertView:
        return cls(
            alert_id=row.external_id,
            sender=row.sender,
            type=row.type,
            payload=row.payload,
            received_at=row.received_at,
            run_id=row.run_id,
        )


class RunView(_View):
    id: str
    assistant_id: str
    thread_id: str
    trigger: str
    status: str
    input: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Run) -> RunView:
        return cls.model_validate(row)


class ApprovalView(_View):
    id: str
    subject_type: str
    subject_id: str
    run_id: str | None
    thread_id: str | None
    status: str
    requested_by: str
    decided_by: str | None
    second_approver: str | None
    policy_rule: str
    comment: str | None
    requested_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None
    payload: dict[str, Any]
    state: Literal[
        "awaiting_decision", "run_in_progress", "recovering", "not_waiting", "settled"
    ] = Field(
        description="Whether a run waits on it now: only `awaiting_decision` can be decided; "
        "`run_in_progress` / `recovering` become decidable when the thread waits again "
        "(see docs/api.md)."
    )
    decidable: bool = Field(description="A decision posted now would be taken (state says why).")
    state_reason: str = Field(description="Why it is (or is not) decidable now.")

    @classmethod
    def from_row(cls, row: Approval, wait: Any) -> ApprovalView:
        """``wait`` is ``api.approval_waits.Wait`` for ``row``."""
        return cls.model_validate(
            {
                **{name: getattr(row, name) for name in Approval.model_fields},
                "state": str(wait.state),
                "decidable": wait.decidable,
                "state_reason": wait.reason,
            }
        )


class TransferLineView(_View):
    sku: str = Field(validation_alias="sku_code")
    qty: int
    expected_units_saved: float
    expected_value: float
    cost: float
    explanation: dict[str, Any]


class TransferOrderView(_View):
    id: str
    source: str = Field(validation_alias="source_code")
    dest: str = Field(validation_alias="dest_code")
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
    lines: list[TransferLineView] = []

    @classmethod
    def from_row(
        cls, row: TransferOrder, lines: list[TransferLine] | None = None
    ) -> TransferOrderView:
        view = cls.model_validate(row)
        view.lines = [TransferLineView.model_validate(line) for line in lines or []]
        return view


class PromoProposalView(_View):
    id: str
    style: str = Field(validation_alias="style_code")
    location: str | None = Field(validation_alias="location_code")
    depth: float
    expected_extra_units: float
    expected_revenue: float
    margin_impact: float
    status: str
    run_id: str | None
    requested_by: str
    external_ref: str | None
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: PromoProposal) -> PromoProposalView:
        return cls.model_validate(row)


class AuditEventView(_View):
    id: int
    at: datetime
    actor: str
    kind: str
    subject_type: str | None
    subject_id: str | None
    run_id: str | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: AuditEvent) -> AuditEventView:
        return cls.model_validate(row)
