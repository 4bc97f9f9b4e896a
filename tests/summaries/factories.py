"""Released export lists made straight through the ORM, and 701 heads to consolidate them."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.customs.models import Inventory, InventoryLine

AGENT = "4301990003"
EBC = "4301990002"
OTHER_OWNER = "4301990099"
CUSTOMS = "4900"
# Business time of the tests: lists released in October 2026, summarised in November.
OCTOBER = datetime(2026, 10, 12, 4, 0, tzinfo=UTC)
NOVEMBER_10 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


@dataclass
class Line:
    country: str
    gcode: str
    unit: str
    qty: str
    total: str
    item_name: str | None = None
    gname: str = "品名"
    currency: str = "142"
    unit1: str = "035"
    qty1: str | None = None


@dataclass
class ListSpec:
    invt_no: str
    lines: list[Line]
    owner: str = EBC
    traf: str | None = "5"
    arrival: str = "132"
    port: str = CUSTOMS
    gross: str = "1"
    net: str = "1"
    agent: str = AGENT
    ebc: str = EBC
    customs: str = CUSTOMS
    flag: str = "B"
    status: int = 800
    released_at: datetime | None = OCTOBER
    extra: dict[str, Any] = field(default_factory=dict)


def make_list(session: Session, spec: ListSpec) -> Inventory:
    """A released export list as customs would hold it after 603 → 800."""
    head: dict[str, Any] = {"copNo": f"COP-{spec.invt_no}"}
    if spec.traf is not None:
        head["trafMode"] = spec.traf
    values = sum((Decimal(line.total) for line in spec.lines), Decimal(0))
    inventory = Inventory(
        direction="E",
        guid=str(uuid.uuid4()).upper(),
        agent_code=spec.agent,
        cop_no=f"COP-{spec.invt_no}",
        pre_no=f"B20261001{spec.invt_no[-9:]}",
        invt_no=spec.invt_no,
        ebp_code="4301990001",
        ebc_code=spec.ebc,
        order_no=f"ORDER-{spec.invt_no}",
        logistics_code="4301990004",
        logistics_no=f"WB{spec.invt_no[-9:]}",
        customs_code=spec.customs,
        port_code=spec.port,
        trade_mode="9610",
        statistics_flag=spec.flag,
        owner_code=spec.owner,
        country=spec.arrival,
        currency="142",
        goods_value=values,
        freight=Decimal(0),
        insured_fee=Decimal(0),
        gross_weight=Decimal(spec.gross),
        net_weight=Decimal(spec.net),
        pack_no=1,
        app_type="1",
        app_time=OCTOBER,
        app_status="2",
        status=spec.status,
        status_at=spec.released_at or OCTOBER,
        sender_code=spec.agent,
        message_id=uuid.uuid4(),
        head=head,
        inspection_state="cleared",
        full_tax=False,
        released_at=spec.released_at,
        **spec.extra,
    )
    session.add(inventory)
    session.flush()
    session.add_all(
        InventoryLine(
            inventory_id=inventory.id,
            gnum=gnum,
            item_no=f"ITEM{gnum}",
            item_name=line.item_name,
            gcode=line.gcode,
            gname=line.gname,
            country=line.country,
            currency=line.currency,
            unit=line.unit,
            qty=Decimal(line.qty),
            unit1=line.unit1,
            qty1=Decimal(line.qty1 or line.qty),
            price=Decimal(line.total) / Decimal(line.qty),
            total_price=Decimal(line.total),
        )
        for gnum, line in enumerate(spec.lines, start=1)
    )
    session.flush()
    return inventory


def invt(serial: int) -> str:
    return f"49002026E{serial:09d}"


TEA, SCARF = "6911101900", "6214100000"

# The hand-checked month (see the expected declarations in test_grouping.py).
MONTH = [
    ListSpec(
        invt(1),
        [
            Line("132", TEA, "006", "2", "536", item_name="瓷茶具", gname="茶具"),
            Line("132", SCARF, "015", "3", "474", item_name="丝巾", gname="围巾", qty1="0.3"),
        ],
        gross="2.0",
        net="1.5",
    ),
    ListSpec(
        invt(2),
        [Line("132", TEA, "006", "1", "300", item_name="茶具套装", gname="茶具")],
        owner=OTHER_OWNER,
        gross="1.0",
        net="0.8",
    ),
    ListSpec(
        invt(3),
        [
            Line("502", TEA, "006", "4", "1000", item_name="瓷茶具", gname="茶具"),
            Line("502", SCARF, "015", "1", "150", item_name="丝巾", gname="围巾", qty1="0.1"),
        ],
        arrival="502",
        gross="3.0",
        net="2.5",
    ),
    ListSpec(
        invt(4),
        [
            Line("132", TEA, "006", "1", "268", item_name="瓷茶具", gname="茶具"),
            Line("122", SCARF, "015", "2", "316", item_name="丝巾", gname="围巾", qty1="0.2"),
        ],
        gross="0.5",
        net="0.4",
    ),
    ListSpec(
        invt(5),
        [Line("132", TEA, "006", "1", "268", item_name="瓷茶具", gname="茶具")],
        traf="4",
        gross="1.2",
        net="1.0",
    ),
]
# Lists a 701 of the agent for EBC at 4900 over October must leave alone, and why.
DISTRACTORS = {
    "simplified (A)": ListSpec(invt(11), [Line("132", TEA, "006", "1", "1")], flag="A"),
    "not released": ListSpec(invt(12), [Line("132", TEA, "006", "1", "1")], status=399),
    "another agent": ListSpec(invt(13), [Line("132", TEA, "006", "1", "1")], agent="4301990033"),
    "another ebc": ListSpec(invt(14), [Line("132", TEA, "006", "1", "1")], ebc="4301990022"),
    "another customs": ListSpec(invt(15), [Line("132", TEA, "006", "1", "1")], customs="5100"),
    "released in November": ListSpec(
        invt(16), [Line("132", TEA, "006", "1", "1")], released_at=NOVEMBER_10
    ),
}


def head_701(**fields: str) -> dict[str, str]:
    """A declared 701 head of the agent for EBC at 4900; fields override."""
    return {
        "guid": str(uuid.uuid4()).upper(),
        "appType": "1",
        "appTime": "20261110100000",
        "appStatus": "2",
        "customsCode": CUSTOMS,
        "copNo": "SUM-0001",
        "agentCode": AGENT,
        "agentName": "长沙报关行",
        "ebcCode": EBC,
        "ebcName": "长沙星沙贸易有限公司",
        "declAgentCode": AGENT,
        "declAgentName": "长沙报关行",
        "summaryFlag": "1",
        "itemNameFlag": "0",
        "msgCount": "1",
        "msgSeqNo": "1",
        **fields,
    }


OCTOBER_WINDOW = {"startTime": "20261001000000", "endTime": "20261031235959"}
