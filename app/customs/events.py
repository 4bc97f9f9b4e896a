"""What customs announces. Other modules react in their handlers; customs imports none."""

from datetime import datetime

from app.outbox import Event


class InventoryAccepted(Event):
    """Customs accepted an inventory list (120): risk, inspection and the SLA clock react."""

    inventory_id: int
    invt_no: str
    direction: str
    customs_code: str
    ebc_code: str
    agent_code: str
    logistics_code: str
    logistics_no: str
    accepted_at: datetime
