"""Mutated CEB messages: what a broken client, a bad network or an attacker sends the window.

A mutation starts from a real message (our golden samples and the official 202205 ones), makes
one to three changes to its elements or bytes, and sends the result as XML, as the JSON mirror
or wrapped in a DxpMsg envelope, in UTF-8 or another encoding. Everything random comes from
one ``random.Random``, so a seed names a mutated message.
"""

import base64
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from app.ceb.catalogue import INBOUND

CEB = "http://www.chinaport.gov.cn/ceb"
TESTS = Path(__file__).resolve().parents[1]
GOLDEN = sorted((TESTS / "samples").glob("*/CEB*Message.xml"))
OFFICIAL = sorted((TESTS.parents[1] / "shared/reference/ceb/samples-202205").glob("*/*.xml"))
# Entities and lines are arrays in the JSON mirror even when there is only one.
ENTITIES = frozenset(spec.entity for spec in INBOUND.values())
JSON_LISTS = frozenset(
    {spec.entity for spec in INBOUND.values()}
    | {spec.lines for spec in INBOUND.values() if spec.lines}
)
# Values at the edges of what CEB fields hold: N19,5 amounts, dates, codes, lengths.
EDGE_VALUES = (
    "",
    " ",
    "0",
    "-1",
    "-0.00001",
    "99999999999999.99999",
    "999999999999999999999999",
    "1e400",
    "NaN",
    "Infinity",
    "0x1F",
    "20261301250000",
    "20260230120000000",
    "99991231235959",
    "1" * 5000,
    "长" * 300,
    "A\u0301\u200b\ufeff",
    "\U0001f600",
    "&amp;&lt;&gt;&quot;",
    "]]>",
    "1' OR '1'='1",
    "../../etc/passwd",
)
ENCODINGS = ("GBK", "GB18030", "UTF-16", "UTF-16LE", "ISO-8859-1", "US-ASCII", "BIG5", "EBCDIC")


@dataclass(frozen=True)
class Mutated:
    seed: str  # which sample
    how: str  # the mutations applied, in order
    form: str  # xml, json or dxp
    body: bytes
    content_type: str


def fresh_guid(body: bytes) -> bytes:
    """The same message under a new root guid, so the window does not take it for a retry."""
    guid = str(uuid.uuid4()).upper().encode()
    return re.sub(rb'(<ceb:CEB\d+Message[^>]*?\sguid=")[^"]*', rb"\g<1>" + guid, body, count=1)


def _tree(body: bytes) -> etree._Element:
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if e is not root and isinstance(e.tag, str)]


def _leaves(root: etree._Element) -> list[etree._Element]:
    return [e for e in _elements(root) if len(e) == 0] or [root]


# ---------------------------------------------------------------- mutations of a message


def flip_bytes(body: bytes, rnd: random.Random, junk: str) -> bytes:
    data = bytearray(body)
    for _ in range(rnd.randint(1, 8)):
        data[rnd.randrange(len(data))] ^= rnd.randint(1, 255)
    return bytes(data)


def truncate(body: bytes, rnd: random.Random, junk: str) -> bytes:
    return body[: rnd.randrange(len(body))]


def delete_element(body: bytes, rnd: random.Random, junk: str) -> bytes:
    root = _tree(body)
    victim = rnd.choice(_elements(root))
    parent = victim.getparent()
    assert parent is not None
    parent.remove(victim)
    return _serialise(root)


def duplicate_element(body: bytes, rnd: random.Random, junk: str) -> bytes:
    root = _tree(body)
    twin = rnd.choice(_elements(root))
    for _ in range(rnd.choice((1, 1, 2, 50))):
        twin.addnext(etree.fromstring(etree.tostring(twin)))
    return _serialise(root)


def move_element(body: bytes, rnd: random.Random, junk: str) -> bytes:
    root = _tree(body)
    elements = _elements(root)
    moved, anchor = rnd.choice(elements), rnd.choice(elements)
    if moved is anchor or moved in anchor.iterancestors():
        return body
    anchor.addnext(moved)
    return _serialise(root)


def _set_leaf(body: bytes, rnd: random.Random, value: str) -> bytes:
    root = _tree(body)
    leaf = rnd.choice(_leaves(root))
    marker = "\ue000FUZZ\ue000"
    leaf.text = marker
    raw = _serialise(root)
    if rnd.random() < 0.5:  # escaped, or raw markup if it happens to be some
        value = value.replace("&", "&amp;").replace("<", "&lt;")
    return raw.replace(marker.encode(), value.encode("utf-8", "surrogatepass"))


def junk_value(body: bytes, rnd: random.Random, junk: str) -> bytes:
    return _set_leaf(body, rnd, junk)


def edge_value(body: bytes, rnd: random.Random, junk: str) -> bytes:
    return _set_leaf(body, rnd, rnd.choice(EDGE_VALUES))


