"""customs documents: money documents indexed by (kind, ref_key), the lookup 三单对碰 makes

Revision ID: 0012_document_ref_index
Revises: 0011_receipt_positions
Create Date: 2026-11-29 17:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_document_ref_index"
down_revision: str | None = "0011_receipt_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built without blocking intake on PostgreSQL: CONCURRENTLY runs outside a transaction.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_customs_document_kind_ref_key",
            "customs_document",
            ["kind", "ref_key"],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_customs_document_ref_key",
            table_name="customs_document",
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_customs_document_ref_key",
            "customs_document",
            ["ref_key"],
            unique=False,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_customs_document_kind_ref_key",
            table_name="customs_document",
            postgresql_concurrently=True,
        )
