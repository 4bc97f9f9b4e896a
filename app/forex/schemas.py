from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from app.schemas import Schema

# Customs currency codes (JGS-20), as the trade lists carry them: 142 CNY, 502 USD, 116 JPY …
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
Amount = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=5)]
Rate = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=8)]


class Outcome(StrEnum):
    """Ordered by severity: a check's outcome is the worst of its rules'."""

    PASS = "PASS"  # noqa: S105 - an outcome, not a password
    WARN = "WARN"
    HOLD = "HOLD"
    REJECT = "REJECT"


class SettlementKind(StrEnum):
    COLLECTION = "collection"  # 收结汇: export proceeds, against an export (E) list
    PAYMENT = "payment"  # 购付汇: import payment, against an import (I) list


class SettlementStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    HELD = "held"
    REJECTED = "rejected"
    REVERSED = "reversed"


class NettingKind(StrEnum):
    """Costs SAFE lets an exporter net against proceeds abroad (汇发〔2020〕11号)."""

    OVERSEAS_WAREHOUSING = "overseas_warehousing"
    LOGISTICS = "logistics"
    TAX = "tax"


class NettingItem(Schema):
    kind: NettingKind
    amount: Amount
    currency: CurrencyCode


class LineShare(Schema):
    gnum: int = Field(ge=1)
    amount: Amount = Field(description="in the line's currency")


class CheckRequest(Schema):
    """What a bank wants to settle against one trade list."""

    kind: SettlementKind
    invt_no: str = Field(min_length=1, max_length=20)
    amount: Amount = Field(description="collected (net of netting) or paid, in `currency`")
    currency: CurrencyCode
    account_holder: str = Field(
        min_length=1, max_length=100, description="code (or name) of the bank account's holder"
    )
    value_date: date | None = Field(None, description="rates of this day; default today (UTC+8)")
    netting: list[NettingItem] = Field(default_factory=list, max_length=20)
    lines: list[LineShare] = Field(
        default_factory=list, max_length=100, description="the goods lines this money backs"
    )
    safe_registration_no: str | None = Field(
        None, max_length=64, description="SAFE's per-transaction registration (class C)"
    )

    @model_validator(mode="after")
    def _netting_is_for_exports(self) -> "CheckRequest":
        if self.netting and self.kind is not SettlementKind.COLLECTION:
            raise ValueError("netting applies to export collections only")
        gnums = [line.gnum for line in self.lines]
        if len(gnums) != len(set(gnums)):
            raise ValueError("a line appears twice")
        return self


class SettlementCreate(CheckRequest):
    bank_ref: str = Field(
        min_length=1, max_length=64, description="the bank's own reference; makes retries safe"
    )


class Reversal(Schema):
    reason: str = Field(min_length=2, max_length=1000)


class RuleResult(Schema):
    id: str
    outcome: Outcome
    explanation: str
    inputs: dict[str, Any] = Field(default_factory=dict)


class CheckResult(Schema):
    check_id: int
    invt_no: str
    outcome: Outcome
    rules: list[RuleResult]
    allocatable: Decimal | None = Field(description="what a settlement would take, list currency")
    list_currency: str | None
    amount_usd: Decimal | None
    policy_version: int
    checked_at: datetime


class SettlementRead(Schema):
    id: UUID
    bank_ref: str
    kind: SettlementKind
    invt_no: str
    enterprise_code: str
    account_holder: str
    amount: Decimal
    currency: str
    value_date: date
    status: SettlementStatus
    outcome: Outcome
    allocated: Decimal | None = Field(description="taken from the list's value, list currency")
    list_currency: str | None
    amount_usd: Decimal | None
    flagged: bool = Field(description="above USD 100,000: checked against customs data")
    rules: list[RuleResult]
    created_at: datetime
    reversed_at: datetime | None
    reversal_reason: str | None


class CurrencyValue(Schema):
    currency: str
    amount: Decimal


class TradeListLineView(Schema):
    gnum: int
    gcode: str
    gname: str
    currency: str
    value: Decimal
    unallocated: Decimal


class TradeListView(Schema):
    """A released list as a mandated bank sees it; personal data masked."""

    invt_no: str
    direction: str
    status: int
    ebc_code: str
    ebp_code: str
    order_no: str
    customs_code: str
    released_at: datetime | None
    currency: str
    value: Decimal = Field(description="goods + freight + insurance, list currency")
    values: list[CurrencyValue] = Field(description="the value per currency")
    allocated: Decimal
    unallocated: Decimal
    returned: str | None = Field(description="returned, cancelled or refunded after release")
    buyer_id_number: str | None
    lines: list[TradeListLineView]
    order: dict[str, str] | None
    money_documents: list[dict[str, str]] = Field(description="linked 403 / 411 heads")


class TradeListPage(Schema):
    trade_lists: list[TradeListView]
    next_after: int | None = Field(description="cursor for the next page; null at the end")


class AlertRead(Schema):
    id: int
    # The alert's place in the feed, in commit order: ``after`` of GET /forex/alerts.
    position: int
    bank_code: str
    invt_no: str
    ebc_code: str
    kind: str
    allocated: Decimal
    currency: str
    settlement_ids: list[str]
    raised_at: datetime


class AlertPage(Schema):
    alerts: list[AlertRead]
    next_after: int | None


class RateItem(Schema):
    currency: CurrencyCode
    effective_date: date
    rate: Rate = Field(description="CNY for one unit of the currency")


class RatesLoad(Schema):
    rates: list[RateItem] = Field(min_length=1, max_length=10_000)


class RateRead(RateItem):
    model_config = Schema.model_config | {"extra": "ignore"}

    loaded_by: str
    loaded_at: datetime


class RatesLoaded(Schema):
    loaded: int


class PolicyBody(Schema):
    tolerance: Decimal = Field(
        ge=0, le=Decimal("0.1"), decimal_places=5, description="share of a value, e.g. 0.01"
    )


class PolicyRead(PolicyBody):
    version: int
