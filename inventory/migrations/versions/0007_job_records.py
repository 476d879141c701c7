"""speed: job records (background jobs reported by any process, across restarts)

Revision ID: 0007_job_records
Revises: 0006_fulfilment_feedback
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_job_records"
down_revision: str | None = "0006_fulfilment_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", _STR(length=40), nullable=False),
        sa.Column("kind", _STR(length=32), nullable=False),
        sa.Column("title", _STR(), nullable=False),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", _STR(), nullable=False),
        sa.Column("owner", _STR(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", _STR(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_status", "job", ["status"])
    op.create_index("ix_job_created_at", "job", ["created_at"])


def downgrade() -> None:
    op.drop_table("job")
