"""promo: the retailer's promotion plan (style, location or all, days, depth, when planned)

Revision ID: 0010_promo_plan
Revises: 0009_resv_availability_indexes
Create Date: 2026-12-06 22:30:00

The forecast's horizon reads the promos planned before the clock (``tools.forecast_demand``);
before, the horizon was always regular price, though the retailer knows its own promo calendar.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_promo_plan"
down_revision: str | None = "0009_resv_availability_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promo_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("style_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("location_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("depth", sa.Float(), nullable=False),
        sa.Column("planned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["location_code"], ["location.code"]),
        sa.ForeignKeyConstraint(["style_code"], ["style.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("promo_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promo_plan_start"), ["start"], unique=False)
        batch_op.create_index(batch_op.f("ix_promo_plan_style_code"), ["style_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promo_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promo_plan_style_code"))
        batch_op.drop_index(batch_op.f("ix_promo_plan_start"))
    op.drop_table("promo_plan")
