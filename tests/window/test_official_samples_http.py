"""The 39 official CEB 202205 samples through POST /api/v1/messages, each as its sender.

Reads the shared reference folder (../shared/reference/ceb); skipped when it is absent.
SOURCES.md there lists the 10 samples the official XSD itself rejects; the window must answer
those with a CEB900 naming the cause. Receipt samples (304 … 792) are messages the window
sends, never accepts. The remaining 11 are accepted (200) and answered with receipts that
validate against our schemas and the official XSD, whatever the business verdict (the samples
carry placeholder parties and values, and illustrative signatures).
"""

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from app.ceb import codes
from app.ceb.catalogue import INBOUND, OUTBOUND
from app.main import cached_schemas
from app.window.xsd import SchemaSet, default_xsd_dir, schema_set_for

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "ceb"
if not REF.is_dir():
    pytest.skip(f"CEB reference folder {REF} not present", allow_module_level=True)

CEB = "http://www.chinaport.gov.cn/ceb"
NS = {"ceb": CEB}
Headers = dict[str, str]
SAMPLES = sorted((REF / "samples-202205").glob("*/*.xml"))
ALL_ROLES = ("ebp", "ebc", "agent", "logistics", "payment", "operator", "guarantor")
# Every enterprise code the samples name; "ass201603081155" (an assureCode) is no valid code.
PARTIES = (
    "1105910159",
    "1105910158",
    "1101180326",
    "1101110325",
    "1101110323",
    "1101110326",
    "1101081122",
)
UNREGISTRABLE_SENDER = "JDGW20160310001"  # CEB625's copCode: 15 characters, not 10 or 18
# SOURCES.md: the samples the official XSD rejects, and the word the CEB900 must name.
KNOWN_INVALID = {
    **dict.fromkeys(("303", "403", "505", "507", "509", "603", "605", "607"), "BaseTransfer"),
    "214": "CEB214",
    "792": "gseqno",
}


def code_of(sample: Path) -> str:
    return sample.stem.removeprefix("CEB").removesuffix("Message")


INVALID = [s for s in SAMPLES if code_of(s) in KNOWN_INVALID]
RECEIPTS = [s for s in SAMPLES if f"CEB{code_of(s)}" in OUTBOUND and s not in INVALID]
ACCEPTED = [s for s in SAMPLES if s not in INVALID and s not in RECEIPTS]


def sender_of(body: bytes) -> str | None:
    found = re.search(rb"<ceb:copCode>([^<]+)</ceb:copCode>", body)
    return found.group(1).decode() if found else None


def post(client: TestClient, body: bytes, headers: Headers) -> httpx.Response:
    return client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": "application/xml"}
    )


@cache
def official(schema_set: SchemaSet) -> etree.XMLSchema:
    name = {SchemaSet.EXPORT: "ceb-export-business-202205.xsd"}.get(
        schema_set, "ceb-import-business-202205.xsd"
    )
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(REF / "xsd-202205" / name), parser))


def standard_problems(message: etree._Element) -> list[str]:
    """Why a receipt is not valid against our schema and the official one (empty: valid)."""
    schema_set = schema_set_for(etree.QName(message).localname)
    problems = [i.message for i in cached_schemas(default_xsd_dir()).validate(message, schema_set)]
    schema = official(schema_set)
    if not schema.validate(message):
        problems += [f"official: {e.message}" for e in schema.error_log]
    return problems


def message_return(response: httpx.Response) -> dict[str, str]:
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "CEB900Message", response.text[:300]
    [entity] = root.xpath("ceb:MessageReturn", namespaces=NS)
    return {etree.QName(child).localname: child.text or "" for child in entity}


def test_the_samples_are_the_ones_sources_md_describes() -> None:
    assert len(SAMPLES) == 39
    assert (len(INVALID), len(RECEIPTS), len(ACCEPTED)) == (10, 18, 11)
    assert {code_of(s) for s in ACCEPTED} == {
        "213", "215", "701", "311", "411", "511", "513", "621", "623", "625", "711",
    }  # fmt: skip


