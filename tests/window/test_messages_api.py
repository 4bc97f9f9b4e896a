"""POST /api/v1/messages and GET /api/v1/receipts through the real app.

Receipts out for every inbound golden type (valid against our schemas and the official XSD);
the three body forms (XML, DxpMsg, JSON mirror); CEB900 for format errors; 413; idempotent
resubmission; business errors as negative receipts; who may send and read what.
"""

import base64
import copy
import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, text

from app.ceb import codes
from app.ceb.catalogue import INBOUND
from app.main import cached_schemas
from app.window.xsd import Schemas, SchemaSet, default_xsd_dir, schema_set_for

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "ceb"
CEB = "http://www.chinaport.gov.cn/ceb"
DXP = "http://www.chinaport.gov.cn/dxp"
BATCH = "urn:singlewindow:receipts"
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
IMPORT_PARTIES = {
    "4301990011": ["ebp"],
    "4301990012": ["ebc"],
    "4301990013": ["agent"],
    "4301990014": ["logistics"],
    "4301990015": ["payment"],
    "4301990016": ["guarantor"],
    "4301990017": ["operator"],
}
EBP, EBC, AGENT, LOGISTICS, PAY = (
    "4301990001",
    "4301990002",
    "4301990003",
    "4301990004",
    "4301990005",
)
# Every golden message that can be sent unsigned (621/623/625/711 need a ds:Signature).
UNSIGNED_INBOUND = [
    *(("export", n) for n in (303, 403, 505, 507, 509, 603, 605, 607, 213, 215, 701)),
    *(("import", n) for n in (311, 411, 511, 513)),
]
TEN_MIB = 10 * 1024 * 1024
ALL_ROLES = ("ebp", "ebc", "agent", "logistics", "payment", "operator", "guarantor")
OUTSIDER = "4301990008"  # registered with every role, named in no document


def sample(direction: str, n: int) -> bytes:
    return (SAMPLES / direction / f"CEB{n}Message.xml").read_bytes()


@pytest.fixture
def export_parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}


@pytest.fixture
def import_parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in IMPORT_PARTIES.items()}


def post(client: TestClient, body: bytes, headers: Headers, **extra: str) -> httpx.Response:
    return client.post(
        "/api/v1/messages",
        content=body,
        headers={**headers, "Content-Type": "application/xml", **extra},
    )


def receipt_statuses(body: bytes) -> list[str]:
    return etree.fromstring(body).xpath("//ceb:returnStatus/text()", namespaces=NS)


# ------------------------------------------------------------------------------ helpers


def new_guid() -> str:
    return str(uuid.uuid4()).upper()


def sender_of(body: bytes) -> str:
    found = re.search(rb"<ceb:copCode>([^<]+)</ceb:copCode>", body)
    assert found, "the sample names no sender"
    return found.group(1).decode()


def edit(body: bytes, *, fresh_guid: bool = True, **fields: str | None) -> bytes:
    """The message with a new root guid and every element named in ``fields`` set (None: drop)."""
    root = etree.fromstring(body)
    if fresh_guid:
        root.set("guid", new_guid())
    for name, value in fields.items():
        found = root.xpath(f"//ceb:{name}", namespaces=NS)
        assert found, f"no ceb:{name} in the message"
        for element in found:
            if value is None:
                element.getparent().remove(element)
            else:
                element.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def app_time(body: bytes) -> datetime:
    value = etree.fromstring(body).xpath("string(//ceb:appTime)", namespaces=NS)
    return datetime.strptime(value, "%Y%m%d%H%M%S")  # noqa: DTZ007 - CEB times are China time


def shifted(body: bytes, minutes: int) -> str:
    return (app_time(body) + timedelta(minutes=minutes)).strftime("%Y%m%d%H%M%S")


