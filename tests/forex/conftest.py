"""Released trade lists for the forex tests, banks, mandates and rates.

The golden export story goes through the real API (messages → outbox → InspectionCleared →
800). Import lists and bulk data are written with customs' models, in test setup only.
"""

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.config import OutboxSettings
from app.customs import handlers as customs_handlers
from app.customs.models import Document, Inventory, InventoryLine
from app.forex import handlers as forex_handlers
from app.inspection.events import InspectionCleared
from app.outbox import Dispatcher, Relay

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NS = {"ceb": "http://www.chinaport.gov.cn/ceb"}
Headers = dict[str, str]
EXPORT_PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}
EXPORT_EBC = "4301990002"
IMPORT_EBC = "4301990012"
BUYER = "430102199001011234"
BANK = "BANKA001"
OTHER_BANK = "BANKB002"
RELEASED_AT = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
_serial = itertools.count(1)


@pytest.fixture
def story_outbox(session_factory: sessionmaker[Session]) -> Callable[[], int]:
    """Customs' and forex's reactions only: the tests play inspection's part themselves."""
    dispatcher = Dispatcher()
    customs_handlers.register(dispatcher)
    forex_handlers.register(dispatcher)
    relay = Relay(session_factory, dispatcher, OutboxSettings(batch_size=500))

    def _run() -> int:
        total = 0
        while handled := relay.run_once():
            total += handled
        return total

    return _run


@pytest.fixture
def banks(principal: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: principal("bank", bank_code=code) for code in (BANK, OTHER_BANK)}


@pytest.fixture
def mandate(client: TestClient, admin: Headers) -> Callable[..., None]:
    """Replace an enterprise's bank mandates: ``mandate(ebc, bank, ...)``."""

    def _mandate(ebc: str, *items: dict[str, Any] | str) -> None:
        body = [{"bank_code": i} if isinstance(i, str) else i for i in items]
        response = client.put(f"/api/v1/enterprises/{ebc}/bank-mandates", json=body, headers=admin)
        assert response.status_code == 200, response.text

    return _mandate


@pytest.fixture
def rates(client: TestClient, admin: Headers) -> Callable[..., None]:
    """Load rates through the admin endpoint: ``rates(("502", "2026-11-01", "7.1"), ...)``."""

    def _rates(*items: tuple[str, str, str]) -> None:
        body = {"rates": [{"currency": c, "effective_date": d, "rate": r} for c, d, r in items]}
        response = client.put("/api/v1/forex/rates", json=body, headers=admin)
        assert response.status_code == 200, response.text

    return _rates


