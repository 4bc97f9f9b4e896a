from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.schemas import Schema


class ListState(StrEnum):
    RUNNING = "running"
    AT_RISK = "at_risk"
    BREACHED = "breached"


class Durations(Schema):
    """Nearest-rank percentiles, in seconds; null when there is nothing to measure."""

    p50_s: int | None
    p95_s: int | None
    max_s: int | None


class WindowStats(Schema):
    since: datetime
    released_in_time: int
    released_late: int
    ended_without_release: int = Field(description="rejected, returned or cancelled")
    clearance: Durations = Field(description="clock start to release, waiting included")
    enterprise_wait: Durations = Field(
        description="of that, time in review (300) waiting on the enterprise, reported beside"
    )


class Overview(Schema):
    at: datetime
    customs_codes: list[str] | None = Field(description="null: every customs code")
    waiting_for_arrival: int = Field(description="accepted lists whose goods are not at the site")
    running: int = Field(description="lists whose clock runs, at-risk and breached included")
    at_risk: int
    breached: int = Field(description="running past their deadline")
    last_24h: WindowStats
    last_7d: WindowStats


class ClockRead(Schema):
    inventory_id: int
    invt_no: str
    customs_code: str
    direction: str
    trade_mode: str | None
    state: str
    accepted_at: datetime | None
    arrived_at: datetime | None
    started_at: datetime | None
    deadline: datetime | None
    remaining_s: int | None = Field(description="negative once breached")
    enterprise_wait_s: int = Field(description="so far, the review under way included")


class AlertRead(Schema):
    id: int
    # The alert's place in the feed, in commit order: ``after`` of GET /sla/alerts.
    position: int
    inventory_id: int
    invt_no: str
    customs_code: str
    kind: str
    deadline: datetime
    raised_at: datetime


class ScanCounts(Schema):
    """What one scan raised."""

    at_risk: int
    breached: int
