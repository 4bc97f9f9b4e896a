from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, computed_field, model_validator

from app.registry.schemas import CreditClass
from app.schemas import Schema

CustomsCode = Annotated[str, Field(pattern=r"^\d{4}$")]
Country = Annotated[str, Field(pattern=r"^\d{3}$", description="JGS-20 country code")]
HsPrefix = Annotated[str, Field(pattern=r"^\d{2,10}$", description="HS code or its prefix")]
Reason = Annotated[str, Field(min_length=2, max_length=500)]
EntryId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_.:-]+$")]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=8, decimal_places=5)]
Direction = Literal["I", "E"]
Factor = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=5)]


class FilingStatus(StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    INVALIDATED = "invalidated"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


TIER_ORDER = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2}


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class InvalidationGround(StrEnum):
    """Why an approved filing is void (AQSIQ 2016 rules)."""

    FALSE_DATA = "false_data"
    MISMATCH = "mismatch"  # differs materially from what the platform shows
    PROHIBITED = "prohibited"


class TaskOutcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an inspection outcome, not a password
    FAIL = "fail"


class Disposal(StrEnum):
    """What happens to goods that failed: 退运 (700), 销毁, 整改."""

    RETURN = "return"
    DESTROY = "destroy"
    RECTIFY = "rectify"


# ---------------------------------------------------------------- filings


class EnterpriseFilingCreate(Schema):
    customs_code: CustomsCode = Field(description="the district the filing is made in")
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(min_length=1, max_length=200)
    contact: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=30)
    business_scope: str | None = Field(None, max_length=500)


class EnterpriseFilingRead(Schema):
    id: int
    enterprise_code: str
    customs_code: str
    name: str
    address: str
    contact: str
    phone: str
    business_scope: str | None
    status: FilingStatus
    reason: str | None
    decided_at: datetime | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def filing_no(self) -> str:
        return enterprise_filing_no(self.id)


class GoodsFilingCreate(Schema):
    item_no: str = Field(min_length=1, max_length=30, description="the enterprise's goods no.")
    hs_code: str = Field(pattern=r"^\d{10}$")
    name: str = Field(min_length=1, max_length=250)
    brand: str = Field(min_length=1, max_length=100)
    model: str = Field(min_length=1, max_length=250)
    origin_country: Country
    manufacturer: str = Field(min_length=1, max_length=200)
    supplier: str = Field(min_length=1, max_length=200)
    ingredients: str = Field(min_length=1, max_length=1000)
    conformity_statement: str = Field(min_length=1, max_length=1000)
    customs_code: CustomsCode = Field(description="the district the filing is made in")


class GoodsFilingRead(Schema):
    id: int
    enterprise_code: str
    enterprise_filing_id: int
    customs_code: str
    item_no: str
    hs_code: str
    name: str
    brand: str
    model: str
    origin_country: str
    manufacturer: str
    supplier: str
    ingredients: str
    conformity_statement: str
    risk_tier: RiskTier
    quarantine: bool
    status: FilingStatus
    reason: str | None
    decided_at: datetime | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def filing_no(self) -> str:
        """What a list line names as its itemRecordNo."""
        return goods_filing_no(self.id)


class FilingReview(Schema):
    decision: ReviewDecision
    reason: Reason
    risk_tier: RiskTier | None = Field(
        None, description="goods only: the sampling tier (default medium)"
    )
    quarantine: bool | None = Field(
        None, description="goods only: animal/plant products that need quarantine inspection"
    )


class FilingInvalidation(Schema):
    ground: InvalidationGround
    reason: Reason


class FilingCancel(Schema):
    reason: Reason


def enterprise_filing_no(filing_id: int) -> str:
    return f"QE{filing_id:010d}"


def goods_filing_no(filing_id: int) -> str:
    return f"QG{filing_id:010d}"


def goods_filing_id(filing_no: str) -> int | None:
    """The id behind a goods filing number, or None when it is not one."""
    if len(filing_no) == 12 and filing_no.startswith("QG") and filing_no[2:].isdigit():
        return int(filing_no[2:])
    return None


# ---------------------------------------------------------------- lists


def _both_directions() -> list[Direction]:
    return ["I", "E"]


