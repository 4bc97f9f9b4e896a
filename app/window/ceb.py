"""Reading CEB documents: the message type, the sender, the entities, the DXP envelope."""

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from app.ceb.catalogue import DXP_NS, NS, MessageSpec
from app.customs.schemas import CebEntity

_CEB = f"{{{NS}}}"


def local(tag: object) -> str:
    # Comments and processing instructions have no string tag. Plain string work rather than
    # a QName object for every field of every entity (it showed in the window's profile).
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


@dataclass(frozen=True)
class Envelope:
    """What a DxpMsg says about its payload (the standard's transport envelope)."""

    cop_msg_id: str
    msg_type: str
    data: bytes


class EnvelopeError(ValueError):
    pass


def unwrap_dxp(root: etree._Element) -> Envelope:
    """The base64 ``Data`` of a schema-valid DxpMsg, decoded."""
    info = root.find(f"{{{DXP_NS}}}TransInfo")
    data = root.findtext(f"{{{DXP_NS}}}Data") or ""
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("DxpMsg Data is not valid base64") from None
    if not payload:
        raise EnvelopeError("DxpMsg Data is empty")
    return Envelope(
        cop_msg_id=(info.findtext(f"{{{DXP_NS}}}CopMsgId") if info is not None else None) or "",
        msg_type=(info.findtext(f"{{{DXP_NS}}}MsgType") if info is not None else None) or "",
        data=payload,
    )


def sender_code(root: etree._Element) -> str | None:
    return root.findtext(f"{_CEB}BaseTransfer/{_CEB}copCode")


def _fields(element: etree._Element) -> dict[str, str]:
    return {local(child.tag): (child.text or "").strip() for child in element if len(child) == 0}


def entities(root: etree._Element, spec: MessageSpec) -> list[CebEntity]:
    """The business documents of a schema-valid message as field dictionaries."""
    found = []
    for element in root.iterchildren(f"{_CEB}{spec.entity}"):
        head = element if spec.head is None else element.find(f"{_CEB}{spec.head}")
        if head is None:  # pragma: no cover - the schema requires the head
            continue
        lines = (
            [_fields(line) for line in element.iterchildren(f"{_CEB}{spec.lines}")]
            if spec.lines
            else []
        )
        found.append(CebEntity(head=_fields(head), lines=lines))
    return found
