"""The golden export story, re-keyed per test, and customs' reactions in isolation."""

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
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
from app.window.signature import Algorithm, sign
from tests.support.identities import Identity, make_rsa_identity

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


IMPORT_PARTIES = {
    "4301990011": ["ebp"],
    "4301990012": ["ebc"],
    "4301990013": ["agent"],
    "4301990014": ["logistics"],
    "4301990015": ["payment"],
    "4301990016": ["guarantor"],
    "4301990017": ["operator"],
}
IMPORT_AGENT = "4301990013"
IMPORT_SENDERS = {
    311: "4301990011",
    411: "4301990015",
    511: "4301990014",
    711: "4301990017",
    621: IMPORT_AGENT,
    623: IMPORT_AGENT,
    625: IMPORT_AGENT,
}
# The import XSD requires ds:Signature on these (tests/samples/README.md).
IMPORT_SIGNED = frozenset({621, 623, 625, 711})
GOLDEN_BUYER = "430102199001011234"
Changes = dict[int, dict[str, Any]]


def import_amounts(items: dict[int, tuple[str, str]], freight: str = "10.00") -> Changes:
    """Order, payment and list changes that declare these lines (gnum → qty, unit price) and
    only these, with amounts that agree (no tax collected on the order, no discount)."""
    goods = Decimal(0)
    order_edits: dict[str, str] = {}
    list_edits: dict[str, str] = {}
    for gnum, (qty, price) in items.items():
        total = Decimal(qty) * Decimal(price)
        goods += total
        for path, edits in (("//ceb:OrderList", order_edits), ("//ceb:InventoryList", list_edits)):
            line = f"{path}[ceb:gnum={gnum}]"
            edits |= {
                f"{line}/ceb:qty": qty,
                f"{line}/ceb:price": price,
                f"{line}/ceb:totalPrice": str(total),
            }
    drop = tuple(
        f"//ceb:{name}[not({' or '.join(f'ceb:gnum={g}' for g in items)})]"
        for name in ("OrderList", "InventoryList")
    )
    paid = str(goods + Decimal(freight))
    return {
        311: {
            "edits": order_edits,
            "drop": drop,
            "goodsValue": str(goods),
            "freight": freight,
            "taxTotal": "0",
            "acturalPaid": paid,
        },
        411: {"amountPaid": paid},
        511: {"freight": freight},
        621: {"edits": list_edits, "drop": drop, "freight": freight},
    }


class ImportStory:
    """The golden import documents re-keyed by a suffix, signed where the XSD wants it."""

    def __init__(self, client: TestClient, parties: dict[str, Headers], identity: Identity) -> None:
        self.client = client
        self.parties = parties
        self.identity = identity

    def message(
        self,
        n: int,
        suffix: str,
        edits: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        buyer: str = GOLDEN_BUYER,
        **fields: str,
    ) -> bytes:
        """The golden message re-keyed (and for another ``buyer``); ``fields`` set every
        element of that name, ``edits`` the elements an XPath selects, ``drop`` removes some."""
        root = etree.parse(str(SAMPLES / "import" / f"CEB{n}Message.xml")).getroot()
        root.set("guid", str(uuid.uuid4()).upper())
        for element in root.iter(f"{{{CEB}}}guid"):
            element.text = str(uuid.uuid4()).upper()
        renames = {
            "IMP-ORDER-0001": f"IMP-ORDER-{suffix}",
            "IMPWB0000000001": f"IMPWB{suffix}",
            "IMP-COP-0001": f"IMP-COP-{suffix}",
            "IMP-CCL-0001": f"IMP-CCL-{suffix}",
            "IMP-RFD-0001": f"IMP-RFD-{suffix}",
            "IMP-RKD-0001": f"IMP-RKD-{suffix}",
            "XHPAY202611050001": f"XHPAY{suffix}",
            GOLDEN_BUYER: buyer,
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
        for path in drop:
            for element in root.xpath(path, namespaces=NS):
                element.getparent().remove(element)
        if n in IMPORT_SIGNED:
            sign(
                root,
                private_key=self.identity.key_pem,
                certificate=self.identity.cert_pem,
                algorithm=Algorithm.RSA_SHA256,
            )
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def post(self, n: int, suffix: str, **change: Any) -> Response:
        response = self.client.post(
            "/api/v1/messages",
            content=self.message(n, suffix, **change),
            headers={**self.parties[IMPORT_SENDERS[n]], "Content-Type": "application/xml"},
        )
        assert response.status_code == 200, response.text
        return response

    def partners(self, suffix: str, changes: Changes | None = None, **common: Any) -> None:
        """Order, payment and waybill (311, 411, 511), each answered 120 on its own."""
        for n in (311, 411, 511):
            answer = self.post(n, suffix, **{**common, **(changes or {}).get(n, {})})
            assert statuses(answer.content) == ["120"], answer.text

    def declare(
        self, suffix: str, changes: Changes | None = None, **common: Any
    ) -> tuple[list[str], dict[str, Any]]:
        """Partners, then the list: its synchronous statuses and the list as its agent sees it."""
        self.partners(suffix, changes, **common)
        answer = self.post(621, suffix, **{**common, **(changes or {}).get(621, {})})
        return statuses(answer.content), self.get(f"IMP-COP-{suffix}")

    def get(self, key: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/inventories/{key}", headers=self.parties[IMPORT_AGENT])
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def receipts(self, message_type: str, code: str = IMPORT_AGENT) -> list[dict[str, Any]]:
        """The enterprise's receipts of one type, oldest first (JSON mirror)."""
        rows = self.client.get("/api/v1/receipts?limit=1000", headers=self.parties[code])
        assert rows.status_code == 200, rows.text
        return [r for r in rows.json()["receipts"] if r["messageType"] == message_type]


@pytest.fixture(scope="module")
def import_identity() -> Identity:
    """One signing key per module: the test settings do not verify it, the XSD wants it."""
    return make_rsa_identity(0x1F7F, "湘江报关行 test signer")


# The starting rates migration 0003 seeds (prefix, duty, VAT, consumption tax).
@pytest.fixture
def import_story(
    client: TestClient,
    register: Callable[..., Headers],
    admin: Headers,
    import_identity: Identity,
) -> ImportStory:
    """The import story with deterministic lanes: no random selection unless a test says so."""
    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    parties = {code: register(code, *roles) for code, roles in IMPORT_PARTIES.items()}
    return ImportStory(client, parties, import_identity)
