from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from app.schemas import Schema


class SummaryApplyIn(Schema):
    """A SummaryApply entity in the standard's JSON mirror, as a 701 would carry it."""

    head: dict[str, str] = Field(
        alias="SummaryApplyHead",
        description="SummaryApplyHead fields (customsCode, ebcCode, summaryFlag, itemNameFlag, "
        "startTime/endTime …); agentCode defaults to the caller",
    )
    lines: list[dict[str, str]] = Field(
        default_factory=list,
        alias="SummaryApplyList",
        description='[{"invtNo": …}]; ignored when a time window is given',
    )


class SummaryLineRead(Schema):
    """A declaration item: the list lines sharing its keys, summed."""

    gseqno: int
    country: str = Field(description="final destination country")
    gcode: str
    currency: str
    unit: str
    item_name: str | None = Field(description="the grouping name when itemNameFlag is 1")
    gname: str
    unit1: str
    unit2: str | None
    qty: Decimal
    qty1: Decimal
    qty2: Decimal | None
    total_price: Decimal
    line_count: int = Field(description="how many list lines it consolidates")


class DeclarationPlan(Schema):
    """One future customs declaration: its head keys, weights and items."""

    seq: int
    ebc_code: str
    owner_code: str | None
    traf_mode: str | None
    arrival_country: str
    port_code: str
    gross_weight: Decimal
    net_weight: Decimal
    list_count: int
    lines: list[SummaryLineRead]


class SummaryPlan(Schema):
    """What a 701 would produce now, without committing anything."""

    list_count: int
    declarations: list[DeclarationPlan]


class DeclarationRead(DeclarationPlan):
    decl_seq_no: str
    dec_state: str
    entry_id: str | None


class SummaryRead(Schema):
    sum_no: str
    version: int
    status: str = Field(description="live, superseded (by a change) or withdrawn (deleted)")
    customs_code: str
    cop_no: str
    agent_code: str
    ebc_code: str
    decl_agent_code: str
    summary_flag: str
    item_name_flag: str
    start_time: datetime | None
    end_time: datetime | None
    list_count: int
    created_at: datetime
    ended_at: datetime | None
    declarations: list[DeclarationRead]


class OverdueRow(Schema):
    agent_code: str
    ebc_code: str
    customs_code: str
    lists: int
    earliest_released_at: datetime
    deadline: date = Field(description="the day by which the earliest of them was due")


class OverdueReport(Schema):
    """Released B lists still outside any live summary after their 15th-of-next-month."""

    as_of: datetime
    released_before: datetime = Field(description="lists released before this are overdue")
    rows: list[OverdueRow]


class SummaryDraftRead(Schema):
    """A staged 701 the window prepared for an agent, covering one month by time window."""

    agent_code: str
    ebc_code: str
    customs_code: str
    cop_no: str
    pre_no: str | None
    start_time: str
    end_time: str
    list_count: int
    created: bool = Field(description="false when the draft already existed")
