"""What the SLA clock announces: customs orders its queue by deadline, subscribers get alerts."""

from datetime import datetime

from app.outbox import Event


class SlaClockStarted(Event):
    """A list's 24-hour clock started (or restarted later, when a direct import's goods arrive
    after its acceptance): ``deadline`` is when its customs formalities must be finished."""

    inventory_id: int
    invt_no: str
    customs_code: str
    started_at: datetime
    deadline: datetime


class SlaAtRisk(Event):
    """A running list has less than the at-risk margin left; raised once per list.

    Kept in the alerts readable at GET /sla/alerts and pushed to the customs code's
    subscribers by app.delivery (the receipt push).
    """

    inventory_id: int
    invt_no: str
    customs_code: str
    deadline: datetime
    raised_at: datetime


class SlaBreached(Event):
    """A running list passed its deadline unreleased; raised once per list (delivered as above)."""

    inventory_id: int
    invt_no: str
    customs_code: str
    deadline: datetime
    raised_at: datetime
