"""Hostile and broken bodies on POST /api/v1/messages.

Each is refused with a 4xx and a message that says why, reads no file (watched with inotify
where the kernel has it, and by a marker that must never come back), opens no socket (a local
listener must see no connection) and costs well under a second. A mutation fuzzer over
the samples (tests/fuzz/test_messages.py) checks that nothing a client sends makes the window
answer 5xx.
"""

import ctypes
import json
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, text

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CEB = "http://www.chinaport.gov.cn/ceb"
NS = {"ceb": CEB}
Headers = dict[str, str]
# Safety bounds for attack inputs, not benchmarks: the work one request may cost (CPU of the
# whole process, so a busy machine cannot fail it), and how long it may take (a hang, e.g. a
# fetch waiting on the network, shows here).
CPU_GUARD_S = 1.0
WALL_GUARD_S = 5.0
MARKER = "SECRET-MARKER-7f3a9c"
EBP, EBC = "4301990001", "4301990002"
PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
    "4301990011": ["ebp"],
    "4301990012": ["ebc"],
    "4301990013": ["agent"],
    "4301990014": ["logistics"],
    "4301990015": ["payment"],
    "4301990016": ["guarantor"],
    "4301990017": ["operator"],
}


def sample(direction: str, n: int) -> bytes:
    return (SAMPLES / direction / f"CEB{n}Message.xml").read_bytes()


def fresh(body: bytes) -> bytes:
    """The same message under a new root guid (the window is idempotent by guid)."""
    guid = str(uuid.uuid4()).upper().encode()
    return re.sub(rb'(<ceb:CEB\d+Message[^>]*?\sguid=")[^"]*', rb"\g<1>" + guid, body, count=1)


@pytest.fixture
def sender(register: Callable[..., Headers]) -> Headers:
    register(EBC, "ebc")
    return register(EBP, "ebp")


def guarded_post(
    client: TestClient, body: bytes, headers: Headers, content_type: str = "application/xml"
) -> httpx.Response:
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post(
        "/api/v1/messages", content=body, headers={**headers, "Content-Type": content_type}
    )
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    assert used < CPU_GUARD_S, f"used {used:.2f}s of CPU"
    assert elapsed < WALL_GUARD_S, f"took {elapsed:.2f}s"
    return response


def refusal(response: httpx.Response) -> dict[str, str]:
    """The CEB900 MessageReturn of a 400, as a field dictionary (XML or JSON reply)."""
    assert response.status_code == 400, response.text
    if response.headers["content-type"].startswith("application/json"):
        [entity] = response.json()["CEB900Message"]["MessageReturn"]
        return dict(entity)
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "CEB900Message"
    [entity] = root.xpath("ceb:MessageReturn", namespaces=NS)
    return {etree.QName(child).localname: child.text or "" for child in entity}


# ------------------------------------------------------------- file and network watchers


class FileWatch:
    """Counts opens and reads of one file by any process (Linux inotify)."""

    IN_ACCESS, IN_OPEN = 0x001, 0x020

    def __init__(self, path: Path) -> None:
        self.fd = -1
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        if libc.inotify_add_watch(fd, str(path).encode(), self.IN_ACCESS | self.IN_OPEN) < 0:
            os.close(fd)
            return
        self.fd = fd

    @property
    def active(self) -> bool:
        return self.fd >= 0

    def touched(self) -> bool:
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)


@pytest.fixture
def secret(tmp_path: Path) -> Iterator[tuple[Path, FileWatch]]:
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    watch = FileWatch(path)
    if watch.active:  # the canary: our own read must be seen, or the check proves nothing
        assert path.read_text() == MARKER
        assert watch.touched() and not watch.touched()
    yield path, watch
    watch.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP listener; a connection attempt lands in its backlog even if never accepted."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        with socket.create_connection(server.getsockname(), timeout=1):
            pass  # the canary: a connection must be seen, or the check proves nothing
        time.sleep(0.01)
        assert connections(server) == 1
        yield server


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def assert_untouched(response: httpx.Response, watch: FileWatch) -> None:
    assert MARKER not in response.text
    if watch.active:
        assert not watch.touched(), "the window opened or read the file"


def url_of(server: socket.socket) -> str:
    host, port = server.getsockname()
    return f"http://{host}:{port}"


