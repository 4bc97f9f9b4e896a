from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from app.customs.risk import Lane, RuleSetBody
from app.schemas import Schema


@dataclass(frozen=True)
class CebEntity:
    """One business document of a message, as field name → text (the standard's names)."""

    head: dict[str, str]
    lines: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SignatureCheck:
    """What the window found of the message's signature: fault is missing|mismatch|invalid."""

    fault: str | None = None
    detail: str = ""


class TimelineEntry(Schema):
    at: datetime
    source: str = Field(description="receipt, or the agency that decided")
    status: int
    info: str


class InventoryRead(Schema):
    direction: str
    agent_code: str
    cop_no: str
    pre_no: str
    invt_no: str | None
    ebp_code: str
    ebc_code: str
    order_no: str
    logistics_code: str
    logistics_no: str
    customs_code: str
    status: int
    status_at: datetime
    app_status: str
    statistics_flag: str | None
    goods_value: Decimal
    currency: str | None
    created_at: datetime
    timeline: list[TimelineEntry] = Field(default_factory=list)


class DecisionAction(StrEnum):
    RELEASE = "release"
    REJECT = "reject"
    REVIEW = "review"
    INSPECT = "inspect"
    DETAIN = "detain"
    RETURN = "return"
    REROUTE = "reroute"


class DecisionCreate(Schema):
    action: DecisionAction
    reason: str = Field(min_length=2, max_length=1000, description="mandatory, recorded")
    lane: Lane | None = Field(None, description="the new lane, for reroute")
    detain_code: Literal[501, 502, 503, 599] | None = Field(
        None, description="detention kind, for detain (default 599)"
    )

    @model_validator(mode="after")
    def _lane_for_reroute(self) -> "DecisionCreate":
        if self.action is DecisionAction.REROUTE and self.lane is None:
            raise ValueError("reroute needs the new lane")
        return self


class DecisionRead(Schema):
    action: str
    agency: str
    lane: str | None
    from_status: int
    to_status: int
    reason: str
    actor: str
    at: datetime


class BuyerDetail(Schema):
    """The buyer and consignee of an import list (personal data, 个人信息)."""

    buyer_id_type: str | None
    buyer_id_number: str | None
    buyer_name: str | None
    buyer_telephone: str | None
    consignee_address: str | None


class InventoryDetail(InventoryRead):
    lane: str | None = None
    sla_deadline: datetime | None = None
    sla_remaining_s: int | None = Field(
        None, description="seconds left of the 24 h clearance clock (negative once breached)"
    )
    inspection_state: str | None = None
    claimed_by: UUID | None = None
    buyer: BuyerDetail | None = Field(
        None, description="personal data: only in an officer's single-list view, audited"
    )


class BacktestRequest(Schema):
    rules: RuleSetBody
    start: datetime
    end: datetime


class BacktestResult(Schema):
    lists: int
    would_hold: dict[str, int]
    actually_held: dict[str, int]
    hits_by_rule: dict[str, int]
    changed_sample: list[dict[str, str]]


class RulesRead(Schema):
    version: int
    rules: RuleSetBody


class TradeListLine(Schema):
    gnum: int
    gcode: str
    gname: str
    currency: str
    total_price: Decimal


class TradeListRead(Schema):
    """A list as banks see it: value, currency, lines and the linked money documents."""

    id: int
    invt_no: str | None
    direction: str
    status: int
    ebc_code: str
    ebp_code: str
    agent_code: str
    order_no: str
    customs_code: str
    currency: str | None
    goods_value: Decimal
    freight: Decimal
    insured_fee: Decimal
    released_at: datetime | None
    buyer_id_number: str | None
    lines: list[TradeListLine]
    order: dict[str, str] | None
    payments: list[dict[str, str]]
