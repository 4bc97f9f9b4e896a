"""sla: the 24-hour clock per inventory list, arrivals by waybill, at-risk and breach alerts

Revision ID: 0007_sla
Revises: 0006_forex
Create Date: 2026-11-29 14:06:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("state IN ('pending', 'running')")
RUNNING = sa.text("state = 'running'")
BREACH_DUE = sa.text("state = 'running' AND breached_alerted_at IS NULL")
RISK_DUE = sa.text(
    "state = 'running' AND at_risk_alerted_at IS NULL AND breached_alerted_at IS NULL"
)

revision: str = "0007_sla"
down_revision: str | None = "0006_forex"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_clock",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("inventory_id", sa.BigInteger(), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("direction", sa.String(length=1), nullable=False),
        sa.Column("trade_mode", sa.String(length=4), nullable=True),
        sa.Column("logistics_code", sa.String(length=18), nullable=True),
        sa.Column("logistics_no", sa.String(length=60), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("arrived_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("deadline", TS, nullable=True),
        sa.Column("stopped_at", TS, nullable=True),
        sa.Column("end_status", sa.Integer(), nullable=True),
        sa.Column("clearance_s", sa.Integer(), nullable=True),
        sa.Column("review_since", TS, nullable=True),
        sa.Column("enterprise_wait_s", sa.Integer(), nullable=False),
        sa.Column("at_risk_alerted_at", TS, nullable=True),
        sa.Column("breached_alerted_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clock")),
        sa.UniqueConstraint("inventory_id", name=op.f("uq_sla_clock_inventory_id")),
    )
    op.create_index(
        "ix_sla_clock_open",
        "sla_clock",
        ["customs_code", "state", "deadline"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    for name, where in (
        ("ix_sla_clock_running", RUNNING),
        ("ix_sla_clock_breach_due", BREACH_DUE),
        ("ix_sla_clock_risk_due", RISK_DUE),
    ):
        op.create_index(name, "sla_clock", ["deadline"], postgresql_where=where, sqlite_where=where)
    op.create_index(
        "ix_sla_clock_open_waybill",
        "sla_clock",
        ["logistics_code", "logistics_no"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(
        "ix_sla_clock_code_stopped",
        "sla_clock",
        ["customs_code", "stopped_at"],
        postgresql_include=["state", "deadline", "clearance_s", "enterprise_wait_s"],
    )
    op.create_table(
        "sla_arrival",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("logistics_code", sa.String(length=18), nullable=False),
        sa.Column("logistics_no", sa.String(length=60), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_arrival")),
        sa.UniqueConstraint(
            "logistics_code",
            "logistics_no",
            name=op.f("uq_sla_arrival_logistics_code_logistics_no"),
        ),
    )
    op.create_table(
        "sla_alert",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("inventory_id", sa.BigInteger(), nullable=False),
        sa.Column("invt_no", sa.String(length=20), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_alert")),
        sa.UniqueConstraint("event_id", name=op.f("uq_sla_alert_event_id")),
        sa.UniqueConstraint("inventory_id", "kind", name=op.f("uq_sla_alert_inventory_id_kind")),
    )
    op.create_index("ix_sla_alert_code_id", "sla_alert", ["customs_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_sla_alert_code_id", table_name="sla_alert")
    op.drop_table("sla_alert")
    op.drop_table("sla_arrival")
    op.drop_index("ix_sla_clock_code_stopped", table_name="sla_clock")
    op.drop_index("ix_sla_clock_open_waybill", table_name="sla_clock")
    op.drop_index("ix_sla_clock_risk_due", table_name="sla_clock")
    op.drop_index("ix_sla_clock_breach_due", table_name="sla_clock")
    op.drop_index("ix_sla_clock_running", table_name="sla_clock")
    op.drop_index("ix_sla_clock_open", table_name="sla_clock")
    op.drop_table("sla_clock")
