"""How the registry reacts: failed inspections count against the enterprise's standing."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.inspection.events import EnterpriseFailedInspection
from app.outbox import Dispatcher
from app.registry.models import StandingEvent

# Goods destroyed weigh more than goods sent back, and those more than goods to be fixed.
FAIL_POINTS = {"rectify": -1, "return": -2, "destroy": -3}


def on_enterprise_failed_inspection(session: Session, event: EnterpriseFailedInspection) -> None:
    """A failed inspection task is recorded against the enterprise, once per event."""
    if session.scalar(
        select(StandingEvent.id).where(StandingEvent.source_event_id == event.event_id)
    ):
        return
    points = FAIL_POINTS.get(event.disposal, -1)
    session.add(
        StandingEvent(
            enterprise_code=event.enterprise_code,
            kind="inspection_failed",
            points=points,
            subject=event.invt_no,
            reason=f"{event.disposal}: {event.reason}"[:1000],
            source_event_id=event.event_id,
            at=event.failed_at,
        )
    )
    audit.record(
        session,
        actor="system:registry",
        action="enterprise.standing_lowered",
        subject_type="enterprise",
        subject_id=event.enterprise_code,
        detail={
            "points": points,
            "invt_no": event.invt_no,
            "task_id": event.task_id,
            "disposal": event.disposal,
            "reason": event.reason,
        },
        at=event.failed_at,
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(EnterpriseFailedInspection, on_enterprise_failed_inspection)
