"""routing: per node and day order counters (atomic store capacity and share caps)

Revision ID: 0008_routing_node_load
Revises: 0007_job_records
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_routing_node_load"
down_revision: str | None = "0007_job_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "online_node_load",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("node_code", _STR(length=64), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "node_code"),
    )
    # Orders routed before this revision count too.
    op.execute(
        """
        INSERT INTO online_node_load (day, node_code, orders)
        SELECT o.routing_day, l.node_code, COUNT(DISTINCT o.id)
        FROM online_order o JOIN online_order_line l ON l.order_id = o.id
        WHERE o.status = 'routed'
        GROUP BY o.routing_day, l.node_code
        """
    )


def downgrade() -> None:
    op.drop_table("online_node_load")
