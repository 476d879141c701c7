"""Proposals, approvals, alerts, runs, the outbox and the audit trail."""

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class PromoProposal(SQLModel, table=True):
    __tablename__ = "promo_proposal"

    id: str = Field(primary_key=True, max_length=64)
    style_code: str = Field(foreign_key="style.code", index=True)
    location_code: str | None = Field(default=None, foreign_key="location.code")
    depth: float = Field(description="Markdown as a fraction of full price, e.g. 0.3.")
    expected_extra_units: float = 0.0
    expected_revenue: float = 0.0
    margin_impact: float = 0.0
    status: str = Field(index=True)
    run_id: str | None = Field(default=None, index=True)
    requested_by: str = "system"
    external_ref: str | None = None
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    updated_at: datetime


class Approval(SQLModel, table=True):
    __tablename__ = "approval"

    id: str = Field(primary_key=True, max_length=64)
    subject_type: str = Field(description="transfer_order | promo_proposal")
    subject_id: str = Field(index=True)
    run_id: str | None = Field(default=None, index=True)
    thread_id: str | None = Field(default=None, index=True)
    status: str = Field(index=True)
    requested_by: str
    decided_by: str | None = None
    second_approver: str | None = Field(default=None, description="Four-eyes second decision.")
    policy_rule: str = Field(description="The policy rule that asked for (or waived) a human.")
    comment: str | None = None
    requested_at: datetime
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AlertRecord(SQLModel, table=True):
    """An alert as received; idempotent per sender: (sender, external_id) is unique."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("sender", "external_id", name="uq_alert_sender_external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(index=True, description="The sender's own alert id.")
    sender: str
    type: str
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime
    run_id: str = Field(index=True)


class Run(SQLModel, table=True):
    __tablename__ = "run"

    id: str = Field(primary_key=True, max_length=64)
    assistant_id: str = Field(description="ops_chat | alert_response")
    thread_id: str = Field(index=True)
    trigger: str = Field(description="alert | chat | cli | eval")
    status: str = Field(index=True)
    lease_owner: str | None = Field(default=None, description="Worker holding the thread.")
    lease_expires_at: datetime | None = None
    input: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class OutboxMessage(SQLModel, table=True):
    """A side effect decided but not yet confirmed by the external system."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, index=True)
    target: str = Field(description="wms | oms | pricing | notify")
    action: str
    subject_id: str = Field(index=True)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    external_ref: str | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime


class AuditEvent(SQLModel, table=True):
    """Append-only record of every decision and side effect."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str
    kind: str = Field(index=True)
    subject_type: str | None = None
    subject_id: str | None = Field(default=None, index=True)
    run_id: str | None = Field(default=None, index=True)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    key_hash: str = Field(unique=True, index=True, description="SHA-256 of the key.")
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel: str | None = Field(
        default=None, max_length=32, description="The one channel a `channel` key acts for."
    )
    created_at: datetime