def order_with(prolog: str, note: str) -> bytes:
    """The golden order with a DOCTYPE prolog and its note replaced."""
    body = fresh(sample("export", 303)).decode()
    body = body.replace('<?xml version="1.0" encoding="UTF-8"?>', "", 1).lstrip()
    body = re.sub(r"<ceb:note>[^<]*</ceb:note>", f"<ceb:note>{note}</ceb:note>", body)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}\n{body}'.encode()


# ------------------------------------------------------------------------- DTD attacks


class TestEntitiesAndDtds:
    def test_xxe_file_entity_reads_no_file(
        self, client: TestClient, sender: Headers, secret: tuple[Path, FileWatch]
    ) -> None:
        path, watch = secret
        uri = path.as_uri()
        general = order_with(
            f'<!DOCTYPE ceb:CEB303Message [<!ENTITY xxe SYSTEM "{uri}">]>', "&xxe;"
        )
        variants = {
            "general": general,
            "parameter": order_with(
                f'<!DOCTYPE ceb:CEB303Message [<!ENTITY % p SYSTEM "{uri}"> %p;]>', "x"
            ),
            "attribute": general.replace(b'version="1.0">', b'version="&xxe;">', 1),
            # The byte scan cannot see a UTF-16 DOCTYPE; the parser must still load nothing.
            "utf16": general.decode()
            .replace('encoding="UTF-8"', 'encoding="UTF-16"')
            .encode("utf-16"),
        }
        for variant, body in variants.items():
            response = guarded_post(client, body, sender)

            assert "DTDs are not allowed" in refusal(response)["returnInfo"], variant
            assert_untouched(response, watch)

    def test_xxe_network_entity_opens_no_socket(
        self, client: TestClient, sender: Headers, listener: socket.socket
    ) -> None:
        url = url_of(listener)
        bodies = [
            order_with(f'<!DOCTYPE ceb:CEB303Message [<!ENTITY xxe SYSTEM "{url}/x">]>', "&xxe;"),
            order_with(f'<!DOCTYPE ceb:CEB303Message [<!ENTITY % p SYSTEM "{url}/p"> %p;]>', "x"),
        ]
        for body in bodies:
            entity = refusal(guarded_post(client, body, sender))
            assert "DTDs are not allowed" in entity["returnInfo"]
        assert connections(listener) == 0

    def test_external_dtd_is_neither_fetched_nor_read(
        self,
        client: TestClient,
        sender: Headers,
        listener: socket.socket,
        secret: tuple[Path, FileWatch],
    ) -> None:
        path, watch = secret
        for system_id in (f"{url_of(listener)}/ceb.dtd", path.as_uri()):
            body = order_with(f'<!DOCTYPE ceb:CEB303Message SYSTEM "{system_id}">', "x")
            response = guarded_post(client, body, sender)
            assert "DTDs are not allowed" in refusal(response)["returnInfo"]
            assert_untouched(response, watch)
        assert connections(listener) == 0

    def test_billion_laughs_is_refused_at_once(self, client: TestClient, sender: Headers) -> None:
        levels = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
        ]
        body = order_with(f"<!DOCTYPE ceb:CEB303Message [{''.join(levels)}]>", "&lol9;")

        response = guarded_post(client, body, sender)

        assert "DTDs are not allowed" in refusal(response)["returnInfo"]
        assert len(response.content) < 2 * len(body) + 4096

    def test_quadratic_blowup_is_refused_at_once(self, client: TestClient, sender: Headers) -> None:
        body = order_with(
            f'<!DOCTYPE ceb:CEB303Message [<!ENTITY a "{"x" * 50_000}">]>', "&a;" * 20_000
        )

        response = guarded_post(client, body, sender)

        assert "DTDs are not allowed" in refusal(response)["returnInfo"]

    def test_doctype_after_comments_and_processing_instructions_is_seen(
        self, client: TestClient, sender: Headers, secret: tuple[Path, FileWatch]
    ) -> None:
        path, watch = secret
        body = order_with(
            f'<!-- a comment --><?pi data?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "{path.as_uri()}">]>',
            "&xxe;",
        )
        response = guarded_post(client, body, sender)
        assert "DTDs are not allowed" in refusal(response)["returnInfo"]
        assert_untouched(response, watch)


# --------------------------------------------------------------- other ways to fetch


