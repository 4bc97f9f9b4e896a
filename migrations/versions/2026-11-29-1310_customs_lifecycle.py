"""customs lifecycle: decisions, rules, quotas, tax rates; the audit chain sealed after commit

Revision ID: 0003_customs_lifecycle
Revises: 0002_window_customs
Create Date: 2026-11-29 13:04:23.398666
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TS = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# N19,5 amounts; SQLite keeps them as scaled integers (see app.db.Money).
MONEY = sa.Numeric(19, 5).with_variant(sa.BigInteger(), "sqlite")

revision: str = "0003_customs_lifecycle"
down_revision: str | None = "0002_window_customs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit guard: rows are never deleted; a row may be updated only to seal it (set its
# chain fields once) without touching its content. The previous revision froze rows outright.
_CONTENT = ("at", "actor", "action", "subject_type", "subject_id", "detail")
SEALABLE = "OLD.entry_hash IS NOT NULL OR " + " OR ".join(
    f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT
)
FROZEN = "TRUE"


def _create_guard(refuse_update_when: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' OR ({refuse_update_when}) THEN
                RAISE EXCEPTION 'audit_entry is append-only';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER audit_entry_no_update BEFORE UPDATE OR DELETE ON audit_entry
            FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
            """
        )
        return
    sqlite_when = refuse_update_when.replace("IS DISTINCT FROM", "IS NOT").replace("TRUE", "1")
    op.execute(
        "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
        f"WHEN {sqlite_when} BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
    )


def _drop_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_no_update ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("DROP TRIGGER audit_entry_no_delete")


def upgrade() -> None:
    op.create_table(
        "customs_buyer_quota",
        sa.Column("buyer_id_number", sa.String(length=60), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("used", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("buyer_id_number", "year", name=op.f("pk_customs_buyer_quota")),
    )
    op.create_table(
        "customs_rule_set",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "rules",
            JSONDOC,
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_customs_rule_set")),
    )
    op.create_table(
        "customs_tax_rate",
        sa.Column("hs_prefix", sa.String(length=10), nullable=False),
        sa.Column("duty_rate", MONEY, nullable=False),
        sa.Column("vat_rate", MONEY, nullable=False),
        sa.Column("consumption_rate", MONEY, nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("hs_prefix", name=op.f("pk_customs_tax_rate")),
    )
    # Starting rates by HS prefix (the longest prefix wins; "" is the default). Examples of
    # the common cases only: a district loads the tariff it applies through the admin API.
    sqlite = op.get_bind().dialect.name == "sqlite"

    def money(text: str) -> object:
        # What app.db.Money stores: NUMERIC, or on SQLite the value scaled by 10^5.
        return int(Decimal(text) * 100_000) if sqlite else Decimal(text)

    rates = sa.table(
        "customs_tax_rate",
        sa.column("hs_prefix", sa.String),
        sa.column("duty_rate"),
        sa.column("vat_rate"),
        sa.column("consumption_rate"),
        sa.column("note", sa.String),
    )
    op.bulk_insert(
        rates,
        [
            {
                "hs_prefix": p,
                "duty_rate": money(d),
                "vat_rate": money(v),
                "consumption_rate": money(c),
                "note": n,
            }
            for p, d, v, c, n in (
                ("", "0.10", "0.13", "0", "general goods, VAT 13 %"),
                ("0401", "0.15", "0.09", "0", "milk and cream, VAT 9 %"),
                ("1901", "0.05", "0.13", "0", "infant formula preparations"),
                # Only 高档化妆品 (≥ 10 yuan per ml/g) bear consumption tax; ordinary cosmetics
                # (3304) are general goods, so they have no row of their own here.
                ("3303", "0.03", "0.13", "0.15", "high-end perfumes (consumption tax 15 %)"),
                ("7113", "0.08", "0.13", "0.10", "jewellery (consumption tax 10 %)"),
                ("9101", "0.08", "0.13", "0.20", "precious watches (consumption tax 20 %)"),
            )
        ],
    )
    op.create_table(
        "customs_decision",
        sa.Column(
            "id",
            BIGID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("inventory_id", BIGID, nullable=False),
        sa.Column("agency", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("lane", sa.String(length=8), nullable=True),
        sa.Column("from_status", sa.Integer(), nullable=False),
        sa.Column("to_status", sa.Integer(), nullable=False),
        sa.Column(
            "rule_ids",
            JSONDOC,
            nullable=False,
        ),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("seed", sa.String(length=64), nullable=True),
        sa.Column("inputs_hash", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["customs_inventory.id"],
            name=op.f("fk_customs_decision_inventory_id_customs_inventory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_decision")),
        sa.UniqueConstraint("source_event_id", name=op.f("uq_customs_decision_source_event_id")),
    )
    with op.batch_alter_table("customs_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customs_decision_inventory_id"), ["inventory_id"], unique=False
        )

    _drop_guard()
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.BigInteger(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.alter_column("entry_hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entry_chain_seq"), ["chain_seq"])
    _create_guard(SEALABLE)

    with op.batch_alter_table("customs_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref_key", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_customs_document_ref_key", ["ref_key"], unique=False)
    with op.batch_alter_table("customs_inventory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_deadline", TS, nullable=True))
        batch_op.add_column(sa.Column("sla_deadline", TS, nullable=True))
        batch_op.add_column(sa.Column("lane", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column(
                "inspection_state",
                sa.String(length=12),
                nullable=False,
                server_default="pending",
            )
        )
        batch_op.add_column(sa.Column("claimed_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", TS, nullable=True))
        batch_op.add_column(sa.Column("quota_charged", MONEY, nullable=True))
        batch_op.add_column(sa.Column("customs_tax", MONEY, nullable=True))
        batch_op.add_column(sa.Column("vat", MONEY, nullable=True))
        batch_op.add_column(sa.Column("consumption_tax", MONEY, nullable=True))
        batch_op.add_column(
            sa.Column("full_tax", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("released_at", TS, nullable=True))

    with op.batch_alter_table("customs_inventory_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customs_tax", MONEY, nullable=True))
        batch_op.add_column(sa.Column("vat", MONEY, nullable=True))
        batch_op.add_column(sa.Column("consumption_tax", MONEY, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customs_inventory_line", schema=None) as batch_op:
        batch_op.drop_column("consumption_tax")
        batch_op.drop_column("vat")
        batch_op.drop_column("customs_tax")

    with op.batch_alter_table("customs_inventory", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("full_tax")
        batch_op.drop_column("consumption_tax")
        batch_op.drop_column("vat")
        batch_op.drop_column("customs_tax")
        batch_op.drop_column("quota_charged")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("inspection_state")
        batch_op.drop_column("lane")
        batch_op.drop_column("match_deadline")
        batch_op.drop_column("sla_deadline")
    with op.batch_alter_table("customs_document", schema=None) as batch_op:
        batch_op.drop_index("ix_customs_document_ref_key")
        batch_op.drop_column("ref_key")

    _drop_guard()
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entry_chain_seq"), type_="unique")
        batch_op.alter_column("entry_hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.drop_column("chain_seq")
    _create_guard(FROZEN)

    with op.batch_alter_table("customs_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customs_decision_inventory_id"))

    op.drop_table("customs_decision")
    op.drop_table("customs_tax_rate")
    op.drop_table("customs_rule_set")
    op.drop_table("customs_buyer_quota")
