"""701 messages to send and the 702/792 messages they bring back, checked against the XSDs."""

import uuid
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from lxml import etree

from app.window.xsd import SchemaSet, default_xsd_dir, load_schemas

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "export"
OFFICIAL_XSD = (
    Path(__file__).resolve().parents[3]
    / "shared/reference/ceb/xsd-202205/ceb-export-business-202205.xsd"
)
CEB = "http://www.chinaport.gov.cn/ceb"
NS = {"ceb": CEB}
Headers = dict[str, str]
HEAD_ORDER = [
    *("guid", "appType", "appTime", "appStatus", "customsCode", "copNo", "preNo", "sumNo"),
    *("agentCode", "agentName", "ebcCode", "ebcName", "declAgentCode", "declAgentName"),
    *("startTime", "endTime", "loctNo", "summaryFlag", "itemNameFlag", "msgCount", "msgSeqNo"),
    "note",
]


@cache
def _ours() -> Any:
    return load_schemas(default_xsd_dir())


@cache
def _official() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OFFICIAL_XSD)))


def assert_valid(message: etree._Element) -> None:
    """Valid against our export schema and, where the reference is at hand, the official one."""
    assert _ours().validate(message, SchemaSet.EXPORT) == []
    if OFFICIAL_XSD.is_file():
        official = _official()
        assert official.validate(message), official.error_log


def summary_apply(invt_nos: tuple[str, ...] = (), **fields: str) -> bytes:
    """The golden 701 with a fresh guid, ``fields`` set in the head and these lists."""
    root = etree.parse(str(SAMPLES / "CEB701Message.xml")).getroot()
    root.set("guid", str(uuid.uuid4()).upper())
    head = root.find("ceb:SummaryApply/ceb:SummaryApplyHead", NS)
    assert head is not None
    fields = {"guid": str(uuid.uuid4()).upper(), "note": "", **fields}
    for name, value in fields.items():
        element = head.find(f"ceb:{name}", NS)
        if element is None:
            element = etree.Element(f"{{{CEB}}}{name}")
            later = [head.find(f"ceb:{n}", NS) for n in HEAD_ORDER[HEAD_ORDER.index(name) + 1 :]]
            anchor = next((e for e in later if e is not None), None)
            if anchor is None:
                head.append(element)
            else:
                anchor.addprevious(element)
        element.text = value
    for element in head.iterchildren():
        if not element.text:
            head.remove(element)
    apply = head.getparent()
    assert apply is not None
    for old in apply.findall("ceb:SummaryApplyList", NS):
        apply.remove(old)
    for invt_no in invt_nos:
        etree.SubElement(
            etree.SubElement(apply, f"{{{CEB}}}SummaryApplyList"), f"{{{CEB}}}invtNo"
        ).text = invt_no
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def send(client: TestClient, headers: Headers, body: bytes) -> dict[str, str]:
    """Post a 701 and return its 702 SummaryReturn, which must be schema-valid."""
    response = client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    reply = etree.fromstring(response.content)
    assert etree.QName(reply).localname == "CEB702Message"
    assert_valid(reply)
    [entity] = reply.findall("ceb:SummaryReturn", NS)
    return {etree.QName(child).localname: child.text or "" for child in entity}


def results(client: TestClient, headers: Headers) -> list[etree._Element]:
    """The CEB792 messages among the caller's receipts, pulled as XML."""
    response = client.get(
        "/api/v1/receipts?limit=1000", headers={**headers, "Accept": "application/xml"}
    )
    assert response.status_code == 200, response.text
    batch = etree.fromstring(response.content)
    return [m for m in batch if etree.QName(m).localname == "CEB792Message"]
