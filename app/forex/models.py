from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Sequence,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.db import Base, JSONDoc, utcnow
from app.feeds import unpublished_index

_ID = BigInteger().with_variant(Integer(), "sqlite")
# The alert id's own sequence (BIGSERIAL) on PostgreSQL: alert positions are drawn from it.
ALERT_NUMBERS = Sequence("forex_alert_id_seq")
RATE_SCALE = 8
_RATE_FACTOR = Decimal(10) ** RATE_SCALE


class ExactRate(TypeDecorator[Decimal]):
    """An exchange rate with 8 decimals (100 JPY = 4.7853 CNY is 0.047853 a yen).

    Like ``app.db.Money``: NUMERIC on PostgreSQL, a scaled integer on SQLite so it stays exact.
    """

    impl = Numeric(19, RATE_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(19, RATE_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int((Decimal(value) * _RATE_FACTOR).to_integral_exact())
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / _RATE_FACTOR).quantize(Decimal(1).scaleb(-RATE_SCALE))
        return Decimal(value)


class ExchangeRate(Base):
    """CNY for one unit of a currency (customs code), in force from its effective date."""

    __tablename__ = "forex_rate"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    effective_date: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(ExactRate())
    loaded_by: Mapped[str] = mapped_column(String(120))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Policy(Base):
    """A version of the banks' check settings; the newest is in force."""

    __tablename__ = "forex_policy"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tolerance: Mapped[Decimal]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ledger(Base):
    """The uniqueness ledger of one trade list: how much of its value backs settlements.

    The CHECK keeps the sum within the value whatever the code does; writers lock the row.
    """

    __tablename__ = "forex_ledger"
    __table_args__ = (
        CheckConstraint("allocated >= 0 AND allocated <= value", name="within_value"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    # customs' list id; no foreign key, so the modules' tables stay separable
    inventory_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    invt_no: Mapped[str] = mapped_column(String(20), unique=True)
    direction: Mapped[str] = mapped_column(String(1))
    ebc_code: Mapped[str] = mapped_column(String(18), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    value: Mapped[Decimal]
    allocated: Mapped[Decimal]
    # returned abroad (700), cancelled (1001) or refunded (退货) after customs released it
    returned_kind: Mapped[str | None] = mapped_column(String(12))
    returned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerLine(Base):
    """One list line's share of the ledger, for settlements that name the goods they pay for."""

    __tablename__ = "forex_ledger_line"
    __table_args__ = (
        CheckConstraint("allocated >= 0 AND allocated <= value", name="within_value"),
    )

    ledger_id: Mapped[int] = mapped_column(ForeignKey("forex_ledger.id"), primary_key=True)
    gnum: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3))
    value: Mapped[Decimal]
    allocated: Mapped[Decimal]


class CheckRecord(Base):
    """Every evaluation a bank asked for (dry run or settlement): rules, inputs, outcome."""

    __tablename__ = "forex_check"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bank_code: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    invt_no: Mapped[str] = mapped_column(String(20))
    bank_ref: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    policy_version: Mapped[int] = mapped_column(Integer)
    checked_at: Mapped[datetime]


class Settlement(Base):
    """A bank's 收结汇 or 购付汇 against one trade list, idempotent by its bankRef."""

    __tablename__ = "forex_settlement"
    __table_args__ = (UniqueConstraint("bank_code", "bank_ref"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    bank_code: Mapped[str] = mapped_column(String(32))
    bank_ref: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    invt_no: Mapped[str] = mapped_column(String(20), index=True)
    enterprise_code: Mapped[str] = mapped_column(String(18))
    account_holder: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str | None] = mapped_column(String(8))
    ledger_id: Mapped[int | None] = mapped_column(ForeignKey("forex_ledger.id"))
    allocated: Mapped[Decimal | None]
    list_currency: Mapped[str | None] = mapped_column(String(3))
    amount_usd: Mapped[Decimal | None]
    # the enterprise's year-to-date row this settlement counts in (to undo on reversal)
    ytd_year: Mapped[int | None] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("forex_check.id"))
    created_at: Mapped[datetime]
    reversed_at: Mapped[datetime | None]
    reversal_reason: Mapped[str | None] = mapped_column(String(1000))


class Allocation(Base):
    """The ledger's journal: what each settlement took from a list (line); reversals add back."""

    __tablename__ = "forex_allocation"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    settlement_id: Mapped[UUID] = mapped_column(ForeignKey("forex_settlement.id"), index=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("forex_ledger.id"), index=True)
    gnum: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal]
    at: Mapped[datetime]


class EnterpriseTotal(Base):
    """An enterprise's settled USD per calendar year (China time) and direction, for 名录."""

    __tablename__ = "forex_enterprise_total"
    __table_args__ = (CheckConstraint("usd_total >= 0", name="not_negative"),)

    enterprise_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    direction: Mapped[str] = mapped_column(String(1), primary_key=True)
    usd_total: Mapped[Decimal]


class Alert(Base):
    """A list that backed a bank's settlements was returned or cancelled afterwards."""

    __tablename__ = "forex_alert"
    __table_args__ = (
        UniqueConstraint("source_event_id", "bank_code"),
        Index("ix_forex_alert_bank_code_position", "bank_code", "position"),
        unpublished_index("ix_forex_alert_unpublished"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bank_code: Mapped[str] = mapped_column(String(32))
    invt_no: Mapped[str] = mapped_column(String(20))
    ebc_code: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(12))
    allocated: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    settlement_ids: Mapped[list[str]] = mapped_column(JSONDoc)
    source_event_id: Mapped[UUID] = mapped_column(Uuid)
    raised_at: Mapped[datetime]
    # Where the alert stands in the alert feed (the cursor of GET /forex/alerts), in commit
    # order; None until published (app.feeds).
    position: Mapped[int | None] = mapped_column(BigInteger)
