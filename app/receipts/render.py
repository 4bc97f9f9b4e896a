"""Receipts as the standard's messages (CEB304 … CEB712) or as their JSON mirror."""

import uuid
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from lxml import etree

from app.ceb.catalogue import NS, RECEIPTS, TAX_HEAD_FIELDS, TAX_LINE_FIELDS
from app.ceb.times import return_time
from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptContent

# A receipt message carries at most 100 entities (every *Return maxOccurs in the XSD).
MAX_ENTITIES = 100


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _entity(receipt: ReceiptContent) -> dict[str, str]:
    values = {k: str(v) for k, v in receipt.fields.items() if v is not None}
    values["returnStatus"] = str(receipt.return_status)
    values["returnTime"] = return_time(receipt.returned_at)
    values["returnInfo"] = receipt.return_info
    return values


def message_element(message_type: str, receipts: Sequence[ReceiptContent]) -> etree._Element:
    """One ``CEBnnnMessage`` holding the receipts (all of that type, at most 100)."""
    root = etree.Element(
        _q(f"{message_type}Message"),
        nsmap={"ceb": NS},
        guid=str(uuid.uuid4()).upper(),
        version="1.0",
    )
    if message_type == "CEB816":
        for receipt in receipts:
            _tax_bill(root, receipt)
        return root
    if message_type == "CEB792":
        for receipt in receipts:
            _summary_results(root, receipt)
        return root
    shape = RECEIPTS[message_type]
    for receipt in receipts:
        values = _entity(receipt)
        entity = etree.SubElement(root, _q(shape.entity))
        for name, required in shape.fields:
            value = values.get(name, "")
            if value or required:
                etree.SubElement(entity, _q(name)).text = value
    return root


def _tax_bill(root: etree._Element, receipt: ReceiptContent) -> None:
    tax = etree.SubElement(root, _q("Tax"))
    head = dict(receipt.fields["head"], returnTime=return_time(receipt.returned_at))
    head_element = etree.SubElement(tax, _q("TaxHeadRd"))
    for name, required in TAX_HEAD_FIELDS:
        if head.get(name) or required:
            etree.SubElement(head_element, _q(name)).text = str(head.get(name, ""))
    for line in receipt.fields["lines"]:
        line_element = etree.SubElement(tax, _q("TaxListRd"))
        for name in TAX_LINE_FIELDS:
            etree.SubElement(line_element, _q(name)).text = str(line[name])


# The summary result (CEB792): each receipt is one whole message of up to 100 SummaryResults
# (a declaration head and its list lines), numbered by msgCount/msgSeqNo in every head.
SUMMARY_HEAD_FIELDS: tuple[tuple[str, bool], ...] = (
    ("guid", True),
    ("customsCode", True),
    ("sumNo", True),
    ("opDate", True),
    ("declSeqNo", True),
    ("decTmpNo", False),
    ("decPreNo", False),
    ("entryId", False),
    ("decState", True),
    ("agentCode", True),
    ("agentName", True),
    ("ebcCode", True),
    ("ebcName", True),
    ("declAgentCode", True),
    ("declAgentName", True),
    ("grossWeight", True),
    ("netWeight", True),
    ("msgCount", True),
    ("msgSeqNo", True),
    ("note", False),
)
SUMMARY_LINE_FIELDS = ("invtNo", "logisticsNo", "gseqno", "gnum", "gcode")


def _summary_results(root: etree._Element, receipt: ReceiptContent) -> None:
    for result in receipt.fields["results"]:
        entity = etree.SubElement(root, _q("SummaryResult"))
        head = etree.SubElement(entity, _q("SummaryResultHead"))
        for name, required in SUMMARY_HEAD_FIELDS:
            if result["head"].get(name) or required:
                etree.SubElement(head, _q(name)).text = str(result["head"].get(name, ""))
        for line in result["lines"]:
            line_element = etree.SubElement(entity, _q("SummaryResultList"))
            for name in SUMMARY_LINE_FIELDS:
                etree.SubElement(line_element, _q(name)).text = str(line[name])


def messages(receipts: Sequence[ReceiptContent]) -> list[etree._Element]:
    """Receipts grouped into standard messages: one per type and per 100 entities."""
    out: list[etree._Element] = []
    for message_type, group in groupby(receipts, key=lambda r: r.message_type):
        batch = list(group)
        size = 1 if message_type == "CEB792" else MAX_ENTITIES
        for start in range(0, len(batch), size):
            out.append(message_element(message_type, batch[start : start + size]))
    return out


def to_bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", standalone=True)


def as_json(receipt: Receipt) -> dict[str, Any]:
    """The JSON mirror: the standard's element names, plus our id, cursor and message type.

    ``position`` is the receipt's place in its recipient's feed: ``after`` of GET /receipts.
    """
    if receipt.message_type == "CEB816":
        head = dict(receipt.fields["head"], returnTime=return_time(receipt.returned_at))
        body: dict[str, Any] = {"Tax": {"TaxHeadRd": head, "TaxListRd": receipt.fields["lines"]}}
    elif receipt.message_type == "CEB792":
        body = {
            "SummaryResult": [
                {"SummaryResultHead": r["head"], "SummaryResultList": r["lines"]}
                for r in receipt.fields["results"]
            ]
        }
    else:
        body = {RECEIPTS[receipt.message_type].entity: _entity(receipt)}
    return {
        "id": receipt.id,
        "position": receipt.position,
        "messageType": receipt.message_type,
        **body,
    }