class TestNoFetching:
    def test_schema_location_hint_is_not_fetched_and_our_schema_decides(
        self, client: TestClient, sender: Headers, listener: socket.socket
    ) -> None:
        hint = (
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{CEB} {url_of(listener)}/ceb.xsd" version="1.0">'
        )
        # An element only the attacker's schema would allow: ours must still reject it.
        smuggled = (
            fresh(sample("export", 303))
            .replace(b'version="1.0">', hint.encode(), 1)
            .replace(b"<ceb:note>", b"<ceb:backdoor>1</ceb:backdoor><ceb:note>", 1)
        )

        response = guarded_post(client, smuggled, sender)

        entity = refusal(response)
        assert entity["returnStatus"] == "-2"
        assert "ceb:backdoor" in entity["returnInfo"]
        assert connections(listener) == 0

    def test_a_valid_message_with_a_schema_location_hint_is_judged_by_our_schema_alone(
        self, client: TestClient, sender: Headers, listener: socket.socket
    ) -> None:
        hint = (
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{CEB} {url_of(listener)}/ceb.xsd" version="1.0">'
        )
        body = fresh(sample("export", 303)).replace(b'version="1.0">', hint.encode(), 1)

        response = guarded_post(client, body, sender)

        assert response.status_code == 200, response.text
        assert connections(listener) == 0

    def test_xinclude_is_not_processed(
        self, client: TestClient, sender: Headers, secret: tuple[Path, FileWatch]
    ) -> None:
        path, watch = secret
        include = (
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            f'href="{path.as_uri()}" parse="text"/>'
        )
        body = re.sub(
            rb"<ceb:note>[^<]*</ceb:note>",
            f"<ceb:note>{include}</ceb:note>".encode(),
            fresh(sample("export", 303)),
        )

        response = guarded_post(client, body, sender)

        entity = refusal(response)
        assert entity["returnStatus"] == "-2"
        assert "ceb:note" in entity["returnInfo"]
        assert_untouched(response, watch)


# ---------------------------------------------------------------------- broken bodies