def _post(client: TestClient, n: int, headers: Headers, **fields: str) -> list[str]:
    root = etree.parse(str(SAMPLES / "export" / f"CEB{n}Message.xml")).getroot()
    for name, value in fields.items():
        for element in root.iter(f"{{{NS['ceb']}}}{name}"):
            element.text = value
    response = client.post(
        "/api/v1/messages",
        content=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
        headers={**headers, "Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.text
    statuses: list[str] = etree.fromstring(response.content).xpath(
        "//ceb:returnStatus/text()", namespaces=NS
    )
    return statuses


@dataclass
class ExportStory:
    client: TestClient
    parties: dict[str, Headers]
    outbox_run: Callable[[], int]
    factory: sessionmaker[Session]
    invt_no: str = ""

    def release(self) -> str:
        """The golden export list, declared, matched, lane GREEN, inspection cleared: 800."""
        for n, sender in ((303, "4301990001"), (403, "4301990005"), (505, "4301990004")):
            _post(self.client, n, self.parties[sender])
        assert _post(self.client, 603, self.parties["4301990003"]) == ["120"]
        listed = self.client.get(
            "/api/v1/inventories/EXP-COP-0001", headers=self.parties["4301990003"]
        ).json()
        self.invt_no = listed["invt_no"]
        self.outbox_run()
        with self.factory.begin() as session:
            inventory_id = session.scalars(
                select(Inventory.id).where(Inventory.invt_no == self.invt_no)
            ).one()
            outbox.publish(
                session, InspectionCleared(inventory_id=inventory_id, reason="not selected")
            )
        self.outbox_run()
        assert self.status() == 800
        return self.invt_no

    def cancel(self) -> list[str]:
        """The cancel branch (605) on the released list."""
        return _post(self.client, 605, self.parties["4301990003"], invtNo=self.invt_no)

    def status(self) -> int:
        got = self.client.get(
            f"/api/v1/inventories/{self.invt_no}", headers=self.parties["4301990003"]
        ).json()
        return int(got["status"])


@pytest.fixture
def export_story(
    client: TestClient,
    admin: Headers,
    register: Callable[..., Headers],
    story_outbox: Callable[[], int],
    session_factory: sessionmaker[Session],
) -> ExportStory:
    """The golden export parties filed; lanes without random selection (GREEN)."""
    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    parties = {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}
    return ExportStory(client, parties, story_outbox, session_factory)


@dataclass
class ListSpec:
    """A trade list written straight into customs' tables (setup only)."""

    direction: str = "E"
    ebc: str = EXPORT_EBC
    status: int = 800
    currency: str = "142"
    lines: list[Decimal] = field(default_factory=lambda: [Decimal("536"), Decimal("474")])
    freight: Decimal = Decimal("35")
    insured_fee: Decimal = Decimal("5")
    # money documents (403 charge / 411 amountPaid), as head fields over the defaults
    payments: list[dict[str, str]] | None = None
    order: dict[str, str] | None = None
    buyer: str | None = None
    released_at: datetime = RELEASED_AT


def write_list(factory: sessionmaker[Session], spec: ListSpec | None = None) -> str:
    """A list with its order and money documents; returns its invtNo."""
    spec = spec or ListSpec()
    n = 700_000_000 + next(_serial)
    invt_no = f"49002026{spec.direction}{n:09d}"
    order_no = f"ORD-{invt_no}"
    ebp = "4301990001" if spec.direction == "E" else "4301990011"
    goods = sum(spec.lines, Decimal(0))
    buyer = spec.buyer if spec.buyer is not None else (BUYER if spec.direction == "I" else None)
    if spec.direction == "E":
        defaults = {
            "ebcCode": spec.ebc,
            "payNo": f"PAY-{invt_no}",
            "currency": spec.currency,
            "charge": str(goods + spec.freight),
        }
    else:
        defaults = {
            "payTransactionId": f"PAY-{invt_no}",
            "currency": spec.currency,
            "amountPaid": str(goods + spec.freight),
            "payerIdNumber": BUYER,
            "payerName": "张三",
        }
    payments = [defaults | p for p in spec.payments] if spec.payments is not None else [defaults]
    order = {
        "orderNo": order_no,
        "ebpCode": ebp,
        "ebcCode": spec.ebc,
        "currency": spec.currency,
        "goodsValue": str(goods),
        "freight": str(spec.freight),
    }
    if spec.direction == "I":
        order |= {
            "buyerIdNumber": BUYER,
            "buyerName": "张三",
            "buyerTelephone": "13800000000",
            "consigneeAddress": "湖南省长沙市芙蓉区五一大道100号",
        }
    order |= spec.order or {}
    now = datetime.now(UTC)
    with factory.begin() as session:
        inventory = Inventory(
            direction=spec.direction,
            guid=str(uuid.uuid4()),
            agent_code="4301990003",
            cop_no=f"COP-{invt_no}",
            pre_no=f"B{n:017d}",
            invt_no=invt_no,
            ebp_code=ebp,
            ebc_code=spec.ebc,
            order_no=order_no,
            logistics_code="4301990004",
            logistics_no=f"WB{invt_no}",
            customs_code="4900",
            port_code="4900",
            trade_mode="9610",
            statistics_flag="A",
            buyer_id_number=buyer,
            country="132",
            currency=spec.currency,
            goods_value=goods,
            freight=spec.freight,
            insured_fee=spec.insured_fee,
            gross_weight=Decimal(3),
            net_weight=Decimal(2),
            pack_no=1,
            app_type="1",
            app_time=now,
            app_status="2",
            status=spec.status,
            status_at=now,
            sender_code="4301990003",
            message_id=uuid.uuid4(),
            head={},
            inspection_state="cleared",
            released_at=spec.released_at,
        )
        session.add(inventory)
        session.flush()
        for gnum, total in enumerate(spec.lines, start=1):
            session.add(
                InventoryLine(
                    inventory_id=inventory.id,
                    gnum=gnum,
                    gcode="6911101900",
                    gname=f"goods {gnum}",
                    country="132",
                    currency=spec.currency,
                    unit="006",
                    qty=Decimal(1),
                    unit1="006",
                    qty1=Decimal(1),
                    price=total,
                    total_price=total,
                )
            )
        key = f"{ebp}|{order_no}"
        session.add(_document("order", spec.direction, key, None, order, now))
        for i, head in enumerate(payments):
            session.add(_document("payment", spec.direction, f"{key}|{i}", key, head, now))
    return invt_no


def _document(
    kind: str, direction: str, key: str, ref: str | None, head: dict[str, str], at: datetime
) -> Document:
    return Document(
        kind=kind,
        direction=direction,
        business_key=key,
        ref_key=ref,
        guid=str(uuid.uuid4()),
        app_type="1",
        app_time=at,
        app_status="2",
        status=120,
        sender_code="4301990005",
        message_id=uuid.uuid4(),
        head=head,
        lines=[],
    )


@pytest.fixture
def trade_list(session_factory: sessionmaker[Session]) -> Callable[..., str]:
    """``trade_list(direction="I", status=120, ...)`` → invtNo of a new list."""

    def _make(**fields: Any) -> str:
        return write_list(session_factory, ListSpec(**fields))

    return _make
