"""routing: online orders and their routed lines

Revision ID: 0005_online_orders
Revises: 0004_channel_reservations
Create Date: 2026-12-06 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_online_orders"
down_revision: str | None = "0004_channel_reservations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TS = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "online_order",
        sa.Column("id", _STR(length=40), nullable=False),
        sa.Column("channel", _STR(length=32), nullable=False),
        sa.Column("channel_order_id", _STR(length=128), nullable=False),
        sa.Column("oms_ref", _STR(length=64), nullable=True),
        sa.Column("destination_city", _STR(length=64), nullable=False),
        sa.Column("destination_region", _STR(length=32), nullable=False),
        sa.Column("address", _STR(length=200), nullable=False),
        sa.Column("promised_by", _TS(), nullable=False),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("request_hash", _STR(length=64), nullable=False),
        sa.Column("routing_day", sa.Date(), nullable=False),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("delivery_cost", sa.Float(), nullable=False),
        sa.Column("eta", _TS(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("created_by", _STR(), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "channel_order_id"),
    )
    for column in ("channel", "oms_ref", "destination_city", "status", "routing_day"):
        op.create_index(f"ix_online_order_{column}", "online_order", [column])
    op.create_table(
        "online_order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", _STR(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_code", _STR(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("node_code", _STR(), nullable=False),
        sa.Column("shipment_ref", _STR(length=120), nullable=False),
        sa.Column("reservation_id", _STR(length=40), nullable=False),
        sa.Column("lead_time_hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["online_order.id"]),
        sa.ForeignKeyConstraint(["sku_code"], ["sku.code"]),
        sa.ForeignKeyConstraint(["node_code"], ["location.code"]),
        sa.ForeignKeyConstraint(["reservation_id"], ["channel_reservation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("order_id", "node_code", "shipment_ref"):
        op.create_index(f"ix_online_order_line_{column}", "online_order_line", [column])


def downgrade() -> None:
    op.drop_table("online_order_line")
    op.drop_table("online_order")
