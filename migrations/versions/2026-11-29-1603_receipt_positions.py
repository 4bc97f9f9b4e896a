"""receipts: a publication position in commit order, the cursor of feeds and push channels

Revision ID: 0011_receipt_positions
Revises: 0010_subscriptions
Create Date: 2026-11-29 16:03:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_receipt_positions"
down_revision: str | None = "0010_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED = sa.text("position IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    # The receipts so far are published at their ids, and later positions are drawn from the
    # id's own sequence (PostgreSQL) or are the ids themselves (SQLite): every cursor already
    # handed out, by GET /receipts or kept by a push channel or copy, keeps its place.
    # Receipts still committing now stay unpublished until the application publishes them.
    op.execute("UPDATE receipt SET position = id")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_receipt_recipient_id")
        batch_op.create_index(
            "ix_receipt_recipient_position", ["recipient_code", "position"], unique=False
        )
        batch_op.create_index(
            "ix_receipt_unpublished",
            ["id"],
            unique=False,
            postgresql_where=UNPUBLISHED,
            sqlite_where=UNPUBLISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_receipt_unpublished")
        batch_op.drop_index("ix_receipt_recipient_position")
        batch_op.create_index("ix_receipt_recipient_id", ["recipient_code", "id"], unique=False)
        batch_op.drop_column("position")
