"""An export list's life through the API: 三单对碰, lane, joint release, departure."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.customs.models import Inventory
from app.inspection.events import InspectionCleared
from tests.support.filings import file_golden_export_goods

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NS = {"ceb": "http://www.chinaport.gov.cn/ceb"}
Headers = dict[str, str]
PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}


@pytest.fixture
def parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in PARTIES.items()}


@pytest.fixture
def filed_goods(
    client: TestClient, parties: dict[str, Headers], principal: Callable[..., Headers]
) -> None:
    """The ebc and the list's goods filed with inspection, which would otherwise refuse the list.

    The goods are filed as needing quarantine, so inspection holds the list until the test
    clears it below.
    """
    inspector = principal("officer", agency="inspection", customs_codes=["4900"])
    file_golden_export_goods(client, parties["4301990002"], inspector, quarantine=True)


def post(client: TestClient, n: int, headers: Headers) -> etree._Element:
    body = (SAMPLES / "export" / f"CEB{n}Message.xml").read_bytes()
    response = client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def statuses(root: etree._Element) -> list[str]:
    return root.xpath("//ceb:returnStatus/text()", namespaces=NS)


def inventory_id(factory: sessionmaker[Session], invt_no: str) -> int:
    with factory() as session:
        return session.scalars(select(Inventory.id).where(Inventory.invt_no == invt_no)).one()


@pytest.mark.usefixtures("filed_goods")
def test_list_waits_for_partners_then_is_released_jointly(
    client: TestClient,
    admin: Headers,
    parties: dict[str, Headers],
    run_outbox: Callable[[], int],
    session_factory: sessionmaker[Session],
) -> None:
    no_random = client.put("/api/v1/customs/rules", json={}, headers=admin)
    assert no_random.status_code == 200, no_random.text
    agent = parties["4301990003"]
    first = post(client, 603, agent)
    assert statuses(first) == ["2"], "no order, money or waybill yet: the list waits"
    post(client, 303, parties["4301990001"])
    post(client, 403, parties["4301990005"])
    waybill = post(client, 505, parties["4301990004"])
    assert statuses(waybill) == ["120"]
    listed = client.get("/api/v1/inventories/EXP-COP-0001", headers=agent).json()
    assert listed["status"] == 120
    invt_no = listed["invt_no"]
    run_outbox()
    concluded = client.get(f"/api/v1/inventories/{invt_no}", headers=agent).json()
    assert concluded["status"] == 399, "GREEN: concluded, waiting for inspection"
    assert concluded["lane"] is None, "the lane is internal to customs"
    with session_factory.begin() as session:
        outbox.publish(
            session,
            InspectionCleared(
                inventory_id=inventory_id(session_factory, invt_no), reason="not selected"
            ),
        )
    run_outbox()
    released = client.get(f"/api/v1/inventories/{invt_no}", headers=agent).json()
    assert released["status"] == 800
    receipts = client.get("/api/v1/receipts", headers=agent).json()["receipts"]
    assert [
        r["InventoryReturn"]["returnStatus"] for r in receipts if r["messageType"] == "CEB604"
    ] == ["2", "120", "399", "800"]
    departure = post(client, 509, parties["4301990004"])
    assert statuses(departure) == ["120"]
    closed = client.get(f"/api/v1/inventories/{invt_no}", headers=agent).json()
    assert closed["status"] == 899
