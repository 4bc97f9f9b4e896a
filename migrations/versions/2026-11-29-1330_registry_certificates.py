"""registry: signing certificates filed by enterprises

Revision ID: 0004_certificates
Revises: 0003_customs_lifecycle
Create Date: 2026-11-29 13:30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_certificates"
down_revision: str | None = "0003_customs_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registry_certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=False),
        sa.Column("serial", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("key_algorithm", sa.String(8), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("not_after", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["registry_enterprise.code"],
            name="fk_registry_certificate_enterprise_code_registry_enterprise",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registry_certificate"),
        sa.UniqueConstraint(
            "enterprise_code", "serial", name="uq_registry_certificate_enterprise_code_serial"
        ),
    )


def downgrade() -> None:
    op.drop_table("registry_certificate")
