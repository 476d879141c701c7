"""alert ids are unique per sender, not across senders

Revision ID: 0003
Revises: 0002_network_vocabulary
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002_network_vocabulary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_external_id"))
        batch_op.create_index(batch_op.f("ix_alert_external_id"), ["external_id"], unique=False)
        batch_op.create_unique_constraint("uq_alert_sender_external_id", ["sender", "external_id"])


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint("uq_alert_sender_external_id", type_="unique")
        batch_op.drop_index(batch_op.f("ix_alert_external_id"))
        batch_op.create_index(batch_op.f("ix_alert_external_id"), ["external_id"], unique=True)
