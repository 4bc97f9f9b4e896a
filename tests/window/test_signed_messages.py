"""Signatures through POST /messages: required where the standard says, by filed certificates."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from typer.testing import CliRunner

from app import clock
from app.cli import cli
from app.config import Settings
from app.main import create_app
from app.window import signature
from app.window.signature import Algorithm
from app.window.xmlsafe import parse_xml
from tests.support.identities import Identity, make_rsa_identity, make_sm2_identity

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NS = {"ceb": "http://www.chinaport.gov.cn/ceb"}
Headers = dict[str, str]
AGENT, EXPORT_PARTIES = (
    "4301990003",
    {
        "4301990001": ["ebp"],
        "4301990002": ["ebc"],
        "4301990003": ["agent"],
        "4301990004": ["logistics"],
        "4301990005": ["payment"],
        "4301990006": ["operator"],
    },
)
IMPORT_AGENT = "4301990013"


@pytest.fixture(scope="module")
def rsa() -> Identity:
    return make_rsa_identity(0x01691F7F, "长沙报关行 RSA")


@pytest.fixture(scope="module")
def sm2() -> Identity:
    return make_sm2_identity(0x03000000000CDE6F, "湘江报关行 SM2")


@pytest.fixture
def signing_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"require_signatures": True}))) as c:
        yield c


@pytest.fixture
def parties(signing_client: TestClient, admin: Headers) -> dict[str, Headers]:
    headers = {}
    for code, roles in EXPORT_PARTIES.items():
        body = {"code": code, "name": f"enterprise {code}", "roles": roles}
        assert (
            signing_client.post("/api/v1/enterprises", json=body, headers=admin).status_code == 201
        )
        key = signing_client.post(f"/api/v1/enterprises/{code}/keys", headers=admin).json()["key"]
        headers[code] = {"Authorization": f"Bearer {key}"}
    return headers


def file_cert(client: TestClient, code: str, identity: Identity, headers: Headers) -> str:
    response = client.post(
        f"/api/v1/enterprises/{code}/certificates",
        json={"certificate": identity.cert_pem.decode()},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def signed(
    n: int,
    identity: Identity,
    algorithm: Algorithm = Algorithm.RSA_SHA256,
    direction: str = "export",
) -> bytes:
    root = parse_xml((SAMPLES / direction / f"CEB{n}Message.xml").read_bytes())
    signature.sign(
        root, private_key=identity.key_pem, certificate=identity.cert_pem, algorithm=algorithm
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def post(client: TestClient, body: bytes, headers: Headers) -> list[str]:
    response = client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).xpath("//ceb:returnStatus/text()", namespaces=NS)


def info(client: TestClient, headers: Headers) -> str:
    receipts = client.get("/api/v1/receipts", headers=headers).json()["receipts"]
    return str(receipts[-1]["InventoryReturn"]["returnInfo"])


def new_guid(body: bytes) -> bytes:
    """The same message under a new message guid (a guid once accepted is never reused)."""
    root = parse_xml(body)
    root.set("guid", str(uuid.uuid4()).upper())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def unsigned(n: int) -> bytes:
    return (SAMPLES / "export" / f"CEB{n}Message.xml").read_bytes()


class TestRequiredSignatures:
    def test_a_list_signed_with_the_agents_filed_certificate_is_accepted(
        self, signing_client: TestClient, parties: dict[str, Headers], rsa: Identity
    ) -> None:
        file_cert(signing_client, AGENT, rsa, parties[AGENT])
        for n, sender in ((303, "4301990001"), (403, "4301990005"), (505, "4301990004")):
            assert post(signing_client, unsigned(n), parties[sender]) == ["120"]
        assert post(signing_client, signed(603, rsa), parties[AGENT]) == ["120"]

    def test_an_unsigned_list_is_refused_with_verify_failed(
        self, signing_client: TestClient, parties: dict[str, Headers]
    ) -> None:
        assert post(signing_client, unsigned(603), parties[AGENT]) == ["-621029"]
        assert "验签失败" in info(signing_client, parties[AGENT])

    def test_a_tampered_list_is_a_signed_data_mismatch(
        self, signing_client: TestClient, parties: dict[str, Headers], rsa: Identity
    ) -> None:
        file_cert(signing_client, AGENT, rsa, parties[AGENT])
        body = signed(603, rsa).replace(b"<ceb:qty>2</ceb:qty>", b"<ceb:qty>20</ceb:qty>")
        assert post(signing_client, body, parties[AGENT]) == ["-621028"]

    def test_a_certificate_not_filed_for_the_sender_is_refused(
        self, signing_client: TestClient, parties: dict[str, Headers], rsa: Identity
    ) -> None:
        file_cert(signing_client, "4301990002", rsa, parties["4301990002"])
        assert post(signing_client, signed(603, rsa), parties[AGENT]) == ["-621029"]
        assert "not filed" in info(signing_client, parties[AGENT])

    def test_a_revoked_certificate_is_refused(
        self, signing_client: TestClient, parties: dict[str, Headers], rsa: Identity
    ) -> None:
        cert_id = file_cert(signing_client, AGENT, rsa, parties[AGENT])
        revoked = signing_client.delete(
            f"/api/v1/enterprises/{AGENT}/certificates/{cert_id}", headers=parties[AGENT]
        )
        assert revoked.status_code == 204
        assert post(signing_client, signed(603, rsa), parties[AGENT]) == ["-621029"]

    def test_a_certificate_is_checked_at_the_time_of_the_message(
        self, signing_client: TestClient, parties: dict[str, Headers], rsa: Identity
    ) -> None:
        file_cert(signing_client, AGENT, rsa, parties[AGENT])
        with clock.using(lambda: datetime(2029, 1, 1, tzinfo=UTC)):
            assert post(signing_client, signed(603, rsa), parties[AGENT]) == ["-621029"]
        assert "not valid at" in info(signing_client, parties[AGENT])

    def test_messages_the_standard_does_not_require_signed_pass_unsigned(
        self, signing_client: TestClient, parties: dict[str, Headers]
    ) -> None:
        assert post(signing_client, unsigned(303), parties["4301990001"]) == ["120"]

    def test_an_arrival_needs_a_signature_only_when_declared(
        self, signing_client: TestClient, parties: dict[str, Headers]
    ) -> None:
        operator = parties["4301990006"]
        declared = unsigned(507)
        assert post(signing_client, declared, operator) == ["-1001"]
        staged = declared.replace(
            b"<ceb:appStatus>2</ceb:appStatus>", b"<ceb:appStatus>1</ceb:appStatus>"
        )
        assert post(signing_client, new_guid(staged), operator) == ["1"]


def test_an_sm2_signed_import_list_is_accepted(
    signing_client: TestClient, admin: Headers, sm2: Identity
) -> None:
    roles = {
        "4301990011": ["ebp"],
        "4301990012": ["ebc"],
        "4301990013": ["agent"],
        "4301990014": ["logistics"],
        "4301990015": ["payment"],
        "4301990016": ["guarantor"],
    }
    for code, role in roles.items():
        body = {"code": code, "name": f"enterprise {code}", "roles": role}
        assert (
            signing_client.post("/api/v1/enterprises", json=body, headers=admin).status_code == 201
        )
    key = signing_client.post(f"/api/v1/enterprises/{IMPORT_AGENT}/keys", headers=admin).json()
    agent = {"Authorization": f"Bearer {key['key']}"}
    file_cert(signing_client, IMPORT_AGENT, sm2, agent)
    body = signed(621, sm2, Algorithm.SM2_SM3, "import")
    assert post(signing_client, body, agent) == ["2"], "signed and waiting for its partners"


def test_the_cli_signs_what_the_window_verifies(tmp_path: Path, rsa: Identity) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_bytes(rsa.key_pem)
    cert.write_bytes(rsa.cert_pem)
    result = CliRunner().invoke(
        cli,
        [
            "sign",
            str(SAMPLES / "export" / "CEB603Message.xml"),
            "--key",
            str(key),
            "--cert",
            str(cert),
            "--algorithm",
            "rsa-sha256",
        ],
    )
    assert result.exit_code == 0, result.output
    verified = signature.verify(parse_xml(result.stdout_bytes))
    assert verified.serial == "01691f7f"


def test_certificate_upload_refuses_garbage(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    headers = register(AGENT, "agent")
    response = client.post(
        f"/api/v1/enterprises/{AGENT}/certificates",
        json={"certificate": "A" * 100},
        headers=headers,
    )
    assert response.status_code == 422
    assert "not a usable certificate" in response.json()["detail"]
