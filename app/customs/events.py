"""What customs announces. Other modules react in their handlers; customs imports none."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from app.outbox import Event


class InventoryLineFacts(BaseModel):
    """What other agencies need to know of one list line."""

    model_config = ConfigDict(frozen=True)

    gnum: int
    gcode: str
    gname: str
    item_no: str | None
    item_record_no: str | None
    country: str  # origin (import) or destination (export) country, JGS code
    qty: Decimal
    unit: str
    total_price: Decimal


class InventoryAccepted(Event):
    """Customs accepted an inventory list (120): risk, inspection and the SLA clock react."""

    inventory_id: int
    invt_no: str
    direction: str  # E export, I import
    customs_code: str
    trade_mode: str  # 9610 direct, 1210 bonded, 9710/9810 B2B export
    ebc_code: str
    agent_code: str
    logistics_code: str
    logistics_no: str
    currency: str | None
    goods_value: Decimal
    lines: list[InventoryLineFacts]
    accepted_at: datetime


class InventoryStatusChanged(Event):
    """A list moved from one status to another (the standard's returnStatus codes).

    ``to_status`` 800 is the release, 899 closure, 100 rejection, 700 return abroad and
    1001 the window's mark for a list withdrawn by an approved cancel (605/623).
    """

    inventory_id: int
    invt_no: str | None
    direction: str
    customs_code: str
    ebc_code: str
    from_status: int
    to_status: int
    changed_at: datetime
    reason: str


class GoodsArrived(Event):
    """An arrival (507, or a delivery 711 for bonded imports) put parcels at a supervision site.

    Starts the 24-hour clock of the lists on those waybills.
    """

    customs_code: str
    operator_code: str
    logistics_code: str
    logistics_nos: list[str]
    arrived_at: datetime


class InventoryRefunded(Event):
    """A return (退货, 625/213) of a released list was accepted: quota restored, FX alerted."""

    inventory_id: int
    invt_no: str
    direction: str
    ebc_code: str
    refunded_at: datetime
