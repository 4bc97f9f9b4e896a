"""How forex reacts: a list that backs settlements was returned, cancelled or refunded."""

from sqlalchemy.orm import Session

from app.ceb.codes import ReturnStatus
from app.customs.events import InventoryRefunded, InventoryStatusChanged
from app.forex import service
from app.forex.rules import CANCELLED
from app.outbox import Dispatcher

_RETURN_KINDS = {int(ReturnStatus.RETURNED): "returned", CANCELLED: "cancelled"}


def on_status_changed(session: Session, event: InventoryStatusChanged) -> None:
    kind = _RETURN_KINDS.get(event.to_status)
    if kind is None:
        return
    service.record_return(
        session,
        inventory_id=event.inventory_id,
        invt_no=event.invt_no,
        kind=kind,
        event_id=event.event_id,
        at=event.changed_at,
    )


def on_refunded(session: Session, event: InventoryRefunded) -> None:
    service.record_return(
        session,
        inventory_id=event.inventory_id,
        invt_no=event.invt_no,
        kind="refunded",
        event_id=event.event_id,
        at=event.refunded_at,
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(InventoryStatusChanged, on_status_changed)
    dispatcher.register(InventoryRefunded, on_refunded)
