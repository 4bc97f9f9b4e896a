"""What forex announces. Nobody imports forex; a reporting or notification module may listen."""

from datetime import datetime
from decimal import Decimal

from app.outbox import Event


class TradeListAlertRaised(Event):
    """A list that backs a bank's settlements was returned, cancelled or refunded afterwards.

    The bank must review the settlements (SAFE: risk transactions are reported within 5
    working days); ``kind`` is returned (700), cancelled (撤单) or refunded (退货).
    """

    alert_id: int
    bank_code: str
    invt_no: str
    ebc_code: str
    kind: str
    allocated: Decimal
    currency: str
    raised_at: datetime
