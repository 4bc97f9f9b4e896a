"""registry, outbox and audit log

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-29 12:51
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_registry"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSONDOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE at the database, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{table} is append-only'; END $$;
            CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
            """
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_no_update ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")
    else:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject_type", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(80), nullable=False),
        sa.Column("detail", JSONDOC, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])
    op.create_index("ix_audit_entry_subject_id", "audit_entry", ["subject_id"])
    _append_only("audit_entry")

    op.create_table(
        "outbox_message",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", JSONDOC, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_message"),
        sa.UniqueConstraint("event_id", name="uq_outbox_message_event_id"),
    )
    op.create_index(
        "ix_outbox_message_pending",
        "outbox_message",
        ["available_at"],
        postgresql_where=sa.text("processed_at IS NULL AND failed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL AND failed_at IS NULL"),
    )

    op.create_table(
        "registry_enterprise",
        sa.Column("code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("roles", JSONDOC, nullable=False),
        sa.Column("credit_class", sa.String(16), nullable=False),
        sa.Column("fx_directory_status", sa.String(16), nullable=False),
        sa.Column("fx_class", sa.String(1), nullable=True),
        sa.Column("callback_url", sa.String(500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_registry_enterprise"),
    )
    op.create_table(
        "registry_bank_mandate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=False),
        sa.Column("bank_code", sa.String(32), nullable=False),
        sa.Column("exception_kind", sa.String(32), nullable=True),
        sa.Column("collecting_entity", sa.String(100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["registry_enterprise.code"],
            name="fk_registry_bank_mandate_enterprise_code_registry_enterprise",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registry_bank_mandate"),
        sa.UniqueConstraint(
            "enterprise_code",
            "bank_code",
            name="uq_registry_bank_mandate_enterprise_code_bank_code",
        ),
    )
    op.create_index("ix_registry_bank_mandate_bank_code", "registry_bank_mandate", ["bank_code"])
    op.create_table(
        "registry_principal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("enterprise_code", sa.String(18), nullable=True),
        sa.Column("agency", sa.String(16), nullable=True),
        sa.Column("customs_codes", JSONDOC, nullable=False),
        sa.Column("bank_code", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["registry_enterprise.code"],
            name="fk_registry_principal_enterprise_code_registry_enterprise",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registry_principal"),
        sa.UniqueConstraint("bank_code", name="uq_registry_principal_bank_code"),
        sa.UniqueConstraint("enterprise_code", name="uq_registry_principal_enterprise_code"),
    )
    op.create_table(
        "registry_api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["registry_principal.id"],
            name="fk_registry_api_key_principal_id_registry_principal",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_registry_api_key"),
        sa.UniqueConstraint("key_hash", name="uq_registry_api_key_key_hash"),
    )
    op.create_index("ix_registry_api_key_principal_id", "registry_api_key", ["principal_id"])


def downgrade() -> None:
    op.drop_table("registry_api_key")
    op.drop_table("registry_principal")
    op.drop_table("registry_bank_mandate")
    op.drop_table("registry_enterprise")
    op.drop_table("outbox_message")
    _drop_append_only("audit_entry")
    op.drop_table("audit_entry")
