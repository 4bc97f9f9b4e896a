"""How the SLA clock reacts to customs: acceptance and arrival start it, status changes stop it.

The times used are the events' own (``accepted_at``, ``arrived_at``, ``changed_at``): when
customs or the window recorded the fact, not when a relay ran the handler.
"""

from sqlalchemy.orm import Session

from app.config import get_settings
from app.customs.events import GoodsArrived, InventoryAccepted, InventoryStatusChanged
from app.outbox import Dispatcher
from app.sla import service


def on_inventory_accepted(session: Session, event: InventoryAccepted) -> None:
    service.accept(
        session,
        inventory_id=event.inventory_id,
        invt_no=event.invt_no,
        direction=event.direction,
        customs_code=event.customs_code,
        trade_mode=event.trade_mode,
        logistics_code=event.logistics_code,
        logistics_no=event.logistics_no,
        accepted_at=event.accepted_at,
        policy=get_settings().sla,
    )


def on_goods_arrived(session: Session, event: GoodsArrived) -> None:
    service.arrive(
        session,
        customs_code=event.customs_code,
        logistics_code=event.logistics_code,
        logistics_nos=event.logistics_nos,
        arrived_at=event.arrived_at,
        event_id=event.event_id,
        policy=get_settings().sla,
    )


def on_inventory_status_changed(session: Session, event: InventoryStatusChanged) -> None:
    service.status_changed(
        session,
        inventory_id=event.inventory_id,
        invt_no=event.invt_no,
        direction=event.direction,
        customs_code=event.customs_code,
        from_status=event.from_status,
        to_status=event.to_status,
        changed_at=event.changed_at,
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(InventoryAccepted, on_inventory_accepted)
    dispatcher.register(GoodsArrived, on_goods_arrived)
    dispatcher.register(InventoryStatusChanged, on_inventory_status_changed)
