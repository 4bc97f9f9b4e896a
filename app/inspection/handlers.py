"""How inspection reacts: it screens every accepted list and follows customs' examinations."""

from sqlalchemy.orm import Session

from app import clock
from app.customs.events import InventoryAccepted, InventoryStatusChanged
from app.inspection import rules, service
from app.outbox import Dispatcher


def on_inventory_accepted(session: Session, event: InventoryAccepted) -> None:
    service.screen_list(
        session,
        inventory_id=event.inventory_id,
        invt_no=event.invt_no,
        direction=event.direction,
        customs_code=event.customs_code,
        trade_mode=event.trade_mode,
        ebc_code=event.ebc_code,
        lines=[
            rules.Line(
                gnum=line.gnum,
                gcode=line.gcode,
                gname=line.gname,
                country=line.country,
                item_no=line.item_no,
                item_record_no=line.item_record_no,
            )
            for line in event.lines
        ],
        accepted_at=event.accepted_at,
        event_id=event.event_id,
        at=clock.now(),
    )


def on_inventory_status_changed(session: Session, event: InventoryStatusChanged) -> None:
    service.note_customs_status(
        session,
        invt_no=event.invt_no,
        to_status=event.to_status,
        event_id=event.event_id,
        at=clock.now(),
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(InventoryAccepted, on_inventory_accepted)
    dispatcher.register(InventoryStatusChanged, on_inventory_status_changed)
