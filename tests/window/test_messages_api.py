"""POST /api/v1/messages with the golden samples: receipts, errors, idempotency, scoping."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree

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


def sample(direction: str, n: int) -> bytes:
    return (SAMPLES / direction / f"CEB{n}Message.xml").read_bytes()


@pytest.fixture
def export_parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}


def post(client: TestClient, body: bytes, headers: Headers, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/messages",
        content=body,
        headers={**headers, "Content-Type": "application/xml", **extra},
    )


def receipt_statuses(body: bytes) -> list[str]:
    return etree.fromstring(body).xpath("//ceb:returnStatus/text()", namespaces=NS)


class TestExportChain:
    def test_order_payment_waybill_and_list_are_accepted(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        for n, sender in ((303, "4301990001"), (403, "4301990005"), (505, "4301990004")):
            response = post(client, sample("export", n), export_parties[sender])
            assert response.status_code == 200, response.text
            assert receipt_statuses(response.content) == ["120"]
        response = post(client, sample("export", 603), export_parties["4301990003"])
        assert response.status_code == 200, response.text
        root = etree.fromstring(response.content)
        assert etree.QName(root).localname == "CEB604Message"
        assert root.xpath("//ceb:returnStatus/text()", namespaces=NS) == ["120"]
        pre_no = root.xpath("string(//ceb:preNo)", namespaces=NS)
        invt_no = root.xpath("string(//ceb:invtNo)", namespaces=NS)
        assert pre_no.startswith("B") and len(pre_no) == 18
        assert invt_no.startswith("49002026E") or invt_no[8] == "E"
        assert len(invt_no) == 18