def _alike(text: str, rnd: random.Random) -> str:
    """Another value of the same shape: digits for digits, letters for letters, same length."""
    out = []
    for char in text:
        if char.isdigit():
            out.append(str(rnd.randrange(10)))
        elif char.isascii() and char.isalpha():
            out.append(rnd.choice("ABCDEFGHJKLMNPQRSTUVWXYZ" if char.isupper() else "abcdefgh"))
        elif not char.isascii() and char.isalpha():
            out.append(chr(rnd.randrange(0x4E00, 0x9FA5)))
        else:
            out.append(char)
    return "".join(out)


def alike_values(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """Values changed but kept in shape, so the message often stays schema-valid and goes on to
    the business rules: other amounts, dates, codes, names."""
    root = _tree(body)
    leaves = [leaf for leaf in _leaves(root) if leaf.text]
    for leaf in rnd.sample(leaves, k=min(len(leaves), rnd.choice((1, 1, 2, 5)))):
        leaf.text = _alike(leaf.text or "", rnd)
    return _serialise(root)


def repeat_entity(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """The message's entity (an Order, an Inventory …) twice or more, as a batch would be."""
    root = _tree(body)
    entities = [e for e in root if isinstance(e.tag, str) and etree.QName(e).localname in ENTITIES]
    if not entities:
        return body
    entity = rnd.choice(entities)
    for _ in range(rnd.choice((1, 2, 99, 100))):
        twin = etree.fromstring(etree.tostring(entity))
        for leaf in _leaves(twin):
            if etree.QName(leaf).localname in ("guid", "orderNo", "copNo", "logisticsNo", "payNo"):
                leaf.text = _alike(leaf.text or "", rnd) if rnd.random() < 0.8 else leaf.text
        entity.addnext(twin)
    return _serialise(root)


def swap_values(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """Two fields' values exchanged: a code where an amount belongs, a date in a name."""
    root = _tree(body)
    leaves = _leaves(root)
    first, second = rnd.choice(leaves), rnd.choice(leaves)
    first.text, second.text = second.text, first.text
    return _serialise(root)


def foreign_element(body: bytes, rnd: random.Random, junk: str) -> bytes:
    root = _tree(body)
    host = rnd.choice([root, *_elements(root)])
    namespace = rnd.choice((CEB, "urn:other", None))
    name = rnd.choice(("note", "guid", "Extra", "Signature", "invtNo"))
    extra = etree.SubElement(host, f"{{{namespace}}}{name}" if namespace else name)
    extra.text = "".join(c for c in junk if c.isprintable())[:200] or "x"
    return _serialise(root)


def attribute(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """The root's guid gone or its version changed, or an attribute where none belongs."""
    root = _tree(body)
    choice = rnd.random()
    if choice < 0.3 and "guid" in root.attrib:
        del root.attrib["guid"]
    elif choice < 0.6:
        root.set("version", rnd.choice(("2.0", "", "1.0.0", "1")))
    else:
        target = rnd.choice([root, *_elements(root)])
        target.set(rnd.choice(("guid", "id", "lang")), rnd.choice(EDGE_VALUES[:12]))
    return _serialise(root)


def rename_root(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """Another message type's name over this one's content."""
    root = _tree(body)
    other = rnd.choice((*INBOUND, "CEB999", "CEB0", "Message"))
    root.tag = f"{{{CEB}}}{other}Message"
    return _serialise(root)


def deep_nesting(body: bytes, rnd: random.Random, junk: str) -> bytes:
    depth = rnd.choice((63, 64, 65, 200))
    nest = b"<ceb:n>" * depth + b"</ceb:n>" * depth
    marker = rb"</ceb:BaseTransfer>" if b"</ceb:BaseTransfer>" in body else b"</ceb:"
    at = body.rfind(marker)
    return body[:at] + nest + body[at:] if at > 0 else body + nest


STRUCTURE: dict[str, Callable[[bytes, random.Random, str], bytes]] = {
    "alike": alike_values,
    "repeat": repeat_entity,
    "flip": flip_bytes,
    "truncate": truncate,
    "delete": delete_element,
    "duplicate": duplicate_element,
    "move": move_element,
    "junk": junk_value,
    "edge": edge_value,
    "swap": swap_values,
    "foreign": foreign_element,
    "attribute": attribute,
    "rename": rename_root,
    "nest": deep_nesting,
}


# ---------------------------------------------------------------- forms on the wire


def _mirror(root: etree._Element) -> dict[str, Any]:
    def convert(element: etree._Element) -> Any:
        children = [c for c in element if isinstance(c.tag, str)]
        if not children:
            return element.text or ""
        out: dict[str, Any] = {}
        for child in children:
            name = etree.QName(child).localname
            if name in JSON_LISTS:
                out.setdefault(name, []).append(convert(child))
            elif name in out:  # a repeated element that is no array in the mirror
                out[name] = (
                    [*out[name], convert(child)]
                    if isinstance(out[name], list)
                    else [
                        out[name],
                        convert(child),
                    ]
                )
            else:
                out[name] = convert(child)
        return out

    body = convert(root)
    if not isinstance(body, dict):
        body = {}
    return {etree.QName(root).localname: {**dict(root.attrib), **body}}


def as_json(body: bytes, rnd: random.Random, junk: str) -> bytes:
    root = _tree(body)
    if rnd.random() < 0.4:
        leaf = rnd.choice(_leaves(root))
        leaf.text = "\ue000FUZZ\ue000"
    document = json.dumps(_mirror(root), ensure_ascii=False)
    value: Any = rnd.choice(
        [junk, rnd.randint(-(10**30), 10**30), rnd.random(), True, None, [junk], {"x": junk}]
    )
    document = document.replace(
        json.dumps("\ue000FUZZ\ue000", ensure_ascii=False), json.dumps(value, ensure_ascii=False)
    )
    data = document.encode("utf-8", "surrogatepass")
    return truncate(data, rnd, junk) if rnd.random() < 0.1 else data


def as_dxp(body: bytes, rnd: random.Random, junk: str) -> bytes:
    name = re.search(rb"<ceb:(CEB\d+)Message", body)
    msg_type = name.group(1).decode() + "Message" if name else "CEB303Message"
    data = base64.b64encode(body).decode()
    choice = rnd.random()
    if choice < 0.1:
        data = data[: rnd.randrange(len(data) + 1)] + "*"
    elif choice < 0.2:
        data = ""
    elif choice < 0.3:
        msg_type = rnd.choice(("CEB999Message", "", junk[:50] or "x"))
    copmsgid = junk.encode("unicode_escape").decode()[:200] or "x"
    return (
        '<dxp:DxpMsg xmlns:dxp="http://www.chinaport.gov.cn/dxp" ver="1.0"><dxp:TransInfo>'
        f"<dxp:CopMsgId>{copmsgid.replace('&', '&amp;').replace('<', '&lt;')}</dxp:CopMsgId>"
        "<dxp:SenderId>S</dxp:SenderId><dxp:ReceiverIds><dxp:ReceiverId>R</dxp:ReceiverId>"
        "</dxp:ReceiverIds><dxp:CreatTime>2026-11-01T09:00:00</dxp:CreatTime>"
        f"<dxp:MsgType>{msg_type.replace('&', '&amp;').replace('<', '&lt;')}</dxp:MsgType>"
        f"</dxp:TransInfo><dxp:Data>{data}</dxp:Data></dxp:DxpMsg>"
    ).encode("utf-8", "surrogatepass")


def reencode(body: bytes, rnd: random.Random, junk: str) -> bytes:
    """Declared in another encoding: honestly re-encoded, or only declared, or with a BOM."""
    encoding = rnd.choice(ENCODINGS)
    declared = re.sub(rb'encoding="[^"]*"', f'encoding="{encoding}"'.encode(), body, count=1)
    choice = rnd.random()
    if choice < 0.5:
        try:
            return declared.decode("utf-8").encode(encoding.lower().replace("ebcdic", "cp500"))
        except (UnicodeError, LookupError):
            return declared
    if choice < 0.8:
        return declared
    return rnd.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) + body


def mutate(seed: Path, rnd: random.Random, junk: str) -> Mutated:
    """None to three changes to the sample, then its form on the wire.

    A third of the changes keep values in shape (alike, repeat) and some messages go as they
    are, so that many get past the schema to the business rules and the database.
    """
    # Some keep the sample's own guid: a retry of what was sent, or a guid reused for another
    # message.
    body = seed.read_bytes() if rnd.random() < 0.1 else fresh_guid(seed.read_bytes())
    applied: list[str] = []
    names = sorted(STRUCTURE)
    weights = [len(names) // 3 if name in ("alike", "repeat") else 1 for name in names]
    for _ in range(rnd.choice((0, 1, 1, 1, 2, 3))):
        [name] = rnd.choices(names, weights)
        try:
            body = STRUCTURE[name](body, rnd, junk)
        except (etree.XMLSyntaxError, IndexError):
            continue  # an earlier change left no tree, or no element, to change
        applied.append(name)
    form = rnd.choices(("xml", "json", "dxp", "encoding"), weights=(5, 2, 2, 1))[0]
    content_type = "application/xml"
    try:
        if form == "json":
            body, content_type = as_json(body, rnd, junk), "application/json"
        elif form == "dxp":
            body = as_dxp(body, rnd, junk)
        elif form == "encoding":
            body = reencode(body, rnd, junk)
    except etree.XMLSyntaxError:
        form = "xml"  # nothing to mirror: the broken bytes go as they are
    if rnd.random() < 0.03:
        content_type = rnd.choice(("text/plain", "application/octet-stream", "", "text/xml"))
    return Mutated(
        seed=f"{seed.parent.parent.name}/{seed.parent.name}/{seed.stem}",
        how="+".join(applied) or "none",
        form=form,
        body=body,
        content_type=content_type,
    )
