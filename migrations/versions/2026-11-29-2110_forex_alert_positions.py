"""forex alerts: a publication position in commit order, the cursor of GET /forex/alerts
(the receipts' scheme of 0011, app.feeds)

Revision ID: 0014_forex_alert_positions
Revises: 0013_alert_positions
Create Date: 2026-11-29 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_forex_alert_positions"
down_revision: str | None = "0013_alert_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED = sa.text("position IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("forex_alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    # As in 0013: the alerts so far are published at their ids, so every next_after already
    # handed out keeps its place.
    op.execute("UPDATE forex_alert SET position = id")
    with op.batch_alter_table("forex_alert", schema=None) as batch_op:
        # Leads with bank_code: it serves the lookups the bank_code index served.
        batch_op.drop_index("ix_forex_alert_bank_code")
        batch_op.create_index(
            "ix_forex_alert_bank_code_position", ["bank_code", "position"], unique=False
        )
        batch_op.create_index(
            "ix_forex_alert_unpublished",
            ["id"],
            unique=False,
            postgresql_where=UNPUBLISHED,
            sqlite_where=UNPUBLISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("forex_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_forex_alert_unpublished")
        batch_op.drop_index("ix_forex_alert_bank_code_position")
        batch_op.create_index("ix_forex_alert_bank_code", ["bank_code"], unique=False)
        batch_op.drop_column("position")
