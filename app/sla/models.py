from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import BigInteger, Index, Integer, Sequence, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.feeds import unpublished_index

_ID = BigInteger().with_variant(Integer(), "sqlite")
# The alert id's own sequence (BIGSERIAL) on PostgreSQL: alert positions are drawn from it.
ALERT_NUMBERS = Sequence("sla_alert_id_seq")
# Partial indexes keep only the open lists (about 1 % of all at any time), the only ones ever
# asked "how much time is left?", and of those the ones an alert may still be due for.
# Queries spell the states as literals so that both databases match them to these indexes.
_OPEN = text("state IN ('pending', 'running')")
_RUNNING = text("state = 'running'")
_BREACH_DUE = text("state = 'running' AND breached_alerted_at IS NULL")
_RISK_DUE = text("state = 'running' AND at_risk_alerted_at IS NULL AND breached_alerted_at IS NULL")


class ClockState(StrEnum):
    PENDING = "pending"  # accepted, goods not yet at the site (or acceptance not yet seen)
    RUNNING = "running"
    RELEASED = "released"
    ENDED = "ended"  # rejected, returned or cancelled: stopped without a release


class Clock(Base):
    """The 24-hour clearance clock of one inventory list (customs' list, referenced by id).

    Times are the business times of the events that moved it (window receipt of the arrival,
    customs' acceptance, the status change), never the time a worker got round to them.
    """

    __tablename__ = "sla_clock"
    __table_args__ = (
        Index(
            "ix_sla_clock_open",
            "customs_code",
            "state",
            "deadline",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # Earliest deadline first across many customs codes, without sorting them all.
        Index("ix_sla_clock_running", "deadline", postgresql_where=_RUNNING, sqlite_where=_RUNNING),
        Index(
            "ix_sla_clock_breach_due",
            "deadline",
            postgresql_where=_BREACH_DUE,
            sqlite_where=_BREACH_DUE,
        ),
        Index(
            "ix_sla_clock_risk_due", "deadline", postgresql_where=_RISK_DUE, sqlite_where=_RISK_DUE
        ),
        Index(
            "ix_sla_clock_open_waybill",
            "logistics_code",
            "logistics_no",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # Statistics of a day or a week read the index alone (PostgreSQL index-only scan).
        Index(
            "ix_sla_clock_code_stopped",
            "customs_code",
            "stopped_at",
            postgresql_include=["state", "deadline", "clearance_s", "enterprise_wait_s"],
        ),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    invt_no: Mapped[str] = mapped_column(String(20))
    customs_code: Mapped[str] = mapped_column(String(4))
    direction: Mapped[str] = mapped_column(String(1))
    # Unknown until the acceptance is seen (a cancel can overtake it between two relays).
    trade_mode: Mapped[str | None] = mapped_column(String(4))
    logistics_code: Mapped[str | None] = mapped_column(String(18))
    logistics_no: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(10))
    accepted_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    deadline: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    end_status: Mapped[int | None] = mapped_column(Integer)
    # Start to release; 0 when customs released before the goods reached the site.
    clearance_s: Mapped[int | None] = mapped_column(Integer)
    # Waiting on the enterprise: time in review (300) while the clock ran; shown, not deducted.
    review_since: Mapped[datetime | None]
    enterprise_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    at_risk_alerted_at: Mapped[datetime | None]
    breached_alerted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Arrival(Base):
    """Goods on a waybill reached a supervision site (507 arrival or 711 delivery), first time.

    Kept so that a list accepted after its goods arrived starts its clock at acceptance.
    """

    __tablename__ = "sla_arrival"
    __table_args__ = (UniqueConstraint("logistics_code", "logistics_no"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    logistics_code: Mapped[str] = mapped_column(String(18))
    logistics_no: Mapped[str] = mapped_column(String(60))
    customs_code: Mapped[str] = mapped_column(String(4))
    arrived_at: Mapped[datetime]
    source_event_id: Mapped[UUID] = mapped_column(Uuid)


class Alert(Base):
    """A list became at risk or breached its deadline: one row per list and kind, ever."""

    __tablename__ = "sla_alert"
    __table_args__ = (
        UniqueConstraint("inventory_id", "kind"),
        Index("ix_sla_alert_code_position", "customs_code", "position"),
        unpublished_index("ix_sla_alert_unpublished"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(BigInteger)
    invt_no: Mapped[str] = mapped_column(String(20))
    customs_code: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[datetime]
    raised_at: Mapped[datetime]
    event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    # Where the alert stands in the alert feed (the cursor of GET /sla/alerts and of the
    # subscriptions), in commit order; None until published (app.feeds).
    position: Mapped[int | None] = mapped_column(BigInteger)
