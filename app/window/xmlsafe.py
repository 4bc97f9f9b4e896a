"""Hardened XML parsing for untrusted message bodies.

Refuses anything that needs a DTD (entity tricks, XXE, external DTDs), never touches the
file system or the network, and bounds element nesting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from lxml import etree

# Characters XML 1.0 cannot carry: control characters, lone surrogates, U+FFFE and U+FFFF.
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# libxml2's own nesting limit without XML_PARSE_HUGE; deeper limits cannot be honoured.
_LIBXML_MAX_DEPTH = 256
_XML_WS = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class XmlIssue:
    """One problem found in a document: where it is (when known) and what is wrong."""

    line: int | None
    column: int | None
    path: str | None
    message: str


class XmlRejected(Exception):
    """The document was refused before any business processing."""

    def __init__(self, issues: list[XmlIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.message for issue in issues))


class LogEntry(Protocol):
    """The parts of an lxml error-log entry used here (lxml-stubs does not describe them)."""

    line: int
    column: int
    message: str
    level_name: str
    type_name: str
    path: str | None


def log_entries(error_log: object) -> list[LogEntry]:
    """The entries of an lxml error log (parser, schema or exception log)."""
    return list(cast(Iterable[LogEntry], error_log))


def _reject(message: str, line: int | None = None) -> XmlRejected:
    return XmlRejected([XmlIssue(line=line, column=None, path=None, message=message)])


def _new_parser() -> etree.XMLParser:
    # A fresh parser per document: its error_log then holds only this document's errors.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=False,  # kept: comments can be covered by a WithComments signature
        remove_blank_text=False,  # kept: whitespace is signed content
    )


def _prolog_has_doctype(data: bytes) -> bool:
    """Spot a DOCTYPE before lxml sees the document, so DTD tricks never reach the parser.

    Works on ASCII-compatible encodings (UTF-8, GBK, GB18030, ...), where the markup
    delimiters are single bytes. Anything else is caught after parsing by the docinfo check.
    """
    i = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    n = len(data)
    while i < n:
        if data[i] in _XML_WS:
            i += 1
        elif data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return data.startswith(b"<!DOCTYPE", i)
    return False


def _syntax_issues(parser: etree.XMLParser, max_depth: int) -> list[XmlIssue]:
    issues: list[XmlIssue] = []
    # getattr: lxml-stubs does not declare XMLParser.error_log.
    for entry in log_entries(getattr(parser, "error_log", ())):
        if entry.level_name not in ("ERROR", "FATAL"):
            continue
        if "Excessive depth" in entry.message:
            message = f"document nests deeper than {max_depth} elements"
        elif entry.type_name == "ERR_INVALID_ENCODING":
            message = (
                "not well-formed: invalid bytes for the document's encoding "
                "(UTF-8 unless the XML declaration names another)"
            )
        else:
            message = f"not well-formed: {entry.message.strip()}"
        line, column = entry.line or None, entry.column or None
        issues.append(XmlIssue(line=line, column=column, path=None, message=message))
    return issues or [XmlIssue(line=None, column=None, path=None, message="not well-formed")]


def parse_xml(data: bytes, *, max_depth: int = 64, max_bytes: int | None = None) -> etree._Element:
    """Parse an untrusted XML document and return its root element.

    Raises XmlRejected when the body is empty, too large, not well-formed, declares a DTD
    (internal or external; that also covers every entity declaration) or nests elements
    deeper than max_depth (1..256; the root is depth 1).
    """
    if not isinstance(data, bytes):
        raise TypeError("parse_xml expects bytes; the encoding is taken from the document")
    if not 1 <= max_depth <= _LIBXML_MAX_DEPTH:
        raise ValueError(f"max_depth must be between 1 and {_LIBXML_MAX_DEPTH}")
    if max_bytes is not None and len(data) > max_bytes:
        raise _reject(f"document is larger than {max_bytes} bytes")
    if not data.removeprefix(_UTF8_BOM).strip(_XML_WS):
        raise _reject("empty document")
    if _prolog_has_doctype(data):
        raise _reject("DTDs are not allowed (no DOCTYPE, no entity declarations)")

    parser = _new_parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise XmlRejected(_syntax_issues(parser, max_depth)) from None

    docinfo = root.getroottree().docinfo
    # Catches a DOCTYPE the byte scan cannot see (UTF-16 and other non-ASCII encodings).
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _reject("DTDs are not allowed (no DOCTYPE, no entity declarations)")

    # One XPath in C instead of a Python walk: the first element one level below the limit.
    too_deep = root.xpath("(" + "/*" * (max_depth + 1) + ")[1]")
    if isinstance(too_deep, list) and too_deep:
        first = too_deep[0]
        line = getattr(first, "sourceline", None)  # untyped in lxml-stubs
        line = line if isinstance(line, int) else None
        raise _reject(f"document nests deeper than {max_depth} elements", line=line)
    return root
