"""SLA alerts written straight into the database, as the periodic scan writes them."""

from datetime import datetime, timedelta
from uuid import uuid4

from sqlalchemy.orm import Session

from app.sla.models import Alert


def sla_alert(
    session: Session, inventory_id: int, *, deadline: datetime, customs_code: str = "4900"
) -> int:
    """An at-risk alert, raised 3 hours before ``deadline``; returns its id, which is taken
    now and seen by other transactions only when ``session`` commits."""
    row = Alert(
        inventory_id=inventory_id,
        invt_no=f"{customs_code}2026I{inventory_id:09d}",
        customs_code=customs_code,
        kind="at_risk",
        deadline=deadline,
        raised_at=deadline - timedelta(hours=3),
        event_id=uuid4(),
    )
    session.add(row)
    session.flush()
    return row.id
