"""A real message's receipt reaches the enterprise's callback through the worker's job."""

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from app.jobs import DEFAULT_JOBS, JobRunner

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
EBP = "4301990001"


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    hits: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/receipts", hits
    server.shutdown()
    server.server_close()


def test_an_order_receipt_is_pushed_by_the_delivery_job(
    client: TestClient,
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
    received: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, hits = received
    headers = register(EBP, "ebp", callback_url=url)
    secret = client.post("/api/v1/deliveries/secret", headers=headers).json()["secret"]
    order = (SAMPLES / "export" / "CEB303Message.xml").read_bytes()
    posted = client.post(
        "/api/v1/messages", content=order, headers={**headers, "Content-Type": "application/xml"}
    )
    assert posted.status_code == 200, posted.text
    pulled = client.get("/api/v1/receipts", headers=headers).json()["receipts"]

    jobs = JobRunner(session_factory, [job for job in DEFAULT_JOBS if job.name == "delivery.push"])
    assert jobs.run_due() == {"delivery.push": len(pulled)}

    assert [int(h["X-SW-Receipt-Id"]) for h, _ in hits] == [r["id"] for r in pulled]
    head, body = hits[0]
    mac = hmac.new(secret.encode(), head["X-SW-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert head["X-SW-Signature"] == "sha256=" + mac.hexdigest()
    assert etree.fromstring(body).tag == "{http://www.chinaport.gov.cn/ceb}CEB304Message"
    log = client.get("/api/v1/deliveries", headers=headers).json()
    assert {item["status"] for item in log["items"]} == {"delivered"}
