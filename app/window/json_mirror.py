"""The JSON mirror of CEB XML: the same element names, so one pipeline validates both.

A JSON message is turned into the XML it stands for (children put in the schema's order)
and then goes through exactly the same XSD validation as an XML message.
"""

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from app.ceb.catalogue import NS
from app.window.xmlsafe import NOT_XML_CHAR

XS = "{http://www.w3.org/2001/XMLSchema}"
_ROOT_ATTRIBUTES = ("guid", "version")
# CEB element names are ASCII; str.isidentifier() would let through names lxml refuses.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# CEB numbers are at most N19,5; a wider exponent only makes format(..., "f") write
# millions of digits (1e999999999 is a short JSON number).
_MAX_EXPONENT = 30


class JsonMirrorError(ValueError):
    pass


def _name(ref: str) -> str:
    return ref.split(":")[-1]


@cache
def child_order(xsd_file: Path) -> Mapping[str, tuple[str, ...]]:
    """Element name → its children's names in sequence order, read from one of our schemas."""
    schema = etree.parse(str(xsd_file)).getroot()
    groups = {g.get("name"): g for g in schema.iterchildren(f"{XS}group")}

    def sequence(node: etree._Element) -> Iterable[str]:
        for item in node.iterchildren(f"{XS}element", f"{XS}group", f"{XS}sequence"):
            if item.tag == f"{XS}element":
                yield _name(item.get("name") or item.get("ref") or "")
            elif item.tag == f"{XS}group":
                group = groups[_name(item.get("ref") or "")].find(f"{XS}sequence")
                if group is not None:
                    yield from sequence(group)
            else:
                yield from sequence(item)

    order: dict[str, tuple[str, ...]] = {}
    for element in schema.iter(f"{XS}element"):
        seq = element.find(f"{XS}complexType/{XS}sequence")
        if element.get("name") and seq is not None:
            order[element.get("name") or ""] = tuple(sequence(seq))
    return order


def _text(value: Any) -> str:
    if isinstance(value, bool):
        raise JsonMirrorError("true/false is not a CEB value; send the code as a string")
    if isinstance(value, dict | list):
        raise JsonMirrorError("an object or an array stands where a CEB value is expected")
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or max(abs(exponent), value.adjusted()) > _MAX_EXPONENT:
            raise JsonMirrorError(f"the number {value} is out of the range of CEB values")
        return format(value, "f")
    text = str(value)
    if NOT_XML_CHAR.search(text):
        raise JsonMirrorError("a value holds characters XML cannot carry (control characters)")
    return text


def _build(
    parent: etree._Element,
    name: str,
    value: Any,
    order: Mapping[str, tuple[str, ...]],
    depth: int,
) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                raise JsonMirrorError(f"{name!r} holds an array of arrays; CEB has none")
            _build(parent, name, item, order, depth)
        return
    if depth <= 0:
        raise JsonMirrorError("the message nests deeper than a CEB message can")
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    if isinstance(value, dict):
        _fill(element, name, value, order, depth - 1)
    else:
        element.text = _text(value)


def _fill(
    element: etree._Element,
    name: str,
    body: Mapping[str, Any],
    order: Mapping[str, tuple[str, ...]],
    depth: int,
) -> None:
    rank = {child: i for i, child in enumerate(order.get(name, ()))}
    for child in sorted(body, key=lambda c: rank.get(c, len(rank))):
        if not _NAME.match(child):
            raise JsonMirrorError(f"{child[:100]!r} is not a CEB element name")
        _build(element, child, body[child], order, depth)


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data, parse_float=Decimal)
    # ValueError: also integers of more than sys.get_int_max_str_digits() digits.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JsonMirrorError(f"not valid JSON: {exc}") from None


def to_xml(document: Any, order_for: Any, *, max_depth: int = 64) -> etree._Element:
    """``{"CEB303Message": {"guid": …, "version": …, "Order": [...], …}}`` → the XML message.

    ``order_for(root_name)`` gives the child order of the schema set the root belongs to;
    like parsed XML, the message may nest at most ``max_depth`` elements (the root is 1).
    """
    if not isinstance(document, dict) or len(document) != 1:
        raise JsonMirrorError(
            'a JSON message is one object keyed by its root, e.g. {"CEB303Message": {...}}'
        )
    root_name, body = next(iter(document.items()))
    if not _NAME.match(root_name) or not isinstance(body, dict):
        raise JsonMirrorError(f"{root_name[:100]!r} must name a message and hold an object")
    order = order_for(root_name)
    attributes = {k: _text(body[k]) for k in _ROOT_ATTRIBUTES if k in body}
    root = etree.Element(f"{{{NS}}}{root_name}", attributes, nsmap={"ceb": NS})
    children = {k: v for k, v in body.items() if k not in _ROOT_ATTRIBUTES}
    _fill(root, root_name, children, order, max_depth - 1)
    return root


def from_xml(root: etree._Element, *, lists: frozenset[str]) -> dict[str, Any]:
    """The JSON mirror of an XML message; elements named in ``lists`` are always arrays."""

    def convert(element: etree._Element) -> Any:
        if len(element) == 0:
            return element.text or ""
        out: dict[str, Any] = {}
        for child in element:
            name = etree.QName(child).localname
            value = convert(child)
            if name in lists:
                out.setdefault(name, []).append(value)
            else:
                out[name] = value
        return out

    body = {k: root.get(k) for k in _ROOT_ATTRIBUTES if root.get(k) is not None}
    converted = convert(root)
    body.update(converted if isinstance(converted, dict) else {})
    return {etree.QName(root).localname: body}