def test_the_sample_parties_can_be_registered_but_not_a_15_character_code(
    client: TestClient, register: Callable[..., Headers], admin: Headers
) -> None:
    for code in PARTIES:
        register(code, *ALL_ROLES)
    refused = client.post(
        "/api/v1/enterprises",
        json={"code": UNREGISTRABLE_SENDER, "name": "sample sender", "roles": list(ALL_ROLES)},
        headers=admin,
    )
    assert refused.status_code == 422, refused.text
    assert "10 characters" in refused.json()["detail"]


def test_the_invalid_samples_get_a_900_naming_the_cause(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    headers = {code: register(code, *ALL_ROLES) for code in ("1105910159", "1101180326")}
    failures: dict[str, object] = {}
    for sample in INVALID:
        body = sample.read_bytes()
        response = post(client, body, headers[sender_of(body) or "1105910159"])
        if response.status_code != 400:
            failures[sample.stem] = (response.status_code, response.text[:300])
            continue
        entity = message_return(response)
        cause = KNOWN_INVALID[code_of(sample)]
        problems = standard_problems(etree.fromstring(response.content))
        if cause not in entity["returnInfo"] or int(entity["returnStatus"]) >= 0 or problems:
            failures[sample.stem] = (entity["returnInfo"][:300], problems)
        if cause == "BaseTransfer" and not re.search(
            r"line \d+, column \d+, /ceb:CEB\d{3}Message/"
            r"ceb:BaseTransfer\[2\]",
            entity["returnInfo"],
        ):
            failures[sample.stem] = entity["returnInfo"][:300]
    assert not failures, failures


def test_the_receipt_samples_are_refused_the_window_sends_them(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    headers = register("1105910159", *ALL_ROLES)
    failures: dict[str, object] = {}
    for sample in RECEIPTS:
        response = post(client, sample.read_bytes(), headers)
        if response.status_code != 400:
            failures[sample.stem] = (response.status_code, response.text[:300])
            continue
        entity = message_return(response)
        expected = f"CEB{code_of(sample)} is a receipt the window sends, not a message it accepts"
        problems = standard_problems(etree.fromstring(response.content))
        if entity["returnInfo"] != expected or entity["oriMessageType"] != sample.stem or problems:
            failures[sample.stem] = (entity["returnInfo"][:300], problems)
    assert not failures, failures


def accept(client: TestClient, register: Callable[..., Headers], sample: Path) -> etree._Element:
    """POST the sample as its sender; the receipt message, one receipt per entity."""
    headers = {code: register(code, *ALL_ROLES) for code in PARTIES}
    body = sample.read_bytes()
    sender = sender_of(body)
    assert sender is not None
    if sender == UNREGISTRABLE_SENDER:
        # No enterprise can hold this code (see the test above); the list's agent sends it.
        body = body.replace(f">{sender}<".encode(), b">1105910158<")
        sender = "1105910158"

    response = post(client, body, headers[sender])

    assert response.status_code == 200, response.text
    message = etree.fromstring(response.content)
    spec = INBOUND[f"CEB{code_of(sample)}"]
    assert etree.QName(message).localname == spec.receipt_root
    heads = etree.fromstring(body).xpath(
        f"ceb:{spec.entity}" + (f"/ceb:{spec.head}" if spec.head else ""), namespaces=NS
    )
    entities = message.xpath(f"ceb:{spec.receipt_entity}", namespaces=NS)
    assert len(entities) == len(heads)
    for head, entity in zip(heads, entities, strict=True):
        assert entity.findtext(f"{{{CEB}}}guid") == head.findtext(f"{{{CEB}}}guid")
        if head.findtext(f"{{{CEB}}}assureCode") == "ass201603081155":
            assert entity.findtext(f"{{{CEB}}}returnStatus") == str(codes.INVALID_ENTERPRISE_CODE)
    return message


@pytest.mark.parametrize("sample", ACCEPTED, ids=lambda s: s.stem)
def test_the_other_samples_are_accepted_as_their_sender(
    client: TestClient, register: Callable[..., Headers], sample: Path
) -> None:
    assert standard_problems(accept(client, register, sample)) == []
