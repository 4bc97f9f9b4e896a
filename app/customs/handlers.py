"""How customs reacts: its risk engine to accepted lists, its release to inspection's verdicts."""

from sqlalchemy.orm import Session

from app import clock
from app.customs import service
from app.customs.events import InventoryAccepted
from app.inspection.events import InspectionCleared, InspectionFailed, InspectionHeld
from app.outbox import Dispatcher
from app.sla.events import SlaClockStarted


def on_inventory_accepted(session: Session, event: InventoryAccepted) -> None:
    service.assign_lane(
        session, inventory_id=event.inventory_id, event_id=event.event_id, at=clock.now()
    )


def on_inspection_cleared(session: Session, event: InspectionCleared) -> None:
    service.inspection_verdict(
        session,
        inventory_id=event.inventory_id,
        verdict="cleared",
        reason=event.reason,
        disposal=None,
        event_id=event.event_id,
        at=clock.now(),
    )


def on_inspection_held(session: Session, event: InspectionHeld) -> None:
    service.inspection_verdict(
        session,
        inventory_id=event.inventory_id,
        verdict="held",
        reason=event.reason,
        disposal=None,
        event_id=event.event_id,
        at=clock.now(),
    )


def on_inspection_failed(session: Session, event: InspectionFailed) -> None:
    service.inspection_verdict(
        session,
        inventory_id=event.inventory_id,
        verdict="failed",
        reason=event.reason,
        disposal=event.disposal,
        event_id=event.event_id,
        at=clock.now(),
    )


def on_sla_clock_started(session: Session, event: SlaClockStarted) -> None:
    service.set_sla_deadline(session, inventory_id=event.inventory_id, deadline=event.deadline)


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(InventoryAccepted, on_inventory_accepted)
    dispatcher.register(InspectionCleared, on_inspection_cleared)
    dispatcher.register(InspectionHeld, on_inspection_held)
    dispatcher.register(InspectionFailed, on_inspection_failed)
    dispatcher.register(SlaClockStarted, on_sla_clock_started)
