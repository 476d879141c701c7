"""fulfil: fulfilment events and realised outcomes (the closed loop)

Revision ID: 0006_fulfilment_feedback
Revises: 0005_online_orders
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_fulfilment_feedback"
down_revision: str | None = "0005_online_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "fulfilment_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", _STR(length=64), nullable=False),
        sa.Column("event_id", _STR(length=128), nullable=False),
        sa.Column("type", _STR(length=16), nullable=False),
        sa.Column("system", _STR(length=32), nullable=False),
        sa.Column("order_ref", _STR(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", _TIME(), nullable=False),
        sa.Column("received_at", _TIME(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "event_id"),
    )
    for column in ("system", "order_ref"):
        op.create_index(f"ix_fulfilment_event_{column}", "fulfilment_event", [column])
    op.create_table(
        "fulfilment_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", _STR(length=32), nullable=False),
        sa.Column("order_ref", _STR(length=64), nullable=False),
        sa.Column("line", _STR(length=64), nullable=False),
        sa.Column("order_kind", _STR(length=16), nullable=False),
        sa.Column("client_ref", _STR(length=64), nullable=True),
        sa.Column("origin", _STR(length=64), nullable=False),
        sa.Column("destination", _STR(length=64), nullable=False),
        sa.Column("sku", _STR(length=64), nullable=True),
        sa.Column("qty_ordered", sa.Integer(), nullable=True),
        sa.Column("qty_shipped", sa.Integer(), nullable=True),
        sa.Column("released_at", _TIME(), nullable=True),
        sa.Column("shipped_at", _TIME(), nullable=True),
        sa.Column("delivered_at", _TIME(), nullable=True),
        sa.Column("cancelled_at", _TIME(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("trips", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TIME(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "order_ref", "line"),
    )
    for column in ("origin", "destination"):
        op.create_index(f"ix_fulfilment_outcome_{column}", "fulfilment_outcome", [column])


def downgrade() -> None:
    op.drop_table("fulfilment_outcome")
    op.drop_table("fulfilment_event")
