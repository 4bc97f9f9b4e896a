from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Document(Base):
    """A declared document other than an inventory list: order, money, waybill, arrival …

    Its head and lines are kept as the enterprise sent them (field name → text); the rules
    that need a field read it from there. Inventory lists, which customs aggregates, have
    typed tables of their own.
    """

    __tablename__ = "customs_document"
    __table_args__ = (
        UniqueConstraint("kind", "direction", "business_key"),
        # Money documents are looked up by kind and the order they pay for (三单对碰, trade
        # lists); an index on ref_key alone let the planner, on stale statistics, scan every
        # payment of a direction through the unique index instead (2.1 ms a list at 4,000).
        Index("ix_customs_document_kind_ref_key", "kind", "ref_key"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(1))
    business_key: Mapped[str] = mapped_column(String(200))
    # What other documents find it by (money documents: the order they pay for).
    ref_key: Mapped[str | None] = mapped_column(String(200))
    guid: Mapped[str] = mapped_column(String(36))
    app_type: Mapped[str] = mapped_column(String(3))
    app_time: Mapped[datetime]
    app_status: Mapped[str] = mapped_column(String(3))
    status: Mapped[int] = mapped_column(Integer)
    pre_no: Mapped[str | None] = mapped_column(String(18), unique=True)
    sender_code: Mapped[str] = mapped_column(String(18))
    message_id: Mapped[UUID] = mapped_column(Uuid)
    head: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Inventory(Base):
    """申报清单: one parcel's declaration, export (603) or import (621)."""

    __tablename__ = "customs_inventory"
    __table_args__ = (
        UniqueConstraint("direction", "agent_code", "cop_no"),
        Index("ix_customs_inventory_order", "ebp_code", "order_no"),
        Index("ix_customs_inventory_waybill", "logistics_code", "logistics_no"),
        Index("ix_customs_inventory_customs_status", "customs_code", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(1))
    guid: Mapped[str] = mapped_column(String(36))
    agent_code: Mapped[str] = mapped_column(String(18))
    cop_no: Mapped[str] = mapped_column(String(60))
    pre_no: Mapped[str] = mapped_column(String(18), unique=True)
    invt_no: Mapped[str | None] = mapped_column(String(20), unique=True)
    ebp_code: Mapped[str] = mapped_column(String(18))
    ebc_code: Mapped[str] = mapped_column(String(18), index=True)
    order_no: Mapped[str] = mapped_column(String(60))
    logistics_code: Mapped[str] = mapped_column(String(18))
    logistics_no: Mapped[str] = mapped_column(String(60))
    customs_code: Mapped[str] = mapped_column(String(4))
    port_code: Mapped[str] = mapped_column(String(4))
    trade_mode: Mapped[str] = mapped_column(String(4))
    statistics_flag: Mapped[str | None] = mapped_column(String(1))
    owner_code: Mapped[str | None] = mapped_column(String(18))
    buyer_id_number: Mapped[str | None] = mapped_column(String(60), index=True)
    country: Mapped[str] = mapped_column(String(3))
    currency: Mapped[str | None] = mapped_column(String(3))
    goods_value: Mapped[Decimal]
    freight: Mapped[Decimal]
    insured_fee: Mapped[Decimal]
    gross_weight: Mapped[Decimal]
    net_weight: Mapped[Decimal]
    pack_no: Mapped[int] = mapped_column(Integer)
    app_type: Mapped[str] = mapped_column(String(3))
    app_time: Mapped[datetime]
    app_status: Mapped[str] = mapped_column(String(3))
    status: Mapped[int] = mapped_column(Integer)
    status_at: Mapped[datetime]
    sender_code: Mapped[str] = mapped_column(String(18))
    message_id: Mapped[UUID] = mapped_column(Uuid)
    head: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    # 三单对碰: a declared list waits (status 2) for its partners until this time.
    match_deadline: Mapped[datetime | None]
    lane: Mapped[str | None] = mapped_column(String(8))
    # Set by the SLA clock's event; the officers' queue is worked earliest deadline first.
    sla_deadline: Mapped[datetime | None]
    # Joint release (三个一): customs releases only when inspection has cleared the list.
    inspection_state: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[UUID | None] = mapped_column(Uuid)
    claimed_at: Mapped[datetime | None]
    quota_charged: Mapped[Decimal | None]
    customs_tax: Mapped[Decimal | None]
    vat: Mapped[Decimal | None]
    consumption_tax: Mapped[Decimal | None]
    full_tax: Mapped[bool] = mapped_column(Boolean, default=False)
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InventoryLine(Base):
    __tablename__ = "customs_inventory_line"
    __table_args__ = (UniqueConstraint("inventory_id", "gnum"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(
        ForeignKey("customs_inventory.id", ondelete="CASCADE")
    )
    gnum: Mapped[int] = mapped_column(Integer)
    item_no: Mapped[str | None] = mapped_column(String(30))
    item_record_no: Mapped[str | None] = mapped_column(String(30))
    item_name: Mapped[str | None] = mapped_column(String(250))
    gcode: Mapped[str] = mapped_column(String(10))
    gname: Mapped[str] = mapped_column(String(250))
    gmodel: Mapped[str | None] = mapped_column(String(250))
    country: Mapped[str] = mapped_column(String(3))
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(3))
    qty: Mapped[Decimal]
    unit1: Mapped[str] = mapped_column(String(3))
    qty1: Mapped[Decimal]
    unit2: Mapped[str | None] = mapped_column(String(3))
    qty2: Mapped[Decimal | None]
    price: Mapped[Decimal]
    total_price: Mapped[Decimal]
    customs_tax: Mapped[Decimal | None]
    vat: Mapped[Decimal | None]
    consumption_tax: Mapped[Decimal | None]


class NumberCounter(Base):
    """Serial numbers for preNo/invtNo where the database has no sequences (SQLite)."""

    __tablename__ = "customs_number_counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Decision(Base):
    """Why a list moved: the lane and the rules that chose it, or an officer's action.

    Stores what is needed to explain and reproduce it: rule ids and rule-set version, the
    random seed of a draw, a hash of the inputs, the actor and the reason.
    """

    __tablename__ = "customs_decision"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    inventory_id: Mapped[int] = mapped_column(
        ForeignKey("customs_inventory.id", ondelete="CASCADE"), index=True
    )
    agency: Mapped[str] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(20))
    lane: Mapped[str | None] = mapped_column(String(8))
    from_status: Mapped[int] = mapped_column(Integer)
    to_status: Mapped[int] = mapped_column(Integer)
    rule_ids: Mapped[list[str]] = mapped_column(JSONDoc)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[str | None] = mapped_column(String(64))
    inputs_hash: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(1000))
    internal: Mapped[bool] = mapped_column(Boolean, default=True)
    source_event_id: Mapped[UUID | None] = mapped_column(Uuid, unique=True)
    at: Mapped[datetime]


class RuleSet(Base):
    """A version of the risk rules, stored as data; the newest is in force."""

    __tablename__ = "customs_rule_set"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BuyerQuota(Base):
    """What a buyer (by id number) has used of the yearly cross-border retail import limit."""

    __tablename__ = "customs_buyer_quota"

    buyer_id_number: Mapped[str] = mapped_column(String(60), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    used: Mapped[Decimal]


class TaxRate(Base):
    """Import tax rates by HS code prefix; the longest matching prefix applies."""

    __tablename__ = "customs_tax_rate"

    hs_prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    duty_rate: Mapped[Decimal]
    vat_rate: Mapped[Decimal]
    consumption_rate: Mapped[Decimal]
    note: Mapped[str | None] = mapped_column(String(200))


class Summary(Base):
    """汇总申请 (701): released B export lists consolidated into customs declarations.

    One row per version: a change (appType 2) supersedes the live version with a new one
    under the same sumNo, a delete (appType 3) withdraws it; either frees its lists.
    """

    __tablename__ = "customs_summary"
    __table_args__ = (
        UniqueConstraint("sum_no", "version"),
        Index("ix_customs_summary_agent_cop", "agent_code", "cop_no"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    sum_no: Mapped[str] = mapped_column(String(18))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    guid: Mapped[str] = mapped_column(String(36))
    customs_code: Mapped[str] = mapped_column(String(4))
    cop_no: Mapped[str] = mapped_column(String(30))
    agent_code: Mapped[str] = mapped_column(String(18))
    agent_name: Mapped[str] = mapped_column(String(100))
    ebc_code: Mapped[str] = mapped_column(String(18))
    ebc_name: Mapped[str] = mapped_column(String(100))
    decl_agent_code: Mapped[str] = mapped_column(String(18))
    decl_agent_name: Mapped[str] = mapped_column(String(100))
    summary_flag: Mapped[str] = mapped_column(String(1))
    item_name_flag: Mapped[str] = mapped_column(String(1))
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(1000))
    list_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SummaryDeclaration(Base):
    """One future customs declaration of a summary (a SummaryResult with its declSeqNo)."""

    __tablename__ = "customs_summary_declaration"
    __table_args__ = (UniqueConstraint("summary_id", "seq"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    summary_id: Mapped[int] = mapped_column(ForeignKey("customs_summary.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    decl_seq_no: Mapped[str] = mapped_column(String(18), unique=True)
    ebc_code: Mapped[str] = mapped_column(String(18))
    owner_code: Mapped[str | None] = mapped_column(String(18))
    traf_mode: Mapped[str | None] = mapped_column(String(1))
    arrival_country: Mapped[str] = mapped_column(String(3))
    port_code: Mapped[str] = mapped_column(String(4))
    gross_weight: Mapped[Decimal]
    net_weight: Mapped[Decimal]
    list_count: Mapped[int] = mapped_column(Integer)
    dec_state: Mapped[str] = mapped_column(String(3))
    # Set once the declaration is filed; from then on the summary can no longer change.
    entry_id: Mapped[str | None] = mapped_column(String(18))


class SummaryLine(Base):
    """A declaration item (gseqno): the list lines sharing its grouping keys, summed."""

    __tablename__ = "customs_summary_line"
    __table_args__ = (UniqueConstraint("declaration_id", "gseqno"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("customs_summary_declaration.id", ondelete="CASCADE")
    )
    gseqno: Mapped[int] = mapped_column(Integer)
    country: Mapped[str] = mapped_column(String(3))
    gcode: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(3))
    item_name: Mapped[str | None] = mapped_column(String(250))
    gname: Mapped[str] = mapped_column(String(250))
    unit1: Mapped[str] = mapped_column(String(3))
    unit2: Mapped[str | None] = mapped_column(String(3))
    qty: Mapped[Decimal]
    qty1: Mapped[Decimal]
    qty2: Mapped[Decimal | None]
    total_price: Mapped[Decimal]
    line_count: Mapped[int] = mapped_column(Integer)


class SummaryMember(Base):
    """A list consolidated by a summary, and the declaration (by seq) it went into."""

    __tablename__ = "customs_summary_member"

    summary_id: Mapped[int] = mapped_column(
        ForeignKey("customs_summary.id", ondelete="CASCADE"), primary_key=True
    )
    inventory_id: Mapped[int] = mapped_column(ForeignKey("customs_inventory.id"), primary_key=True)
    declaration_seq: Mapped[int] = mapped_column(Integer)
    live: Mapped[bool] = mapped_column(Boolean)


# A list belongs to at most one live summary: two 701s racing for it cannot both commit.
Index(
    "uq_customs_summary_member_live",
    SummaryMember.inventory_id,
    unique=True,
    postgresql_where=SummaryMember.live,
    sqlite_where=SummaryMember.live,
)
