"""customs summaries (汇总申报): 701 consolidations, their declarations, items and lists

Revision ID: 0008_summaries
Revises: 0007_sla
Create Date: 2026-11-29 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# N19,5 amounts; SQLite keeps them as scaled integers (see app.db.Money).
MONEY = sa.Numeric(19, 5).with_variant(sa.BigInteger(), "sqlite")

revision: str = "0008_summaries"
down_revision: str | None = "0007_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customs_summary",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("sum_no", sa.String(length=18), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("cop_no", sa.String(length=30), nullable=False),
        sa.Column("agent_code", sa.String(length=18), nullable=False),
        sa.Column("agent_name", sa.String(length=100), nullable=False),
        sa.Column("ebc_code", sa.String(length=18), nullable=False),
        sa.Column("ebc_name", sa.String(length=100), nullable=False),
        sa.Column("decl_agent_code", sa.String(length=18), nullable=False),
        sa.Column("decl_agent_name", sa.String(length=100), nullable=False),
        sa.Column("summary_flag", sa.String(length=1), nullable=False),
        sa.Column("item_name_flag", sa.String(length=1), nullable=False),
        sa.Column("start_time", TS, nullable=True),
        sa.Column("end_time", TS, nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("list_count", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_summary")),
        sa.UniqueConstraint("sum_no", "version", name=op.f("uq_customs_summary_sum_no_version")),
    )
    op.create_index("ix_customs_summary_agent_cop", "customs_summary", ["agent_code", "cop_no"])
    op.create_table(
        "customs_summary_declaration",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("summary_id", BIGID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("decl_seq_no", sa.String(length=18), nullable=False),
        sa.Column("ebc_code", sa.String(length=18), nullable=False),
        sa.Column("owner_code", sa.String(length=18), nullable=True),
        sa.Column("traf_mode", sa.String(length=1), nullable=True),
        sa.Column("arrival_country", sa.String(length=3), nullable=False),
        sa.Column("port_code", sa.String(length=4), nullable=False),
        sa.Column("gross_weight", MONEY, nullable=False),
        sa.Column("net_weight", MONEY, nullable=False),
        sa.Column("list_count", sa.Integer(), nullable=False),
        sa.Column("dec_state", sa.String(length=3), nullable=False),
        sa.Column("entry_id", sa.String(length=18), nullable=True),
        sa.ForeignKeyConstraint(
            ["summary_id"],
            ["customs_summary.id"],
            name=op.f("fk_customs_summary_declaration_summary_id_customs_summary"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_summary_declaration")),
        sa.UniqueConstraint("decl_seq_no", name=op.f("uq_customs_summary_declaration_decl_seq_no")),
        sa.UniqueConstraint(
            "summary_id", "seq", name=op.f("uq_customs_summary_declaration_summary_id_seq")
        ),
    )
    op.create_table(
        "customs_summary_line",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("declaration_id", BIGID, nullable=False),
        sa.Column("gseqno", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("gcode", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=3), nullable=False),
        sa.Column("item_name", sa.String(length=250), nullable=True),
        sa.Column("gname", sa.String(length=250), nullable=False),
        sa.Column("unit1", sa.String(length=3), nullable=False),
        sa.Column("unit2", sa.String(length=3), nullable=True),
        sa.Column("qty", MONEY, nullable=False),
        sa.Column("qty1", MONEY, nullable=False),
        sa.Column("qty2", MONEY, nullable=True),
        sa.Column("total_price", MONEY, nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["customs_summary_declaration.id"],
            name=op.f("fk_customs_summary_line_declaration_id_customs_summary_declaration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_summary_line")),
        sa.UniqueConstraint(
            "declaration_id", "gseqno", name=op.f("uq_customs_summary_line_declaration_id_gseqno")
        ),
    )
    op.create_table(
        "customs_summary_member",
        sa.Column("summary_id", BIGID, nullable=False),
        sa.Column("inventory_id", BIGID, nullable=False),
        sa.Column("declaration_seq", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["customs_inventory.id"],
            name=op.f("fk_customs_summary_member_inventory_id_customs_inventory"),
        ),
        sa.ForeignKeyConstraint(
            ["summary_id"],
            ["customs_summary.id"],
            name=op.f("fk_customs_summary_member_summary_id_customs_summary"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "summary_id", "inventory_id", name=op.f("pk_customs_summary_member")
        ),
    )
    # A list belongs to at most one live summary, also when two 701s race for it.
    op.create_index(
        "uq_customs_summary_member_live",
        "customs_summary_member",
        ["inventory_id"],
        unique=True,
        postgresql_where=sa.text("live"),
        sqlite_where=sa.text("live"),
    )


def downgrade() -> None:
    op.drop_index("uq_customs_summary_member_live", table_name="customs_summary_member")
    op.drop_table("customs_summary_member")
    op.drop_table("customs_summary_line")
    op.drop_table("customs_summary_declaration")
    op.drop_index("ix_customs_summary_agent_cop", table_name="customs_summary")
    op.drop_table("customs_summary")