class NegativeEntry(Schema):
    """One line of the negative list: an HS prefix, a name keyword, or both (both must hold)."""

    id: EntryId
    category: int = Field(ge=1, le=7, description="the seven categories of the negative list")
    hs_prefix: HsPrefix | None = None
    keyword: str | None = Field(None, min_length=1, max_length=50)
    reason: Reason
    directions: list[Direction] = Field(default_factory=_both_directions, min_length=1)

    @model_validator(mode="after")
    def _says_what_it_matches(self) -> "NegativeEntry":
        if self.hs_prefix is None and self.keyword is None:
            raise ValueError("an entry needs an hs_prefix or a keyword")
        return self


class NegativeList(Schema):
    entries: list[NegativeEntry] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _unique_ids(self) -> "NegativeList":
        ids = [entry.id for entry in self.entries]
        if len(ids) != len(set(ids)):
            raise ValueError("entry ids must be unique")
        return self


class PositiveEntry(Schema):
    """One line of 跨境电子商务零售进口商品清单; the most specific HS code applies."""

    hs_code: Annotated[str, Field(pattern=r"^\d{4,10}$")]
    name: str | None = Field(None, max_length=200)
    remark: str | None = Field(None, max_length=200)
    bonded_only: bool = Field(False, description="限网购保税: only bonded imports (1210)")


class PositiveList(Schema):
    entries: list[PositiveEntry] = Field(default_factory=list, max_length=20_000)

    @model_validator(mode="after")
    def _unique_codes(self) -> "PositiveList":
        codes = [entry.hs_code for entry in self.entries]
        if len(codes) != len(set(codes)):
            raise ValueError("an HS code appears twice")
        return self


class Ban(Schema):
    """An emergency ban on goods from an origin country (an epidemic area), while in force."""

    id: EntryId
    country: Country
    hs_prefix: HsPrefix | None = Field(None, description="only these goods; all goods if empty")
    reason: Reason
    valid_from: datetime
    valid_to: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> "Ban":
        if self.valid_from.tzinfo is None or (
            self.valid_to is not None and self.valid_to.tzinfo is None
        ):
            raise ValueError("validity times need a time zone")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class BanList(Schema):
    bans: list[Ban] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _unique_ids(self) -> "BanList":
        ids = [ban.id for ban in self.bans]
        if len(ids) != len(set(ids)):
            raise ValueError("ban ids must be unique")
        return self


class Sampling(Schema):
    """Sampling rate = base rate of the goods' risk tier × factor of the credit class."""

    base_rates: dict[RiskTier, Rate]
    credit_factors: dict[CreditClass, Factor]

    @model_validator(mode="after")
    def _complete(self) -> "Sampling":
        if set(self.base_rates) != set(RiskTier) or set(self.credit_factors) != set(CreditClass):
            raise ValueError("give a base rate for every tier and a factor for every class")
        return self


class Versioned(Schema):
    version: int = Field(description="0 is the built-in default")
    created_by: str | None
    created_at: datetime | None


class NegativeListRead(Versioned):
    body: NegativeList


class PositiveListRead(Versioned):
    body: PositiveList


class BanListRead(Versioned):
    body: BanList


class SamplingRead(Versioned):
    body: Sampling


# ---------------------------------------------------------------- screening and tasks


class ScreeningRead(Schema):
    inventory_id: int
    invt_no: str
    direction: str
    customs_code: str
    trade_mode: str
    ebc_code: str
    outcome: str
    rule_ids: list[str]
    reason: str
    list_versions: dict[str, int]
    credit_class: str | None
    risk_tier: str | None
    rate: Decimal | None
    seed: str | None
    task_id: UUID | None
    decided_at: datetime


class TaskRead(Schema):
    id: UUID
    inventory_id: int
    invt_no: str
    direction: str
    customs_code: str
    ebc_code: str
    joint: bool
    status: str
    reason: str
    disposal: str | None
    result_reason: str | None
    decided_by: str | None
    opened_at: datetime
    decided_at: datetime | None


class TaskResult(Schema):
    outcome: TaskOutcome
    disposal: Disposal | None = Field(None, description="required for a fail")
    reason: Reason

    @model_validator(mode="after")
    def _disposal_for_fail(self) -> "TaskResult":
        if self.outcome is TaskOutcome.FAIL and self.disposal is None:
            raise ValueError("a fail needs a disposal: return, destroy or rectify")
        if self.outcome is TaskOutcome.PASS and self.disposal is not None:
            raise ValueError("a pass has no disposal")
        return self