class TestBrokenBodies:
    def test_thousand_deep_nesting(self, client: TestClient, sender: Headers) -> None:
        deep = b"<ceb:a>" * 1000 + b"</ceb:a>" * 1000
        body = fresh(sample("export", 303)).replace(b"<ceb:note>", deep + b"<ceb:note>", 1)

        entity = refusal(guarded_post(client, body, sender))

        assert entity["returnStatus"] == "-1"
        assert "nests deeper than 64 elements" in entity["returnInfo"]

    def test_deeply_nested_json(self, client: TestClient, sender: Headers) -> None:
        body = b'{"CEB303Message": ' + b'{"a": ' * 300 + b'"x"' + b"}" * 301

        entity = refusal(guarded_post(client, body, sender, "application/json"))

        assert entity["returnStatus"] == "-1"
        assert "nests deeper" in entity["returnInfo"]

    def test_invalid_utf8(self, client: TestClient, sender: Headers) -> None:
        body = fresh(sample("export", 303)).replace(b"<ceb:note>", b"<ceb:note>\xff\xfe", 1)
        line = body[: body.index(b"\xff")].count(b"\n") + 1

        entity = refusal(guarded_post(client, body, sender))

        assert entity["returnStatus"] == "-1"
        assert re.search(
            rf"line {line}, column \d+: not well-formed: invalid bytes", entity["returnInfo"]
        )
        assert "\ufffd" in entity["oriBizMessage"]

    def test_control_characters_are_refused_and_quoted_safely(
        self, client: TestClient, sender: Headers
    ) -> None:
        body = fresh(sample("export", 303)).replace(b"<ceb:note>", b"<ceb:note>\x00\x01\x0b", 1)

        entity = refusal(guarded_post(client, body, sender))

        assert entity["returnStatus"] == "-1"
        assert "\ufffd\ufffd\ufffd" in entity["oriBizMessage"]

    def test_gbk_declared_document_is_accepted(
        self, client: TestClient, sender: Headers, engine: Engine
    ) -> None:
        text_ = fresh(sample("export", 303)).decode()
        body = text_.replace('encoding="UTF-8"', 'encoding="GBK"', 1).encode("gbk")
        assert body != text_.encode()

        response = guarded_post(client, body, sender)

        assert response.status_code == 200, response.text
        assert etree.fromstring(response.content).xpath(
            "//ceb:returnStatus/text()", namespaces=NS
        ) == ["120"]
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT body FROM window_message WHERE outcome = 'accepted'")
            ).scalar_one()
        assert bytes(stored) == body

    def test_gbk_declared_document_with_bytes_gbk_lacks_is_refused(
        self, client: TestClient, sender: Headers
    ) -> None:
        body = (
            fresh(sample("export", 303))
            .replace(b'encoding="UTF-8"', b'encoding="GBK"', 1)
            .replace(b"<ceb:note>", b"<ceb:note>\x81\x20", 1)
        )
        entity = refusal(guarded_post(client, body, sender))
        assert entity["returnStatus"] == "-1"
        assert "not well-formed" in entity["returnInfo"]

    def test_empty_body(self, client: TestClient, sender: Headers) -> None:
        for body, content_type, says in [
            (b"", "application/xml", "empty document"),
            (b"  \r\n\t ", "application/xml", "empty document"),
            (b"\xef\xbb\xbf", "application/xml", "empty document"),
            (b"", "application/json", "not valid JSON"),
        ]:
            entity = refusal(guarded_post(client, body, sender, content_type))
            assert entity["returnStatus"] == "-1"
            assert entity["oriMessageType"] == "Unknown"
            assert says in entity["returnInfo"], (body, content_type)

    def test_json_that_does_not_match_is_a_900(self, client: TestClient, sender: Headers) -> None:
        guid = "A" * 36
        cases: list[tuple[str, Any, str, str]] = [
            ("wrong root", {"Order": {"guid": guid}}, "-1", "the root Order is not a CEB message"),
            ("array", [{"CEB303Message": {}}], "-1", "one object keyed by its root"),
            (
                "boolean",
                {"CEB303Message": {"guid": guid, "Order": [{"OrderHead": {"appType": True}}]}},
                "-1",
                "true/false is not a CEB value",
            ),
            (
                "unknown element",
                {"CEB303Message": {"guid": guid, "version": "1.0", "Smuggled": "x"}},
                "-2",
                "ceb:Smuggled': This element is not expected",
            ),
        ]
        for case, document, status, says in cases:
            response = guarded_post(
                client, json.dumps(document).encode(), sender, "application/json"
            )

            assert response.headers["content-type"] == "application/json", case
            entity = refusal(response)
            assert entity["returnStatus"] == status, case
            assert says in entity["returnInfo"], (case, entity["returnInfo"])

    def test_json_in_shapes_xml_cannot_take_is_a_900(
        self, client: TestClient, sender: Headers
    ) -> None:
        guid = b'"guid": "' + b"A" * 36 + b'"'
        for body, says in [
            (b'{"CEB999Message": {' + guid + b"}}", "unknown message type CEB999"),
            (b'{"CEB303Message": {}, "CEB304Message": {}}', "one object keyed by its root"),
            (b'"CEB303Message"', "one object keyed by its root"),
            (b'{"CEB303Message": [1, 2]}', "must name a message and hold an object"),
            (b'{"CEB303Message": {' + guid + b', "Order": [[{}]]}}', "array of arrays"),
            (b'{"CEB303Message": {"guid": {"nested": 1}}}', "an object or an array"),
            (b'{"CEB303Message": {"guid": "\\u0000\\u0001"}}', "characters XML cannot carry"),
            (b'{"CEB303Message": {"<script>": "x"}}', "is not a CEB element name"),
            # Numbers that would expand to millions of digits once written out.
            (b'{"CEB303Message": {"version": 1e999999999}}', "out of the range"),
            (b'{"CEB303Message": {"version": 1e-999999999}}', "out of the range"),
            (b'{"CEB303Message": {"version": ' + b"9" * 5000 + b"}}", "not valid JSON"),
        ]:
            entity = refusal(guarded_post(client, body, sender, "application/json"))
            assert entity["returnStatus"] == "-1", body[:80]
            assert says in entity["returnInfo"], (body[:80], entity["returnInfo"])

    def test_documents_that_are_no_ceb_message(self, client: TestClient, sender: Headers) -> None:
        for body, says in [
            (b"<html><body>hello</body></html>", "the root html is not a CEB message"),
            (
                f'<ceb:CEB{"9" * 40}Message xmlns:ceb="{CEB}" guid="x"/>'.encode(),
                "unknown message type CEB9999",
            ),
            (
                b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>',
                "the root Envelope is not a CEB message",
            ),
            (
                b'<dxp:DxpRep xmlns:dxp="http://www.chinaport.gov.cn/dxp"/>',
                "DxpRep is not a message the window accepts",
            ),
        ]:
            entity = refusal(guarded_post(client, body, sender))
            assert entity["returnStatus"] == "-1"
            assert says in entity["returnInfo"], entity["returnInfo"]
