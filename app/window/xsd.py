"""Loading the project's XML Schemas (xsd/) and validating messages against them.

The export and the import CEB sets declare the same global element names with different
content, so they are compiled as separate schemas; the DXP envelope is a third.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from app.window.xmlsafe import XmlIssue, log_entries

CEB_NS = "http://www.chinaport.gov.cn/ceb"
DXP_NS = "http://www.chinaport.gov.cn/dxp"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"


class SchemaSet(StrEnum):
    EXPORT = "export"
    IMPORT = "import"
    DXP = "dxp"


_SCHEMA_FILES: dict[SchemaSet, str] = {
    SchemaSet.EXPORT: "export/ceb-export.xsd",
    SchemaSet.IMPORT: "import/ceb-import.xsd",
    SchemaSet.DXP: "dxp/dxp.xsd",
}

# fmt: off
_EXPORT_CODES = frozenset(
    {"303", "304", "403", "404", "505", "506", "507", "508", "509", "510", "603", "604",
     "605", "606", "607", "608", "213", "214", "215", "216", "701", "702", "792"}
)
# 900 is valid in both business sets; customs defines it on the import side.
_IMPORT_CODES = frozenset(
    {"311", "312", "411", "412", "511", "512", "513", "514", "621", "622", "623", "624",
     "625", "626", "711", "712", "816", "818", "900"}
)
# fmt: on
_DXP_ROOTS = frozenset({"DxpMsg", "DxpRep", "DxpMsgSv"})
_CEB_TYPE = re.compile(r"CEB(\d{3})(?:Message)?")


def schema_set_for(message_type: str) -> SchemaSet:
    """Schema set for "CEB603", "CEB603Message" (also namespace-qualified) or a DXP root name.

    Raises KeyError for anything else.
    """
    local = message_type
    for ns in (CEB_NS, DXP_NS):
        prefix = "{" + ns + "}"
        if local.startswith(prefix):
            local = local[len(prefix) :]
            break
    if local in _DXP_ROOTS:
        return SchemaSet.DXP
    match = _CEB_TYPE.fullmatch(local)
    if match:
        code = match.group(1)
        if code in _EXPORT_CODES:
            return SchemaSet.EXPORT
        if code in _IMPORT_CODES:
            return SchemaSet.IMPORT
    raise KeyError(message_type)


def default_xsd_dir() -> Path:
    """The repository's xsd/ folder (app/window/xsd.py -> ../../xsd)."""
    return Path(__file__).resolve().parents[2] / "xsd"


class SchemaLoadError(Exception):
    """A schema could not be compiled, or it referred to something outside the schema folder."""


