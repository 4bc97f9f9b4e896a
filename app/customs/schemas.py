from dataclasses import dataclass, field
from datetime import datetime

from pydantic import Field

from app.schemas import Schema


@dataclass(frozen=True)
class CebEntity:
    """One business document of a message, as field name → text (the standard's names)."""

    head: dict[str, str]
    lines: list[dict[str, str]] = field(default_factory=list)
    signed: bool = False


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
    goods_value: str
    currency: str | None
    created_at: datetime
    timeline: list[TimelineEntry] = Field(default_factory=list)