def returns(response: httpx.Response) -> list[dict[str, str]]:
    """The *Return entities of a receipt message, as field dictionaries."""
    root = etree.fromstring(response.content)
    return [
        {etree.QName(field).localname: field.text or "" for field in entity}
        for entity in root
        if isinstance(entity.tag, str)
    ]


def statuses(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(entity["returnStatus"]) for entity in returns(response)]


def ours() -> Schemas:
    return cached_schemas(default_xsd_dir())


@cache
def official(schema_set: SchemaSet) -> etree.XMLSchema | None:
    """The official 202205 XSD of a set, or None when the reference folder is absent."""
    name = {SchemaSet.EXPORT: "ceb-export-business-202205.xsd"}.get(
        schema_set, "ceb-import-business-202205.xsd"
    )
    path = REF / "xsd-202205" / name
    if not path.is_file():
        return None
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def assert_standard(message: etree._Element) -> bool:
    """The receipt validates against our schema of its set and, when present, the official one.

    Returns whether the official XSD was there to check against.
    """
    schema_set = schema_set_for(etree.QName(message).localname)
    assert ours().validate(message, schema_set) == []
    schema = official(schema_set)
    if schema is None:
        return False
    assert schema.validate(message), [str(e) for e in schema.error_log]
    return True


def count_rows(engine: Engine, *tables: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in tables
        }


EFFECTS = ("customs_document", "customs_inventory", "customs_inventory_line", "receipt")


def declare_partners(client: TestClient, parties: dict[str, Headers]) -> None:
    """The order, the 收款单 and the waybill a list is matched against (三单对碰)."""
    for n, sender in ((303, EBP), (403, PAY), (505, LOGISTICS)):
        assert statuses(post(client, sample("export", n), parties[sender])) == [120]


def return_info(response: httpx.Response) -> str:
    return etree.fromstring(response.content).xpath("string(//ceb:returnInfo)", namespaces=NS)


# --------------------------------------------------------------------------- the story


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


# ------------------------------------------------------------------------ receipts out


