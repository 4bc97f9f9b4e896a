from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow

_ID = BigInteger().with_variant(Integer(), "sqlite")
# A filing in one of these states blocks a second one for the same enterprise or goods.
_LIVE = text("status IN ('received', 'approved')")


class EnterpriseFiling(Base):
    """企业备案: an enterprise files with inspection before doing business; valid nationwide."""

    __tablename__ = "inspection_enterprise_filing"
    __table_args__ = (
        Index(
            "uq_inspection_enterprise_filing_live",
            "enterprise_code",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    enterprise_code: Mapped[str] = mapped_column(String(18), index=True)
    customs_code: Mapped[str] = mapped_column(String(4), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(30))
    business_scope: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GoodsFiling(Base):
    """商品备案: what an e-commerce enterprise will sell, filed before its first list."""

    __tablename__ = "inspection_goods_filing"
    __table_args__ = (
        Index(
            "uq_inspection_goods_filing_live",
            "enterprise_code",
            "item_no",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        Index("ix_inspection_goods_filing_match", "enterprise_code", "hs_code", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    enterprise_code: Mapped[str] = mapped_column(String(18))
    enterprise_filing_id: Mapped[int] = mapped_column(_ID)
    customs_code: Mapped[str] = mapped_column(String(4), index=True)
    item_no: Mapped[str] = mapped_column(String(30))
    hs_code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(250))
    brand: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(250))
    origin_country: Mapped[str] = mapped_column(String(3))
    manufacturer: Mapped[str] = mapped_column(String(200))
    supplier: Mapped[str] = mapped_column(String(200))
    ingredients: Mapped[str] = mapped_column(String(1000))
    conformity_statement: Mapped[str] = mapped_column(String(1000))
    # Set by the reviewing officer: the sampling tier, and whether the goods need quarantine.
    risk_tier: Mapped[str] = mapped_column(String(8))
    quarantine: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ListVersion(Base):
    """One version of a rule list (negative, positive, bans, sampling); the newest is in force."""

    __tablename__ = "inspection_list_version"

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Screening(Base):
    """Inspection's decision on one accepted list, with everything needed to explain it.

    The list versions, the credit class, tier and rate, and the seed reproduce the draw.
    """

    __tablename__ = "inspection_screening"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(_ID)
    # A list refused and declared again is accepted under a new invtNo, and screened anew.
    invt_no: Mapped[str] = mapped_column(String(20), unique=True)
    direction: Mapped[str] = mapped_column(String(1))
    customs_code: Mapped[str] = mapped_column(String(4))
    trade_mode: Mapped[str] = mapped_column(String(4))
    ebc_code: Mapped[str] = mapped_column(String(18))
    # rejected | quarantine (a task, always) | selected (a task) | not_selected | cleared
    outcome: Mapped[str] = mapped_column(String(12))
    rule_ids: Mapped[list[str]] = mapped_column(JSONDoc)
    reason: Mapped[str] = mapped_column(String(1000))
    list_versions: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    credit_class: Mapped[str | None] = mapped_column(String(16))
    risk_tier: Mapped[str | None] = mapped_column(String(8))
    rate: Mapped[Decimal | None]
    seed: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[UUID | None] = mapped_column(Uuid)
    source_event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    decided_at: Mapped[datetime]


class Task(Base):
    """An inspection of one list; a joint one when customs examines it too (one, never two)."""

    __tablename__ = "inspection_task"
    __table_args__ = (Index("ix_inspection_task_queue", "customs_code", "status", "opened_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    inventory_id: Mapped[int] = mapped_column(_ID)
    invt_no: Mapped[str] = mapped_column(String(20), unique=True)
    direction: Mapped[str] = mapped_column(String(1))
    customs_code: Mapped[str] = mapped_column(String(4))
    ebc_code: Mapped[str] = mapped_column(String(18))
    joint: Mapped[bool] = mapped_column(Boolean, default=False)
    # open → passed | failed (an officer's result) | closed (customs ended the list)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(1000))
    disposal: Mapped[str | None] = mapped_column(String(12))
    result_reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    opened_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class CustomsExamination(Base):
    """Customs put the list to physical examination (500); a task opened for it is joint."""

    __tablename__ = "inspection_customs_examination"

    invt_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    source_event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    at: Mapped[datetime]
