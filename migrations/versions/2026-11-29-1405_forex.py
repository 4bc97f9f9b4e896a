"""forex: exchange rates, check policy, the uniqueness ledger, checks, settlements, alerts

Revision ID: 0006_forex
Revises: 0005_inspection
Create Date: 2026-11-29 14:05:00
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
# Rates with 8 decimals, scaled the same way on SQLite (see app.forex.models.ExactRate).
RATE = sa.Numeric(19, 8).with_variant(sa.BigInteger(), "sqlite")
WITHIN_VALUE = "allocated >= 0 AND allocated <= value"

revision: str = "0006_forex"
down_revision: str | None = "0005_inspection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forex_rate",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("rate", RATE, nullable=False),
        sa.Column("loaded_by", sa.String(length=120), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("currency", "effective_date", name=op.f("pk_forex_rate")),
    )
    op.create_table(
        "forex_policy",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tolerance", MONEY, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_forex_policy")),
    )
    op.create_table(
        "forex_ledger",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("inventory_id", sa.BigInteger(), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("ebc_code", sa.String(length=18), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("allocated", MONEY, nullable=False),
        sa.Column("returned_kind", sa.String(length=12), nullable=True),
        sa.Column("returned_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(WITHIN_VALUE, name=op.f("ck_forex_ledger_within_value")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forex_ledger")),
        sa.UniqueConstraint("inventory_id", name=op.f("uq_forex_ledger_inventory_id")),
        sa.UniqueConstraint("invt_no", name=op.f("uq_forex_ledger_invt_no")),
    )
    op.create_index(op.f("ix_forex_ledger_ebc_code"), "forex_ledger", ["ebc_code"])
    op.create_table(
        "forex_ledger_line",
        sa.Column("ledger_id", BIGID, nullable=False),
        sa.Column("gnum", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("allocated", MONEY, nullable=False),
        sa.CheckConstraint(WITHIN_VALUE, name=op.f("ck_forex_ledger_line_within_value")),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["forex_ledger.id"],
            name=op.f("fk_forex_ledger_line_ledger_id_forex_ledger"),
        ),
        sa.PrimaryKeyConstraint("ledger_id", "gnum", name=op.f("pk_forex_ledger_line")),
    )
    op.create_table(
        "forex_check",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("rules", JSONDOC, nullable=False),
        sa.Column("inputs", JSONDOC, nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forex_check")),
    )
    op.create_index(op.f("ix_forex_check_bank_code"), "forex_check", ["bank_code"])
    op.create_table(
        "forex_settlement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("enterprise_code", sa.String(length=18), nullable=False),
        sa.Column("account_holder", sa.String(length=100), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.Column("ledger_id", BIGID, nullable=True),
        sa.Column("allocated", MONEY, nullable=True),
        sa.Column("list_currency", sa.String(length=3), nullable=True),
        sa.Column("amount_usd", MONEY, nullable=True),
        sa.Column("ytd_year", sa.Integer(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("check_id", BIGID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reversed_at", TS, nullable=True),
        sa.Column("reversal_reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["check_id"], ["forex_check.id"], name=op.f("fk_forex_settlement_check_id_forex_check")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["forex_ledger.id"],
            name=op.f("fk_forex_settlement_ledger_id_forex_ledger"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forex_settlement")),
        sa.UniqueConstraint(
            "bank_code", "bank_ref", name=op.f("uq_forex_settlement_bank_code_bank_ref")
        ),
    )
    op.create_index(op.f("ix_forex_settlement_invt_no"), "forex_settlement", ["invt_no"])
    op.create_table(
        "forex_allocation",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", BIGID, nullable=False),
        sa.Column("gnum", sa.Integer(), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_id"],
            ["forex_ledger.id"],
            name=op.f("fk_forex_allocation_ledger_id_forex_ledger"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["forex_settlement.id"],
            name=op.f("fk_forex_allocation_settlement_id_forex_settlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forex_allocation")),
    )
    op.create_index(op.f("ix_forex_allocation_ledger_id"), "forex_allocation", ["ledger_id"])
    op.create_index(
        op.f("ix_forex_allocation_settlement_id"), "forex_allocation", ["settlement_id"]
    )
    op.create_table(
        "forex_enterprise_total",
        sa.Column("enterprise_code", sa.String(length=18), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("usd_total", MONEY, nullable=False),
        sa.CheckConstraint("usd_total >= 0", name=op.f("ck_forex_enterprise_total_not_negative")),
        sa.PrimaryKeyConstraint(
            "enterprise_code", "year", "direction", name=op.f("pk_forex_enterprise_total")
        ),
    )
    op.create_table(
        "forex_alert",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("ebc_code", sa.String(length=18), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("allocated", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_ids", JSONDOC, nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forex_alert")),
        sa.UniqueConstraint(
            "source_event_id",
            "bank_code",
            name=op.f("uq_forex_alert_source_event_id_bank_code"),
        ),
    )
    op.create_index(op.f("ix_forex_alert_bank_code"), "forex_alert", ["bank_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forex_alert_bank_code"), table_name="forex_alert")
    op.drop_table("forex_alert")
    op.drop_table("forex_enterprise_total")
    op.drop_index(op.f("ix_forex_allocation_settlement_id"), table_name="forex_allocation")
    op.drop_index(op.f("ix_forex_allocation_ledger_id"), table_name="forex_allocation")
    op.drop_table("forex_allocation")
    op.drop_index(op.f("ix_forex_settlement_invt_no"), table_name="forex_settlement")
    op.drop_table("forex_settlement")
    op.drop_index(op.f("ix_forex_check_bank_code"), table_name="forex_check")
    op.drop_table("forex_check")
    op.drop_table("forex_ledger_line")
    op.drop_index(op.f("ix_forex_ledger_ebc_code"), table_name="forex_ledger")
    op.drop_table("forex_ledger")
    op.drop_table("forex_policy")
    op.drop_table("forex_rate")
