"""Transfer orders and their lines, with the lifecycle of DESIGN §2."""

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class TransferOrder(SQLModel, table=True):
    __tablename__ = "transfer_order"

    id: str = Field(primary_key=True, max_length=64)
    source_code: str = Field(foreign_key="location.code", index=True)
    dest_code: str = Field(foreign_key="location.code", index=True)
    status: str = Field(index=True, description="proposed → pending_approval → approved → ...")
    reason: str = ""
    expected_value: float = 0.0
    cost: float = 0.0
    lead_time_hours: float = 0.0
    run_id: str | None = Field(default=None, index=True)
    requested_by: str = "system"
    external_ref: str | None = Field(default=None, description="The WMS's own reference.")
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None


class TransferLine(SQLModel, table=True):
    __tablename__ = "transfer_line"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="transfer_order.id", index=True)
    sku_code: str = Field(foreign_key="sku.code")
    qty: int
    expected_units_saved: float = 0.0
    expected_value: float = 0.0
    cost: float = 0.0
    explanation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
