"""What inspection announces about a list; customs performs the joint release on them."""

from datetime import datetime

from app.outbox import Event


class InspectionCleared(Event):
    """Inspection has nothing against the list: not selected, or its task passed."""

    inventory_id: int
    task_id: str | None = None
    reason: str


class InspectionHeld(Event):
    """Inspection selected the list for a task: customs must not release it yet."""

    inventory_id: int
    task_id: str
    reason: str


class InspectionFailed(Event):
    """The list was refused by inspection (filing, negative list, ban or a failed task).

    ``disposal`` is return (退运, 700), destroy or rectify; refusals before any task are
    ``reject`` (customs rejects the list, 100).
    """

    inventory_id: int
    task_id: str | None = None
    disposal: str
    reason: str


class EnterpriseFailedInspection(Event):
    """An enterprise's goods failed an inspection task: the registry lowers its standing."""

    enterprise_code: str
    inventory_id: int
    invt_no: str
    task_id: str
    disposal: str
    reason: str
    failed_at: datetime
