"""inspection: filings, versioned lists, screenings, tasks; the registry's standing events

Revision ID: 0005_inspection
Revises: 0004_certificates
Create Date: 2026-11-29 14:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TS = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# N19,5 amounts; SQLite keeps them as scaled integers (see app.db.Money).
MONEY = sa.Numeric(19, 5).with_variant(sa.BigInteger(), "sqlite")
LIVE = sa.text("status IN ('received', 'approved')")

revision: str = "0005_inspection"
down_revision: str | None = "0004_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection_enterprise_filing",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(30), nullable=False),
        sa.Column("business_scope", sa.String(500), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_enterprise_filing"),
    )
    op.create_index(
        "ix_inspection_enterprise_filing_enterprise_code",
        "inspection_enterprise_filing",
        ["enterprise_code"],
    )
    op.create_index(
        "ix_inspection_enterprise_filing_customs_code",
        "inspection_enterprise_filing",
        ["customs_code"],
    )
    op.create_index(
        "uq_inspection_enterprise_filing_live",
        "inspection_enterprise_filing",
        ["enterprise_code"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )

    op.create_table(
        "inspection_goods_filing",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=False),
        sa.Column("enterprise_filing_id", BIGID, nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("item_no", sa.String(30), nullable=False),
        sa.Column("hs_code", sa.String(10), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("brand", sa.String(100), nullable=False),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("origin_country", sa.String(3), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=False),
        sa.Column("supplier", sa.String(200), nullable=False),
        sa.Column("ingredients", sa.String(1000), nullable=False),
        sa.Column("conformity_statement", sa.String(1000), nullable=False),
        sa.Column("risk_tier", sa.String(8), nullable=False),
        sa.Column("quarantine", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_goods_filing"),
    )
    op.create_index(
        "ix_inspection_goods_filing_customs_code", "inspection_goods_filing", ["customs_code"]
    )
    op.create_index(
        "ix_inspection_goods_filing_match",
        "inspection_goods_filing",
        ["enterprise_code", "hs_code", "status"],
    )
    op.create_index(
        "uq_inspection_goods_filing_live",
        "inspection_goods_filing",
        ["enterprise_code", "item_no"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )

    op.create_table(
        "inspection_list_version",
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", JSONDOC, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "version", name="pk_inspection_list_version"),
    )

    op.create_table(
        "inspection_screening",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("inventory_id", BIGID, nullable=False),
        sa.Column("invt_no", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(1), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("trade_mode", sa.String(4), nullable=False),
        sa.Column("ebc_code", sa.String(18), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("rule_ids", JSONDOC, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("list_versions", JSONDOC, nullable=False),
        sa.Column("credit_class", sa.String(16), nullable=True),
        sa.Column("risk_tier", sa.String(8), nullable=True),
        sa.Column("rate", MONEY, nullable=True),
        sa.Column("seed", sa.String(64), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_screening"),
        sa.UniqueConstraint("invt_no", name="uq_inspection_screening_invt_no"),
        sa.UniqueConstraint("source_event_id", name="uq_inspection_screening_source_event_id"),
    )

    op.create_table(
        "inspection_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("inventory_id", BIGID, nullable=False),
        sa.Column("invt_no", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(1), nullable=False),
        sa.Column("customs_code", sa.String(4), nullable=False),
        sa.Column("ebc_code", sa.String(18), nullable=False),
        sa.Column("joint", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("disposal", sa.String(12), nullable=True),
        sa.Column("result_reason", sa.String(1000), nullable=True),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_task"),
        sa.UniqueConstraint("invt_no", name="uq_inspection_task_invt_no"),
    )
    op.create_index(
        "ix_inspection_task_queue", "inspection_task", ["customs_code", "status", "opened_at"]
    )

    op.create_table(
        "inspection_customs_examination",
        sa.Column("invt_no", sa.String(20), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("invt_no", name="pk_inspection_customs_examination"),
        sa.UniqueConstraint(
            "source_event_id", name="uq_inspection_customs_examination_source_event_id"
        ),
    )

    op.create_table(
        "registry_standing_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["registry_enterprise.code"],
            name="fk_registry_standing_event_enterprise_code_registry_enterprise",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registry_standing_event"),
        sa.UniqueConstraint("source_event_id", name="uq_registry_standing_event_source_event_id"),
    )
    op.create_index(
        "ix_registry_standing_event_enterprise_code",
        "registry_standing_event",
        ["enterprise_code"],
    )


def downgrade() -> None:
    op.drop_table("registry_standing_event")
    op.drop_table("inspection_customs_examination")
    op.drop_table("inspection_task")
    op.drop_table("inspection_screening")
    op.drop_table("inspection_list_version")
    op.drop_table("inspection_goods_filing")
    op.drop_table("inspection_enterprise_filing")
