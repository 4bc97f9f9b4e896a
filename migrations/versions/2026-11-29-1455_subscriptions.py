"""delivery: SLA alert subscriptions by customs code, and receipt copies (BaseSubscribe)

Revision ID: 0010_subscriptions
Revises: 0009_delivery
Create Date: 2026-11-29 14:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0010_subscriptions"
down_revision: str | None = "0009_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A receipt is now pushed to its recipient and to each subscriber of copies.
    with op.batch_alter_table("delivery_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copy_of", sa.String(length=18), nullable=True))
        batch_op.drop_constraint("uq_delivery_item_receipt_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_delivery_item_enterprise_code_receipt_id"),
            ["enterprise_code", "receipt_id"],
        )
    op.create_table(
        "delivery_copy",
        sa.Column("enterprise_code", sa.String(length=18), nullable=False),
        sa.Column("subscriber_code", sa.String(length=18), nullable=False),
        sa.Column("statuses", JSONDOC, nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint(
            "enterprise_code", "subscriber_code", name=op.f("pk_delivery_copy")
        ),
    )
    op.create_table(
        "delivery_subscription",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("body_format", sa.String(length=4), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("deactivated_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_subscription")),
    )
    op.create_table(
        "delivery_subscription_code",
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.PrimaryKeyConstraint(
            "subscription_id", "customs_code", name=op.f("pk_delivery_subscription_code")
        ),
    )
    op.create_table(
        "delivery_alert_item",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_alert_item")),
        sa.UniqueConstraint(
            "subscription_id",
            "alert_id",
            name=op.f("uq_delivery_alert_item_subscription_id_alert_id"),
        ),
    )
    with op.batch_alter_table("delivery_alert_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_alert_item_status_due", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_alert_item", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_alert_item_status_due")
    op.drop_table("delivery_alert_item")
    op.drop_table("delivery_subscription_code")
    op.drop_table("delivery_subscription")
    op.drop_table("delivery_copy")
    with op.batch_alter_table("delivery_item", schema=None) as batch_op:
        batch_op.drop_constraint("uq_delivery_item_enterprise_code_receipt_id", type_="unique")
        batch_op.create_unique_constraint("uq_delivery_item_receipt_id", ["receipt_id"])
        batch_op.drop_column("copy_of")
