"""The golden export story, re-keyed per test, and customs' reactions in isolation."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.config import OutboxSettings
from app.customs import handlers as customs_handlers
from app.customs.models import Inventory
from app.inspection.events import InspectionCleared
from app.outbox import Dispatcher, Relay

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CEB = "http://www.chinaport.gov.cn/ceb"
NS = {"ceb": CEB}
Headers = dict[str, str]
EXPORT_PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}
SENDERS = {
    303: "4301990001",
    403: "4301990005",
    505: "4301990004",
    507: "4301990006",
    509: "4301990004",
    603: "4301990003",
    605: "4301990003",
    213: "4301990003",
}


def statuses(body: bytes) -> list[str]:
    return etree.fromstring(body).xpath("//ceb:returnStatus/text()", namespaces=NS)


class ExportStory:
    """The golden export documents with their keys made unique by a suffix."""

    def __init__(self, client: TestClient, parties: dict[str, Headers]) -> None:
        self.client = client
        self.parties = parties

    def message(
        self, n: int, suffix: str, edits: dict[str, str] | None = None, **fields: str
    ) -> bytes:
        """The golden message re-keyed; ``fields`` set every element of that name, ``edits``
        set the elements an XPath (prefix ceb:) selects."""
        root = etree.parse(str(SAMPLES / "export" / f"CEB{n}Message.xml")).getroot()
        root.set("guid", str(uuid.uuid4()).upper())
        for element in root.iter(f"{{{CEB}}}guid"):
            element.text = str(uuid.uuid4()).upper()
        renames = {
            "EXP-ORDER-0001": f"EXP-ORDER-{suffix}",
            "EXPWB0000000001": f"EXPWB{suffix}",
            "EXP-COP-0001": f"EXP-COP-{suffix}",
        }
        for element in root.iter():
            if element.text in renames:
                element.text = renames[element.text]
        for name, value in fields.items():
            for element in root.iter(f"{{{CEB}}}{name}"):
                element.text = value
        for path, value in (edits or {}).items():
            for element in root.xpath(path, namespaces=NS):
                element.text = value
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def post(
        self,
        n: int,
        suffix: str,
        body: bytes | None = None,
        edits: dict[str, str] | None = None,
        **fields: str,
    ) -> Response:
        response = self.client.post(
            "/api/v1/messages",
            content=body or self.message(n, suffix, edits, **fields),
            headers={**self.parties[SENDERS[n]], "Content-Type": "application/xml"},
        )
        assert response.status_code == 200, response.text
        return response

    def declare(
        self, suffix: str, edits: dict[str, str] | None = None, **list_fields: str
    ) -> dict[str, Any]:
        """Order, 收款单 and waybill, then the list: returns the list as its agent sees it."""
        for n in (303, 403, 505):
            self.post(n, suffix)
        self.post(603, suffix, edits=edits, **list_fields)
        return self.get(f"EXP-COP-{suffix}")

    def get(self, key: str, headers: Headers | None = None) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/inventories/{key}", headers=headers or self.parties["4301990003"]
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}


@pytest.fixture
def story(client: TestClient, parties: dict[str, Headers], admin: Headers) -> ExportStory:
    """The export story with deterministic lanes: no random selection unless a test says so."""
    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    return ExportStory(client, parties)


@pytest.fixture
def customs_outbox(session_factory: sessionmaker[Session]) -> Callable[[], int]:
    """Run customs' own reactions only: tests play inspection's part explicitly."""
    dispatcher = Dispatcher()
    customs_handlers.register(dispatcher)
    relay = Relay(session_factory, dispatcher, OutboxSettings(batch_size=500))

    def _run() -> int:
        total = 0
        while handled := relay.run_once():
            total += handled
        return total

    return _run


@pytest.fixture
def inspection_clears(
    session_factory: sessionmaker[Session], customs_outbox: Callable[[], int]
) -> Iterator[Callable[[str], None]]:
    def _clear(invt_no: str) -> None:
        with session_factory.begin() as session:
            inventory_id = session.scalars(
                select(Inventory.id).where(Inventory.invt_no == invt_no)
            ).one()
            outbox.publish(
                session, InspectionCleared(inventory_id=inventory_id, reason="not selected")
            )
        customs_outbox()

    return _clear
