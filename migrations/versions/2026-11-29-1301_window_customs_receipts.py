"""window raw messages, receipts, customs documents and inventory lists

Revision ID: 0002_window_customs
Revises: 0001_registry
Create Date: 2026-11-29 13:01:47.702932
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

revision: str = "0002_window_customs"
down_revision: str | None = "0001_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customs_document",
        sa.Column(
            "id",
            BIGID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("app_type", sa.String(length=3), nullable=False),
        sa.Column("app_time", TS, nullable=False),
        sa.Column("app_status", sa.String(length=3), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("pre_no", sa.String(length=18), nullable=True),
        sa.Column("sender_code", sa.String(length=18), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column(
            "head",
            JSONDOC,
            nullable=False,
        ),
        sa.Column(
            "lines",
            JSONDOC,
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_document")),
        sa.UniqueConstraint(
            "kind",
            "direction",
            "business_key",
            name=op.f("uq_customs_document_kind_direction_business_key"),
        ),
        sa.UniqueConstraint("pre_no", name=op.f("uq_customs_document_pre_no")),
    )
    op.create_table(
        "customs_inventory",
        sa.Column(
            "id",
            BIGID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("agent_code", sa.String(length=18), nullable=False),
        sa.Column("cop_no", sa.String(length=60), nullable=False),
        sa.Column("pre_no", sa.String(length=18), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=True),
        sa.Column("ebp_code", sa.String(length=18), nullable=False),
        sa.Column("ebc_code", sa.String(length=18), nullable=False),
        sa.Column("order_no", sa.String(length=60), nullable=False),
        sa.Column("logistics_code", sa.String(length=18), nullable=False),
        sa.Column("logistics_no", sa.String(length=60), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("port_code", sa.String(length=4), nullable=False),
        sa.Column("trade_mode", sa.String(length=4), nullable=False),
        sa.Column("statistics_flag", sa.String(length=1), nullable=True),
        sa.Column("owner_code", sa.String(length=18), nullable=True),
        sa.Column("buyer_id_number", sa.String(length=60), nullable=True),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("goods_value", MONEY, nullable=False),
        sa.Column("freight", MONEY, nullable=False),
        sa.Column("insured_fee", MONEY, nullable=False),
        sa.Column("gross_weight", MONEY, nullable=False),
        sa.Column("net_weight", MONEY, nullable=False),
        sa.Column("pack_no", sa.Integer(), nullable=False),
        sa.Column("app_type", sa.String(length=3), nullable=False),
        sa.Column("app_time", TS, nullable=False),
        sa.Column("app_status", sa.String(length=3), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("status_at", TS, nullable=False),
        sa.Column("sender_code", sa.String(length=18), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column(
            "head",
            JSONDOC,
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_inventory")),
        sa.UniqueConstraint(
            "direction",
            "agent_code",
            "cop_no",
            name=op.f("uq_customs_inventory_direction_agent_code_cop_no"),
        ),
        sa.UniqueConstraint("invt_no", name=op.f("uq_customs_inventory_invt_no")),
        sa.UniqueConstraint("pre_no", name=op.f("uq_customs_inventory_pre_no")),
    )
    with op.batch_alter_table("customs_inventory", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customs_inventory_buyer_id_number"), ["buyer_id_number"], unique=False
        )
        batch_op.create_index(
            "ix_customs_inventory_customs_status", ["customs_code", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customs_inventory_ebc_code"), ["ebc_code"], unique=False
        )
        batch_op.create_index("ix_customs_inventory_order", ["ebp_code", "order_no"], unique=False)
        batch_op.create_index(
            "ix_customs_inventory_waybill", ["logistics_code", "logistics_no"], unique=False
        )

    op.create_table(
        "customs_number_counter",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_customs_number_counter")),
    )
    op.create_table(
        "receipt",
        sa.Column(
            "id",
            BIGID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("recipient_code", sa.String(length=18), nullable=False),
        sa.Column("message_type", sa.String(length=10), nullable=False),
        sa.Column("doc_kind", sa.String(length=20), nullable=False),
        sa.Column("doc_key", sa.String(length=200), nullable=False),
        sa.Column("return_status", sa.Integer(), nullable=False),
        sa.Column("return_info", sa.String(length=5000), nullable=False),
        sa.Column("returned_at", TS, nullable=False),
        sa.Column(
            "fields",
            JSONDOC,
            nullable=False,
        ),
        sa.Column("source_message_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_doc_key"), ["doc_key"], unique=False)
        batch_op.create_index("ix_receipt_recipient_id", ["recipient_code", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_receipt_source_message_id"), ["source_message_id"], unique=False
        )

    op.create_table(
        "window_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sender_code", sa.String(length=18), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=True),
        sa.Column("message_type", sa.String(length=16), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("entity_count", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_message")),
    )
    with op.batch_alter_table("window_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_window_message_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            "uq_window_message_accepted_guid",
            ["sender_code", "guid"],
            unique=True,
            postgresql_where=sa.text("outcome = 'accepted'"),
            sqlite_where=sa.text("outcome = 'accepted'"),
        )

    op.create_table(
        "customs_inventory_line",
        sa.Column(
            "id",
            BIGID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("inventory_id", BIGID, nullable=False),
        sa.Column("gnum", sa.Integer(), nullable=False),
        sa.Column("item_no", sa.String(length=30), nullable=True),
        sa.Column("item_record_no", sa.String(length=30), nullable=True),
        sa.Column("item_name", sa.String(length=250), nullable=True),
        sa.Column("gcode", sa.String(length=10), nullable=False),
        sa.Column("gname", sa.String(length=250), nullable=False),
        sa.Column("gmodel", sa.String(length=250), nullable=True),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=3), nullable=False),
        sa.Column("qty", MONEY, nullable=False),
        sa.Column("unit1", sa.String(length=3), nullable=False),
        sa.Column("qty1", MONEY, nullable=False),
        sa.Column("unit2", sa.String(length=3), nullable=True),
        sa.Column("qty2", MONEY, nullable=True),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("total_price", MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["customs_inventory.id"],
            name=op.f("fk_customs_inventory_line_inventory_id_customs_inventory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_inventory_line")),
        sa.UniqueConstraint(
            "inventory_id", "gnum", name=op.f("uq_customs_inventory_line_inventory_id_gnum")
        ),
    )
    # preNo/invtNo serials: a sequence never blocks concurrent intake on PostgreSQL;
    # SQLite, which has none and serialises writers anyway, counts in a table.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE customs_number_seq")
    else:
        op.execute("INSERT INTO customs_number_counter (name, value) VALUES ('number', 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE customs_number_seq")
    op.drop_table("customs_inventory_line")
    with op.batch_alter_table("window_message", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_window_message_accepted_guid",
            postgresql_where=sa.text("outcome = 'accepted'"),
            sqlite_where=sa.text("outcome = 'accepted'"),
        )
        batch_op.drop_index(batch_op.f("ix_window_message_received_at"))

    op.drop_table("window_message")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_source_message_id"))
        batch_op.drop_index("ix_receipt_recipient_id")
        batch_op.drop_index(batch_op.f("ix_receipt_doc_key"))

    op.drop_table("receipt")
    op.drop_table("customs_number_counter")
    with op.batch_alter_table("customs_inventory", schema=None) as batch_op:
        batch_op.drop_index("ix_customs_inventory_waybill")
        batch_op.drop_index("ix_customs_inventory_order")
        batch_op.drop_index(batch_op.f("ix_customs_inventory_ebc_code"))
        batch_op.drop_index("ix_customs_inventory_customs_status")
        batch_op.drop_index(batch_op.f("ix_customs_inventory_buyer_id_number"))

    op.drop_table("customs_inventory")
    op.drop_table("customs_document")
