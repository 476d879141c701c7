"""channel reservations and channel-bound API keys

Revision ID: 0004_channel_reservations
Revises: 0003
Create Date: 2026-12-02 07:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_channel_reservations"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", _STR(length=32), nullable=True))
    op.create_table(
        "channel_reservation",
        sa.Column("id", _STR(length=40), nullable=False),
        sa.Column("channel", _STR(length=32), nullable=False),
        sa.Column("sku_code", _STR(), nullable=False),
        sa.Column("location_code", _STR(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("idempotency_key", _STR(length=160), nullable=False),
        sa.Column("requested_location", _STR(length=64), nullable=True),
        sa.Column("ttl_s", sa.Integer(), nullable=False),
        sa.Column("created_by", _STR(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["location_code"], ["location.code"]),
        sa.ForeignKeyConstraint(["sku_code"], ["sku.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    for column in ("channel", "sku_code", "location_code", "status", "expires_at"):
        op.create_index(f"ix_channel_reservation_{column}", "channel_reservation", [column])


def downgrade() -> None:
    op.drop_table("channel_reservation")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("channel")