class TestReceiptsOut:
    def test_every_receipt_is_the_standard_message_and_validates(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        """The golden stories in order, each message as its sender; every receipt checked."""
        parties = {**EXPORT_PARTIES, **IMPORT_PARTIES}
        headers = {code: register(code, *roles) for code, roles in parties.items()}
        failures: dict[str, str] = {}
        checked_official = True
        for direction, n in UNSIGNED_INBOUND:
            body = sample(direction, n)
            response = post(client, body, headers[sender_of(body)])
            try:
                assert response.status_code == 200, response.text
                assert response.headers["content-type"].startswith("application/xml")
                message = etree.fromstring(response.content)
                assert etree.QName(message).localname == INBOUND[f"CEB{n}"].receipt_root
                [entity] = returns(response)
                entity_guid = etree.fromstring(body).xpath("string(//ceb:guid)", namespaces=NS)
                assert entity["guid"] == entity_guid
                assert re.fullmatch(r"-?\d+", entity["returnStatus"])
                assert re.fullmatch(r"\d{17}", entity["returnTime"])
                checked_official = assert_standard(message) and checked_official
            except AssertionError as exc:
                failures[f"CEB{n}"] = str(exc)[:500]
        assert not failures, failures
        if not checked_official:
            pytest.skip(f"{REF} absent: checked against our schema only")

    def test_a_refusal_is_a_standard_message_too(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        """Every type sent by an enterprise no document names: the family's forbidden code."""
        for code, roles in {**EXPORT_PARTIES, **IMPORT_PARTIES}.items():
            register(code, *roles)
        outsider = register(OUTSIDER, *ALL_ROLES)
        failures: dict[str, object] = {}
        for direction, n in UNSIGNED_INBOUND:
            response = post(client, edit(sample(direction, n), copCode=OUTSIDER), outsider)
            spec = INBOUND[f"CEB{n}"]
            try:
                assert statuses(response) == [spec.errors.forbidden]
                assert OUTSIDER in return_info(response)
                message = etree.fromstring(response.content)
                assert etree.QName(message).localname == spec.receipt_root
                assert_standard(message)
            except AssertionError as exc:
                failures[f"CEB{n}"] = str(exc)[:500]
        assert not failures, failures

    def test_json_reply_mirrors_the_receipt(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        response = post(
            client, sample("export", 303), export_parties[EBP], Accept="application/json"
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        [(root, body)] = response.json().items()
        assert root == "CEB304Message"
        assert body["version"] == "1.0" and len(body["guid"]) == 36
        [entity] = body["OrderReturn"]
        assert entity["ebpCode"] == EBP and entity["ebcCode"] == EBC
        assert entity["orderNo"] == "EXP-ORDER-0001"
        assert entity["returnStatus"] == "120"
        assert re.fullmatch(r"\d{17}", entity["returnTime"])

    def test_dxp_envelope_carries_the_message(
        self, client: TestClient, import_parties: dict[str, Headers]
    ) -> None:
        envelope = dxp_msg(sample("import", 311), cop_msg_id="IMP-DXP-0001")
        assert ours().validate(etree.fromstring(envelope), SchemaSet.DXP) == []

        response = post(client, envelope, import_parties["4301990011"])

        assert response.status_code == 200, response.text
        message = etree.fromstring(response.content)
        assert etree.QName(message).localname == "CEB312Message"
        [entity] = returns(response)
        assert entity["orderNo"] == "IMP-ORDER-0001" and entity["returnStatus"] == "120"
        assert_standard(message)

    def test_dxp_envelope_with_an_invalid_message_gets_a_900_naming_the_envelope(
        self, client: TestClient, import_parties: dict[str, Headers]
    ) -> None:
        inner = edit(sample("import", 311), buyerIdNumber=None)
        response = post(
            client, dxp_msg(inner, cop_msg_id="IMP-DXP-0002"), import_parties["4301990011"]
        )

        assert response.status_code == 400, response.text
        [entity] = returns(response)
        assert entity["oriCopMsgId"] == "IMP-DXP-0002"
        assert entity["oriMessageType"] == "CEB311Message"
        assert "buyerIdNumber" in entity["returnInfo"]
        assert_standard(etree.fromstring(response.content))

    def test_dxp_envelope_with_data_that_is_not_base64_is_a_900(
        self, client: TestClient, import_parties: dict[str, Headers]
    ) -> None:
        envelope = dxp_msg(b"", cop_msg_id="IMP-DXP-0003").replace(
            b"<dxp:Data></dxp:Data>", b"<dxp:Data>not base64!</dxp:Data>"
        )
        response = post(client, envelope, import_parties["4301990011"])

        assert response.status_code == 400, response.text
        [entity] = returns(response)
        assert entity["oriMessageType"] == "DxpMsg"
        assert "dxp:Data" in entity["returnInfo"]

    def test_json_mirror_in_any_child_order(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        parties = {**EXPORT_PARTIES, **IMPORT_PARTIES}
        headers = {code: register(code, *roles) for code, roles in parties.items()}
        for direction, n, reply in [("export", 303, "CEB304"), ("import", 311, "CEB312")]:
            body = sample(direction, n)
            mirror = json_mirror(etree.fromstring(body), reverse=True)
            first_keys = list(mirror[f"CEB{n}Message"])
            assert first_keys[0] != "guid", "the children should be out of the XSD order"

            response = client.post(
                "/api/v1/messages",
                json=mirror,
                headers={**headers[sender_of(body)], "Accept": "application/xml"},
            )

            assert response.status_code == 200, response.text
            message = etree.fromstring(response.content)
            assert etree.QName(message).localname == f"{reply}Message"
            [entity] = returns(response)
            assert entity["returnStatus"] == "120"
            entity_guid = etree.fromstring(body).xpath("string(//ceb:guid)", namespaces=NS)
            assert entity["guid"] == entity_guid
            assert_standard(message)

    def test_json_mirror_answers_in_json_by_default(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        mirror = json_mirror(etree.fromstring(sample("export", 505)), reverse=False)
        response = client.post("/api/v1/messages", json=mirror, headers=export_parties[LOGISTICS])

        assert response.status_code == 200, response.text
        [entity] = response.json()["CEB506Message"]["LogisticsReturn"]
        assert entity["logisticsNo"] == "EXPWB0000000001" and entity["returnStatus"] == "120"


def dxp_msg(message: bytes, *, cop_msg_id: str) -> bytes:
    data = base64.b64encode(message).decode()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<dxp:DxpMsg xmlns:dxp="{DXP}" ver="1.0"><dxp:TransInfo>'
        f"<dxp:CopMsgId>{cop_msg_id}</dxp:CopMsgId><dxp:SenderId>DXPENT0000000001</dxp:SenderId>"
        "<dxp:ReceiverIds><dxp:ReceiverId>DXPEDCCEB0000002</dxp:ReceiverId></dxp:ReceiverIds>"
        "<dxp:CreatTime>2026-11-05T10:00:00</dxp:CreatTime><dxp:MsgType>CEB311Message</dxp:MsgType>"
        f"</dxp:TransInfo><dxp:Data>{data}</dxp:Data></dxp:DxpMsg>"
    ).encode()


def json_mirror(root: etree._Element, *, reverse: bool) -> dict[str, Any]:
    """The JSON mirror of an XML message; entities and lines as arrays, keys optionally reversed."""
    spec = INBOUND[etree.QName(root).localname.removesuffix("Message")]
    arrays = {spec.entity, spec.lines}

    def convert(element: etree._Element) -> Any:
        if len(element) == 0:
            return element.text or ""
        out: dict[str, Any] = {}
        for child in element:
            name = etree.QName(child).localname
            if name in arrays:
                out.setdefault(name, []).append(convert(child))
            else:
                out[name] = convert(child)
        return dict(reversed(out.items())) if reverse else out

    body = {"guid": root.get("guid"), "version": root.get("version"), **convert(root)}
    if reverse:
        body = dict(reversed(body.items()))
    return {etree.QName(root).localname: body}


# ----------------------------------------------------------------------- format errors


def position(body: bytes, marker: bytes, occurrence: int = 0) -> tuple[int, int]:
    """Line and column (1-based, in characters) of the n-th occurrence of ``marker``."""
    at = -1
    for _ in range(occurrence + 1):
        at = body.index(marker, at + 1)
    before = body[:at].decode()
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


ISSUE = re.compile(r"line (\d+), column (\d+), (/\S+): ")


class TestFormatErrors:
    def test_every_schema_error_is_listed_with_line_column_and_path(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        body = (
            edit(sample("export", 303))
            .replace(b"<ceb:orderType>E<", b"<ceb:orderType>EEEE<")
            .replace(b"<ceb:goodsValue>1010.00<", b"<ceb:goodsValue>abc<")
            .replace(b"<ceb:copName>", b"<ceb:copNameX>x</ceb:copNameX><ceb:copName>")
        )
        guid = etree.fromstring(body).get("guid")
        head = "/ceb:CEB303Message/ceb:Order/ceb:OrderHead/ceb:"
        expected = {
            (*position(body, b"<ceb:orderType>"), f"{head}orderType"),
            (*position(body, b"<ceb:goodsValue>"), f"{head}goodsValue"),
            (
                *position(body, b"<ceb:copNameX>"),
                "/ceb:CEB303Message/ceb:BaseTransfer/ceb:copNameX",
            ),
        }

        response = post(client, body, export_parties[EBP])

        assert response.status_code == 400, response.text
        message = etree.fromstring(response.content)
        assert etree.QName(message).localname == "CEB900Message"
        [entity] = returns(response)
        assert entity["guid"] == guid
        assert entity["returnStatus"] == "-2"
        assert entity["oriMessageType"] == "CEB303Message"
        assert entity["oriBizMessage"] == body.decode()
        listed = {(int(li), int(co), path) for li, co, path in ISSUE.findall(entity["returnInfo"])}
        assert listed == expected, entity["returnInfo"]
        for fragment in ("length", "N19_5", "not expected"):
            assert fragment in entity["returnInfo"]
        assert_standard(message)

    def test_errors_on_one_long_line_point_at_their_own_columns(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        root = etree.fromstring(sample("export", 303))
        for element in root.iter():
            element.tail = None
            if len(element):
                element.text = None
        quantities = root.xpath("//ceb:OrderList/ceb:qty", namespaces=NS)
        quantities[0].text, quantities[1].text = "two", "three"
        body = etree.tostring(root, encoding="unicode").encode()
        assert b"\n" not in body

        response = post(client, body, export_parties[EBP])

        assert response.status_code == 400, response.text
        listed = [(int(li), int(co), path) for li, co, path in ISSUE.findall(return_info(response))]
        assert sorted(listed) == [
            (
                *position(body, b"<ceb:qty>", i),
                f"/ceb:CEB303Message/ceb:Order/ceb:OrderList[{i + 1}]/ceb:qty",
            )
            for i in (0, 1)
        ]

    def test_malformed_xml_is_a_900_with_line_and_column(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        body = sample("export", 303).replace(b"</ceb:orderNo>", b"</ceb:orderNumber>")

        response = post(client, body, export_parties[EBP])

        assert response.status_code == 400, response.text
        message = etree.fromstring(response.content)
        [entity] = returns(response)
        assert entity["returnStatus"] == "-1"
        line, _ = position(body, b"</ceb:orderNumber>")
        assert re.search(rf"line {line}, column \d+: not well-formed", entity["returnInfo"])
        assert "orderNo" in entity["returnInfo"]
        assert_standard(message)

    def test_a_message_type_the_window_does_not_know_is_a_900(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        body = f'<ceb:CEB999Message xmlns:ceb="{CEB}" guid="{new_guid()}" version="1.0"/>'
        response = post(client, body.encode(), export_parties[EBP])

        assert response.status_code == 400, response.text
        assert "unknown message type CEB999" in return_info(response)

    def test_oversize_body_is_413(
        self, client: TestClient, export_parties: dict[str, Headers], engine: Engine
    ) -> None:
        limit = client.app.state.settings.max_message_bytes  # type: ignore[attr-defined]
        assert limit == TEN_MIB
        body = b"<" + b"x" * TEN_MIB

        declared = post(client, body, export_parties[EBP])
        streamed = client.post(
            "/api/v1/messages",
            content=iter([body[: len(body) // 2], body[len(body) // 2 :]]),
            headers={**export_parties[EBP], "Content-Type": "application/xml"},
        )

        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"] == "PayloadTooLarge"
            assert str(TEN_MIB) in response.json()["detail"]
        assert count_rows(engine, "window_message", "receipt") == {
            "window_message": 0,
            "receipt": 0,
        }


# ------------------------------------------------------------------------- idempotency


class TestIdempotency:
    def test_resubmission_replays_the_receipts_without_new_effects(
        self, client: TestClient, export_parties: dict[str, Headers], engine: Engine
    ) -> None:
        declare_partners(client, export_parties)
        first = post(client, sample("export", 603), export_parties[AGENT])
        assert statuses(first) == [120]
        before = count_rows(engine, *EFFECTS, "outbox_message")

        again = post(client, sample("export", 603), export_parties[AGENT])

        assert again.status_code == 200, again.text
        assert again.headers.get("X-Replayed") == "true"
        assert returns(again) == returns(first)
        assert count_rows(engine, *EFFECTS, "outbox_message") == before
        assert before["customs_inventory"] == 1

    def test_same_guid_with_other_content_is_409(
        self, client: TestClient, export_parties: dict[str, Headers], engine: Engine
    ) -> None:
        body = sample("export", 303)
        assert statuses(post(client, body, export_parties[EBP])) == [120]
        before = count_rows(engine, *EFFECTS)

        response = post(client, edit(body, fresh_guid=False, note="改了备注"), export_parties[EBP])

        assert response.status_code == 409, response.text
        assert response.json()["error"] == "Conflict"
        assert "EE5EFA27-CD91-5067-A03E-487CE0BF4FBD" in response.json()["detail"]
        assert count_rows(engine, *EFFECTS) == before

    @pytest.mark.postgres_only
    def test_two_racing_copies_get_the_same_receipts_and_one_list(
        self, client: TestClient, export_parties: dict[str, Headers], engine: Engine
    ) -> None:
        declare_partners(client, export_parties)
        body = sample("export", 603)
        barrier = threading.Barrier(2)
        responses: list[httpx.Response] = []

        def send() -> None:
            barrier.wait(timeout=10)
            responses.append(post(client, body, export_parties[AGENT]))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        assert returns(responses[0]) == returns(responses[1])
        assert [e["returnStatus"] for e in returns(responses[0])] == ["120"]
        assert sorted(r.headers.get("X-Replayed", "") for r in responses) == ["", "true"]
        assert count_rows(engine, "customs_inventory")["customs_inventory"] == 1


# -------------------------------------------------------------------- business errors


class TestBusinessErrors:
    def test_an_order_declared_twice_is_minus_301010(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        assert statuses(post(client, sample("export", 303), export_parties[EBP])) == [120]
        again = post(client, edit(sample("export", 303)), export_parties[EBP])
        assert statuses(again) == [-301010]
        assert "EXP-ORDER-0001" in return_info(again)

    def test_a_waybill_declared_twice_is_minus_504012(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        assert statuses(post(client, sample("export", 505), export_parties[LOGISTICS])) == [120]
        again = post(client, edit(sample("export", 505)), export_parties[LOGISTICS])
        assert statuses(again) == [-504012]

    def test_a_list_declared_twice_is_minus_621004(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        declare_partners(client, export_parties)
        assert statuses(post(client, sample("export", 603), export_parties[AGENT])) == [120]
        again = post(client, edit(sample("export", 603)), export_parties[AGENT])
        assert statuses(again) == [-621004]
        assert "EXP-COP-0001" in return_info(again)

    def test_changing_an_unknown_list_is_minus_621011(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        response = post(client, edit(sample("export", 603), appType="2"), export_parties[AGENT])
        assert statuses(response) == [-621011]

    def test_an_older_app_time_is_the_stale_code(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        for n, sender, family, standard in [
            (303, EBP, codes.ORDER, -301014),
            (403, PAY, codes.PAYMENT, -401012),
            # The list table has no 旧报文 code of its own: its generic 清单报文校验失败.
            (603, AGENT, codes.INVENTORY, -621001),
        ]:
            staged = edit(sample("export", n), appStatus="1")
            assert statuses(post(client, staged, export_parties[sender])) == [1]
            older = edit(staged, appType="2", appTime=shifted(staged, -60))

            response = post(client, older, export_parties[sender])

            assert statuses(response) == [family.stale] == [standard], n
            assert "旧报文数据" in return_info(response)

    def test_a_list_repeating_a_gnum_is_minus_621027(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        root = etree.fromstring(edit(sample("export", 603)))
        root.xpath("//ceb:InventoryList[2]/ceb:gnum", namespaces=NS)[0].text = "1"
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

        assert statuses(post(client, body, export_parties[AGENT])) == [-621027]

    def test_a_party_not_registered_is_minus_10102(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        body = edit(sample("export", 303), ebcCode="4301990099")
        response = post(client, body, export_parties[EBP])
        assert statuses(response) == [-10102]
        assert "4301990099" in return_info(response)

    def test_a_party_without_the_role_is_minus_10101(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        body = edit(sample("export", 303), ebcCode=LOGISTICS)
        response = post(client, body, export_parties[EBP])
        assert statuses(response) == [-10101]
        assert LOGISTICS in return_info(response)

    def test_a_sender_that_is_not_a_party_gets_the_forbidden_code(
        self,
        client: TestClient,
        register: Callable[..., Headers],
        export_parties: dict[str, Headers],
    ) -> None:
        outsider = register(OUTSIDER, "ebp", "ebc", "agent")
        for n, forbidden in [(303, codes.ORDER.forbidden), (603, -621016)]:
            response = post(client, edit(sample("export", n), copCode=OUTSIDER), outsider)

            assert statuses(response) == [forbidden], n
            assert OUTSIDER in return_info(response)

    @pytest.mark.parametrize("app_type", ["1", "2"])
    def test_a_staged_list_declared_later_keeps_its_pre_no(
        self, client: TestClient, export_parties: dict[str, Headers], app_type: str
    ) -> None:
        declare_partners(client, export_parties)
        staged = edit(sample("export", 603), appStatus="1")

        first = post(client, staged, export_parties[AGENT])

        assert statuses(first) == [1]
        [receipt] = returns(first)
        assert re.fullmatch(r"B\d{17}", receipt["preNo"])
        assert receipt.get("invtNo", "") == ""

        declared = edit(staged, appType=app_type, appStatus="2", appTime=shifted(staged, 5))
        second = post(client, declared, export_parties[AGENT])

        assert statuses(second) == [120]
        [accepted] = returns(second)
        assert accepted["preNo"] == receipt["preNo"]
        assert re.fullmatch(r"4900\d{4}E\d{9}", accepted["invtNo"])


# ------------------------------------------------------------------------------ access


class TestAccess:
    def test_a_caller_cannot_send_as_another_enterprise(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        response = post(client, sample("export", 303), export_parties[EBC])

        assert response.status_code == 403, response.text
        assert response.json()["error"] == "Forbidden"
        assert EBP in response.json()["detail"] and EBC in response.json()["detail"]
        for code in (EBP, EBC):
            listed = client.get("/api/v1/receipts", headers=export_parties[code])
            assert listed.json()["receipts"] == []

    def test_a_caller_without_the_role_the_message_needs_is_403(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        payer_only = register(EBP, "payment")
        response = post(client, sample("export", 303), payer_only)

        assert response.status_code == 403, response.text
        assert response.json()["error"] == "Forbidden"
        assert "ebp" in response.json()["detail"]

    def test_officers_banks_and_admins_cannot_send_messages(
        self, client: TestClient, principal: Callable[..., Headers], admin: Headers
    ) -> None:
        callers = {
            "officer": principal("officer", agency="customs", customs_codes=["4900"]),
            "bank": principal("bank", bank_code="BANK1"),
            "admin": admin,
        }
        for kind, headers in callers.items():
            response = post(client, sample("export", 303), headers)
            listed = client.get("/api/v1/receipts", headers=headers)

            for answer in (response, listed):
                assert answer.status_code == 403, (kind, answer.text)
                assert answer.json()["error"] == "Forbidden"

    def test_no_key_is_401(self, client: TestClient) -> None:
        response = post(client, sample("export", 303), {})
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"

    def test_receipts_are_private_and_paged(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        ebp = export_parties[EBP]
        for i in range(4):
            order = edit(sample("export", 303), orderNo=f"EXP-ORDER-000{i + 1}")
            assert statuses(post(client, order, ebp)) == [120]
        assert post(client, b"<broken", ebp).status_code == 400
        assert statuses(post(client, sample("export", 403), export_parties[PAY])) == [120]

        first = client.get("/api/v1/receipts", params={"limit": 3}, headers=ebp).json()
        rest = client.get(
            "/api/v1/receipts", params={"after": first["next_after"], "limit": 3}, headers=ebp
        ).json()
        payer = client.get("/api/v1/receipts", headers=export_parties[PAY]).json()
        ebc = client.get("/api/v1/receipts", headers=export_parties[EBC]).json()

        assert [r["messageType"] for r in first["receipts"]] == ["CEB304"] * 3
        assert first["next_after"] == first["receipts"][-1]["position"]
        assert [r["messageType"] for r in rest["receipts"]] == ["CEB304", "CEB900"]
        assert rest["next_after"] is None
        orders = [r["OrderReturn"]["orderNo"] for r in first["receipts"] + rest["receipts"][:1]]
        assert orders == [f"EXP-ORDER-000{i}" for i in (1, 2, 3, 4)]
        ids = [r["id"] for r in first["receipts"] + rest["receipts"]]
        assert ids == sorted(ids) and len(set(ids)) == 5
        assert [r["messageType"] for r in payer["receipts"]] == ["CEB404"]
        assert payer["receipts"][0]["id"] not in ids
        assert ebc == {"receipts": [], "next_after": None}

    def test_a_list_moved_on_by_another_message_is_answered_to_its_declarant(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        for n, sender in ((303, EBP), (403, PAY)):
            assert statuses(post(client, sample("export", n), export_parties[sender])) == [120]
        waiting = post(client, sample("export", 603), export_parties[AGENT])
        assert statuses(waiting) == [2], "without its waybill the list waits (申报中)"

        waybill = post(client, sample("export", 505), export_parties[LOGISTICS])

        assert etree.QName(etree.fromstring(waybill.content)).localname == "CEB506Message"
        assert statuses(waybill) == [120]
        agent = client.get("/api/v1/receipts", headers=export_parties[AGENT]).json()
        logistics = client.get("/api/v1/receipts", headers=export_parties[LOGISTICS]).json()
        lists = [r["InventoryReturn"] for r in agent["receipts"]]
        assert [r["returnStatus"] for r in lists][-1] == "120"
        assert re.fullmatch(r"4900\d{4}E\d{9}", lists[-1]["invtNo"])
        assert [r["messageType"] for r in agent["receipts"]] == ["CEB604"] * len(lists)
        assert [r["messageType"] for r in logistics["receipts"]] == ["CEB506"]

    def test_receipts_as_xml_are_a_batch_of_standard_messages(
        self, client: TestClient, export_parties: dict[str, Headers]
    ) -> None:
        ebp = export_parties[EBP]
        assert statuses(post(client, sample("export", 303), ebp)) == [120]
        assert post(client, b"", ebp).status_code == 400
        xml = {"Accept": "application/xml"}

        page = client.get("/api/v1/receipts", params={"limit": 1}, headers={**ebp, **xml})
        whole = client.get("/api/v1/receipts", headers={**ebp, **xml})

        assert page.status_code == 200 and whole.status_code == 200
        assert page.headers["content-type"].startswith("application/xml")
        page_root, whole_root = etree.fromstring(page.content), etree.fromstring(whole.content)
        assert page_root.tag == whole_root.tag == f"{{{BATCH}}}ReceiptBatch"
        assert page_root.get("next") is not None and whole_root.get("next") is None
        assert [etree.QName(m).localname for m in whole_root] == ["CEB304Message", "CEB900Message"]
        for message in whole_root:
            assert_standard(copy.deepcopy(message))


def test_an_app_status_other_than_stage_or_declare_is_refused(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    """The import schema lets appStatus run to three characters; only 1 and 2 mean anything."""
    headers = register("4301990011", "ebp")
    register("4301990012", "ebc")
    register("4301990015", "payment")
    body = (
        (SAMPLES / "import" / "CEB311Message.xml")
        .read_bytes()
        .replace(b"<ceb:appStatus>2</ceb:appStatus>", b"<ceb:appStatus>00</ceb:appStatus>")
    )
    response = client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    assert receipt_statuses(response.content) == ["-301008"]
