"""delivery: receipt push channels and the receipts queued for them

Revision ID: 0009_delivery
Revises: 0008_summaries
Create Date: 2026-11-29 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0009_delivery"
down_revision: str | None = "0008_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_channel",
        sa.Column("enterprise_code", sa.String(length=18), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("body_format", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("rotated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("enterprise_code", name=op.f("pk_delivery_channel")),
    )
    op.create_table(
        "delivery_item",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("enterprise_code", sa.String(length=18), nullable=False),
        sa.Column("receipt_id", sa.BigInteger(), nullable=False),
        sa.Column("doc_key", sa.String(length=200), nullable=False),
        sa.Column("message_type", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("give_up_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_item")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_delivery_item_receipt_id")),
    )
    with op.batch_alter_table("delivery_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_item_doc", ["enterprise_code", "doc_key", "status"], unique=False
        )
        batch_op.create_index(
            "ix_delivery_item_enterprise_id", ["enterprise_code", "id"], unique=False
        )
        batch_op.create_index(
            "ix_delivery_item_status_due", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_item", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_item_status_due")
        batch_op.drop_index("ix_delivery_item_enterprise_id")
        batch_op.drop_index("ix_delivery_item_doc")
    op.drop_table("delivery_item")
    op.drop_table("delivery_channel")