class _LocalOnlyResolver(etree.Resolver):
    """Serves schema documents from files under one folder and refuses everything else."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self._root = root
        self.refused: list[str] = []

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        parts = urlsplit(system_url)
        local = parts.scheme in ("", "file") and parts.netloc in ("", "localhost")
        path = Path(unquote(parts.path) if parts.scheme else system_url).resolve()
        if not (local and path.is_relative_to(self._root) and path.is_file()):
            self.refused.append(system_url)
            # lxml turns this into a load failure of the including schema; _compile reports it.
            raise SchemaLoadError(f"refused to load {system_url!r}: not a file under {self._root}")
        return self.resolve_string(path.read_bytes(), context, base_url=str(path))


def _compile(path: Path, root: Path) -> etree.XMLSchema:
    if not path.is_file():
        raise SchemaLoadError(f"cannot load {path}: no such file")
    resolver = _LocalOnlyResolver(root)
    parser = etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False
    )
    parser.resolvers.add(resolver)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        refused = ", ".join(resolver.refused)
        detail = f"; refused to load (not a file under {root}): {refused}" if refused else ""
        raise SchemaLoadError(f"cannot load {path}: {exc}{detail}") from exc


_READABLE_NS = {"{" + CEB_NS + "}": "ceb:", "{" + DXP_NS + "}": "dxp:", "{" + DS_NS + "}": "ds:"}


def _readable(message: str) -> str:
    for clark, prefix in _READABLE_NS.items():
        message = message.replace(clark, prefix)
    return message.strip()


class Schemas:
    """The three compiled schema sets. Safe to share between threads."""

    def __init__(self, schemas: dict[SchemaSet, etree.XMLSchema]) -> None:
        self._schemas = schemas
        # An XMLSchema keeps the last run's error log on itself, so runs must not overlap.
        self._locks = {schema_set: threading.Lock() for schema_set in schemas}

    def validate(
        self, root: etree._Element, schema_set: SchemaSet, source: bytes | None = None
    ) -> list[XmlIssue]:
        """Every schema error in the document (empty list when valid).

        Element names in messages use the prefixes ceb:, dxp: and ds:. Note that, as with the
        official schemas, any global element is accepted as the document root; checking that
        the root is the expected message is the caller's job. With ``source``, the bytes
        ``root`` was parsed from, each error points at its element's start tag (line, column).
        """
        schema = self._schemas[schema_set]
        with self._locks[schema_set]:
            if schema.validate(root):
                return []
            entries = log_entries(schema.error_log)
        if not entries:
            return [XmlIssue(line=None, column=None, path=None, message="not schema-valid")]
        issues = [
            XmlIssue(
                line=entry.line or None,
                column=entry.column or None,
                path=entry.path or None,
                message=_readable(entry.message),
            )
            for entry in entries
        ]
        return issues if source is None else locate(issues, root, source)


# libxml2 reports a schema error at the line where its element's start tag ends, and with no
# column; machine-written messages are often a single line, where only a column finds it.
_LOCATE_MAX = 100
_PATH_PREFIXES = {"ceb": CEB_NS, "dxp": DXP_NS, "ds": DS_NS}


def locate(issues: list[XmlIssue], root: etree._Element, source: bytes) -> list[XmlIssue]:
    """The issues, each pointed at the start tag of the element its path names in ``source``.

    An issue keeps libxml2's position when its element cannot be found unambiguously.
    """
    try:
        text = source.decode(root.getroottree().docinfo.encoding or "utf-8", "replace")
    except LookupError:
        return issues
    prefixes = {**_PATH_PREFIXES, **{k: v for k, v in root.nsmap.items() if k}}
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    tags: dict[str, list[int]] = {}
    located = []
    for index, issue in enumerate(issues):
        place = None
        if index < _LOCATE_MAX and issue.path:
            place = _start_tag(issue, root, prefixes, text, tags)
        if place is not None:
            line = bisect_right(line_starts, place[0])
            end_line = bisect_right(line_starts, place[1])
            if issue.line is None or line <= issue.line <= end_line:
                column = place[0] - line_starts[line - 1] + 1
                issue = replace(issue, line=line, column=column)
        located.append(issue)
    return located


def _start_tag(
    issue: XmlIssue,
    root: etree._Element,
    prefixes: dict[str, str],
    text: str,
    tags: dict[str, list[int]],
) -> tuple[int, int] | None:
    """Offsets of the start tag's ``<`` and ``>`` in ``text``, or None."""
    try:
        found = root.xpath(issue.path or "", namespaces=prefixes)
    except etree.XPathError:
        return None
    if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], etree._Element):
        return None
    element = found[0]
    name = etree.QName(element).localname
    if element.prefix:
        name = f"{element.prefix}:{name}"
    # The n-th element of this name in document order is the n-th such start tag in the text
    # (comments or CDATA holding the same markup are the rare case the line check catches).
    before = element.xpath("count(preceding::*[name()=$n]) + count(ancestor::*[name()=$n])", n=name)
    starts = tags.get(name)
    if starts is None:
        starts = tags[name] = [m.start() for m in re.finditer(f"<{re.escape(name)}[\\s/>]", text)]
    if not isinstance(before, float) or int(before) >= len(starts):
        return None
    start = starts[int(before)]
    end = text.find(">", start)
    return start, end if end >= 0 else start


def load_schemas(xsd_dir: Path) -> Schemas:
    """Compile the export, import and DXP sets from xsd_dir; only files under xsd_dir are read."""
    root = xsd_dir.resolve()
    return Schemas({s: _compile(root / rel, root) for s, rel in _SCHEMA_FILES.items()})
