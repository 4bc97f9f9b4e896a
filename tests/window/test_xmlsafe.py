"""parse_xml refuses hostile documents quickly, without touching files or the network."""

import socket
import time
from collections.abc import Iterator
from dataclasses import FrozenInstanceError

import pytest

from app.window.xmlsafe import XmlIssue, XmlRejected, parse_xml
from app.window.xsd import SchemaSet, default_xsd_dir, load_schemas

NO_DTD = "DTDs are not allowed"
FAST = 1.0  # seconds; every case here takes milliseconds


class Listener:
    """A local TCP port that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


def rejected(data: bytes, **limits: int) -> list[XmlIssue]:
    started = time.perf_counter()
    with pytest.raises(XmlRejected) as caught:
        parse_xml(data, **limits)  # type: ignore[arg-type]
    assert time.perf_counter() - started < FAST
    assert caught.value.issues
    assert str(caught.value) == "; ".join(i.message for i in caught.value.issues)
    return caught.value.issues


def only_message(data: bytes, **limits: int) -> str:
    [issue] = rejected(data, **limits)
    return issue.message


def test_xxe_file_entity() -> None:
    doc = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    message = only_message(doc)
    assert message.startswith(NO_DTD)
    assert "root:" not in message


def test_xxe_network_entity(listener: Listener) -> None:
    doc = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{listener.url}/x">]><r>&x;</r>'.encode()
    assert only_message(doc).startswith(NO_DTD)
    assert not listener.contacted()


def test_xxe_parameter_entity(listener: Listener) -> None:
    doc = f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{listener.url}/p.dtd"> %p;]><r/>'.encode()
    assert only_message(doc).startswith(NO_DTD)
    assert not listener.contacted()


def test_external_dtd(listener: Listener) -> None:
    doc = f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{listener.url}/r.dtd"><r/>'.encode()
    assert only_message(doc).startswith(NO_DTD)
    assert not listener.contacted()


def test_billion_laughs() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doc = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{levels}]><r>&l9;</r>'.encode()
    assert only_message(doc).startswith(NO_DTD)


def test_quadratic_blowup() -> None:
    doc = b'<!DOCTYPE r [<!ENTITY a "' + b"A" * 50_000 + b'">]><r>' + b"&a;" * 50_000 + b"</r>"
    assert only_message(doc).startswith(NO_DTD)


def test_doctype_after_comment_and_pi_is_still_found() -> None:
    doc = b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- hi -->\n<?pi x?>\n<!DOCTYPE r []><r/>'
    assert only_message(doc).startswith(NO_DTD)


def test_doctype_in_utf16_is_found_after_parsing() -> None:
    doc = '<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'.encode("utf-16")
    assert only_message(doc).startswith(NO_DTD)


def test_doctype_text_in_the_body_is_not_a_dtd() -> None:
    root = parse_xml(b"<r><![CDATA[<!DOCTYPE r [<!ENTITY e 'x'>]>]]></r>")
    assert root.text == "<!DOCTYPE r [<!ENTITY e 'x'>]>"


def test_undeclared_entity_is_not_well_formed() -> None:
    message = only_message(b"<r>&nope;</r>")
    assert message.startswith("not well-formed: ")
    assert "nope" in message


def test_xinclude_is_not_processed() -> None:
    doc = (
        b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></r>'
    )
    root = parse_xml(doc)
    assert len(root) == 1
    assert "root:" not in (root.xpath("string()") or "")  # type: ignore[operator]


def test_schema_location_hint_is_never_fetched(listener: Listener) -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ceb:CEB900Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="http://www.chinaport.gov.cn/ceb {listener.url}/evil.xsd"'
        f' guid="{"A" * 36}" version="1.0"><ceb:MessageReturn>'
        f"<ceb:guid>{'B' * 36}</ceb:guid><ceb:returnStatus>-1</ceb:returnStatus>"
        "<ceb:returnInfo>bad</ceb:returnInfo><ceb:returnTime>20240101120000000</ceb:returnTime>"
        "<ceb:oriCopMsgId/><ceb:oriMessageType>CEB311</ceb:oriMessageType><ceb:oriBizMessage/>"
        "</ceb:MessageReturn></ceb:CEB900Message>"
    ).encode()
    root = parse_xml(doc)
    schemas = load_schemas(default_xsd_dir())
    assert schemas.validate(root, SchemaSet.IMPORT) == []
    root.find("{*}MessageReturn/{*}guid").text = "short"  # type: ignore[union-attr]
    assert schemas.validate(root, SchemaSet.IMPORT)
    assert not listener.contacted()


def test_thousand_deep_nesting() -> None:
    doc = b"<a>" * 1000 + b"</a>" * 1000
    assert only_message(doc) == "document nests deeper than 64 elements"


@pytest.mark.parametrize(("depth", "limit"), [(64, 64), (3, 3), (256, 256)])
def test_depth_limit_is_inclusive(depth: int, limit: int) -> None:
    root = parse_xml(b"<a>" * depth + b"</a>" * depth, max_depth=limit)
    assert root.tag == "a"
    message = only_message(b"<a>" * (depth + 1) + b"</a>" * (depth + 1), max_depth=limit)
    assert message == f"document nests deeper than {limit} elements"


def test_depth_limit_outside_what_libxml2_allows() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        parse_xml(b"<a/>", max_depth=257)
    with pytest.raises(ValueError, match="max_depth"):
        parse_xml(b"<a/>", max_depth=0)


def test_wide_documents_are_fine() -> None:
    doc = b"<r>" + b"<a><b><c>x</c></b></a>" * 20_000 + b"</r>"
    started = time.perf_counter()
    assert len(parse_xml(doc)) == 20_000
    assert time.perf_counter() - started < FAST


@pytest.mark.parametrize(
    "doc",
    [
        b"<r>\xff\xfe</r>",
        b'<?xml version="1.0" encoding="UTF-8"?><r>\xc3\x28</r>',
        b"<r>\xed\xa0\x80</r>",
    ],
    ids=["stray bytes", "truncated sequence", "surrogate"],
)
def test_invalid_utf8(doc: bytes) -> None:
    [issue] = rejected(doc)
    assert issue.message.startswith("not well-formed: invalid bytes for the document's encoding")
    assert issue.line == 1
    assert issue.column is not None


def test_gbk_declared_document_reads_back() -> None:
    text = "东方物通科技(北京)有限公司"
    doc = f'<?xml version="1.0" encoding="GBK"?><r><name>{text}</name></r>'.encode("gbk")
    root = parse_xml(doc)
    assert root.findtext("name") == text
    assert root.getroottree().docinfo.encoding == "GBK"


def test_gbk_bytes_without_declaration_are_not_utf8() -> None:
    doc = "<r>东方物通</r>".encode("gbk")
    assert only_message(doc).startswith("not well-formed: invalid bytes")


@pytest.mark.parametrize("doc", [b"", b"   \r\n\t", b"\xef\xbb\xbf"], ids=["empty", "blank", "bom"])
def test_empty_body(doc: bytes) -> None:
    assert only_message(doc) == "empty document"


@pytest.mark.parametrize(
    "doc",
    [b"hello world", b'{"json": true}', b"\x00\x01\x02\x03", b"<r>", b"<r></s>", b"<a/><b/>"],
    ids=["text", "json", "binary", "unclosed", "mismatched", "two roots"],
)
def test_garbage(doc: bytes) -> None:
    issues = rejected(doc)
    assert all(issue.message.startswith("not well-formed: ") for issue in issues)
    assert issues[0].line == 1


def test_size_limit() -> None:
    doc = b"<r>" + b"x" * 100 + b"</r>"
    assert parse_xml(doc, max_bytes=len(doc)).text == "x" * 100
    assert (
        only_message(doc, max_bytes=len(doc) - 1) == f"document is larger than {len(doc) - 1} bytes"
    )


def test_text_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_xml("<r/>")  # type: ignore[arg-type]


def test_issue_is_frozen_and_positions_are_reported() -> None:
    [issue] = rejected(b"<r>\n  <a>\n</r>")
    assert issue.line == 3
    assert issue.path is None
    with pytest.raises(FrozenInstanceError):
        issue.message = "changed"  # type: ignore[misc]


def test_comments_and_whitespace_are_kept() -> None:
    # Signatures cover them (C14N keeps whitespace; the WithComments variants keep comments).
    root = parse_xml(b"<r>\n  <!-- c --><a/>\n</r>")
    assert root.text == "\n  "
    assert len(root) == 2
