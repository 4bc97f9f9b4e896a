"""sla alerts: a publication position in commit order, the cursor of GET /sla/alerts and of
subscriptions (the receipts' scheme of 0011, app.feeds)

Revision ID: 0013_alert_positions
Revises: 0012_document_ref_index
Create Date: 2026-11-29 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_alert_positions"
down_revision: str | None = "0012_document_ref_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED = sa.text("position IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("sla_alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    # The alerts so far are published at their ids, and later positions are drawn from the
    # id's own sequence (PostgreSQL) or are the ids themselves (SQLite): every cursor already
    # handed out, by GET /sla/alerts or kept by a subscription, keeps its place.
    op.execute("UPDATE sla_alert SET position = id")
    with op.batch_alter_table("sla_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_alert_code_id")
        batch_op.create_index(
            "ix_sla_alert_code_position", ["customs_code", "position"], unique=False
        )
        batch_op.create_index(
            "ix_sla_alert_unpublished",
            ["id"],
            unique=False,
            postgresql_where=UNPUBLISHED,
            sqlite_where=UNPUBLISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_alert_unpublished")
        batch_op.drop_index("ix_sla_alert_code_position")
        batch_op.create_index("ix_sla_alert_code_id", ["customs_code", "id"], unique=False)
        batch_op.drop_column("position")
