"""Receipt push against a real HTTP receiver on 127.0.0.1 that fails, stalls and recovers."""

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock, rowbuffer
from app.config import DeliverySettings
from app.db import make_engine, make_sessionmaker
from app.delivery import service
from app.delivery.models import Channel, Item
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptDraft

POLICY = DeliverySettings(
    horizon_hours=24, timeout_s=0.3, backoff_base_s=60, backoff_max_s=3600, batch_size=50
)
STALL_S = 0.8  # beyond POLICY.timeout_s
Enterprise = Callable[[str], tuple[dict[str, str], str]]


@dataclass
class Hit:
    receipt_id: int
    timestamp: str
    signature: str
    content_type: str
    body: bytes


@dataclass
class Receiver:
    url: str
    hits: list[Hit] = field(default_factory=list)
    # Answers to the next requests in turn ("stall" sleeps past the client's timeout); then 200.
    script: deque[int | str] = field(default_factory=deque)
    always: int | None = None

    def ids(self) -> list[int]:
        return [hit.receipt_id for hit in self.hits]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answer = state.script.popleft() if state.script else (state.always or 200)
            if answer == "stall":
                time.sleep(STALL_S)
                answer = 200
            else:
                state.hits.append(
                    Hit(
                        int(self.headers["X-SW-Receipt-Id"]),
                        self.headers["X-SW-Timestamp"],
                        self.headers["X-SW-Signature"],
                        self.headers["Content-Type"],
                        body,
                    )
                )
            try:
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def enterprise(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    receiver: Receiver,
) -> Enterprise:
    """An enterprise with its callback URL (set by the administrator) and its push secret."""

    def _enterprise(code: str) -> tuple[dict[str, str], str]:
        headers = register(code, "ebc")
        patched = client.patch(
            f"/api/v1/enterprises/{code}", json={"callback_url": receiver.url}, headers=admin
        )
        assert patched.status_code == 200, patched.text
        issued = client.post("/api/v1/deliveries/secret", headers=headers)
        assert issued.status_code == 201, issued.text
        return headers, issued.json()["secret"]

    return _enterprise


def drafts(code: str, *doc_keys: str) -> list[ReceiptDraft]:
    return [
        ReceiptDraft(
            recipient_code=code,
            message_type="CEB312",
            doc_kind="order",
            doc_key=key,
            return_status=2,
            return_info=f"receipt of {key}",
            fields={"guid": key, "ebpCode": code, "ebcCode": code, "orderNo": key},
        )
        for key in doc_keys
    ]


def issue(factory: sessionmaker[Session], code: str, *doc_keys: str) -> list[int]:
    """Receipts for ``code``, one per document key, in this order; returns their ids."""
    with factory.begin() as session:
        receipts_service.issue(session, drafts=drafts(code, *doc_keys), at=clock.now())
    with factory() as session:
        return list(
            session.scalars(
                select(Receipt.id).where(Receipt.recipient_code == code).order_by(Receipt.id)
            )
        )[-len(doc_keys) :]


def push(factory: sessionmaker[Session], now: datetime, policy: DeliverySettings = POLICY) -> int:
    with factory() as session:
        return service.enqueue_and_send(session, now=now, policy=policy)


def items(factory: sessionmaker[Session]) -> dict[int, Item]:
    with factory() as session:
        return {i.receipt_id: i for i in session.scalars(select(Item))}


def channel(factory: sessionmaker[Session], code: str) -> Channel:
    with factory() as session:
        found = session.get(Channel, code)
        assert found is not None
        return found


def test_receipts_are_pushed_signed_and_in_order(
    session_factory: sessionmaker[Session], receiver: Receiver, enterprise: Enterprise
) -> None:
    _, secret = enterprise("3301000001")
    r1, r2, r3 = issue(session_factory, "3301000001", "doc-a", "doc-b", "doc-a")

    assert push(session_factory, clock.now()) == 3

    assert sorted(receiver.ids()) == [r1, r2, r3]
    assert receiver.ids().index(r1) < receiver.ids().index(r3)
    for hit in receiver.hits:
        mac = hmac.new(secret.encode(), hit.timestamp.encode() + b"." + hit.body, hashlib.sha256)
        assert hit.signature == f"sha256={mac.hexdigest()}"
        assert hit.content_type == "application/xml"
        root = etree.fromstring(hit.body)
        assert root.tag.endswith("CEB312Message")
    forged = hmac.new(b"not the secret", receiver.hits[0].body, hashlib.sha256).hexdigest()
    assert receiver.hits[0].signature != f"sha256={forged}"
    # Nothing is sent twice once delivered.
    assert push(session_factory, clock.now() + timedelta(hours=1)) == 0
    assert len(receiver.hits) == 3


def test_a_failing_receipt_backs_off_and_holds_back_only_its_own_document(
    session_factory: sessionmaker[Session], receiver: Receiver, enterprise: Enterprise
) -> None:
    enterprise("3301000001")
    r1, r2, r3 = issue(session_factory, "3301000001", "doc-a", "doc-b", "doc-a")
    receiver.script.append(500)
    start = clock.now()

    assert push(session_factory, start) == 1
    # r1 was answered 500, r2 landed, r3 waits behind r1.
    assert receiver.ids() == [r1, r2]
    first = items(session_factory)[r1]
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.last_error == "HTTP 500"
    assert start + timedelta(seconds=30) <= first.next_attempt_at <= start + timedelta(seconds=60)
    assert items(session_factory)[r3].attempts == 0

    assert push(session_factory, start + timedelta(seconds=29)) == 0  # not due yet
    assert push(session_factory, first.next_attempt_at) == 2
    assert receiver.ids() == [r1, r2, r1, r3]


def test_a_stalled_receiver_times_out_and_is_retried(
    session_factory: sessionmaker[Session], receiver: Receiver, enterprise: Enterprise
) -> None:
    enterprise("3301000001")
    (r1,) = issue(session_factory, "3301000001", "doc-a")
    receiver.script.append("stall")
    start = clock.now()

    assert push(session_factory, start) == 0
    stalled = items(session_factory)[r1]
    assert stalled.last_status_code is None
    assert stalled.last_error is not None
    assert "Timeout" in stalled.last_error
    assert push(session_factory, stalled.next_attempt_at) == 1
    assert receiver.ids() == [r1]


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    for attempts, ceiling in [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (30, 3600)]:
        delays = {service.backoff(attempts, POLICY).total_seconds() for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_past_the_horizon_the_channel_fails_until_redriven(
    client: TestClient,
    session_factory: sessionmaker[Session],
    receiver: Receiver,
    enterprise: Enterprise,
) -> None:
    headers, _ = enterprise("3301000001")
    (r1,) = issue(session_factory, "3301000001", "doc-a")
    receiver.always = 503
    policy = DeliverySettings(horizon_hours=2, timeout_s=0.3, backoff_base_s=60, backoff_max_s=1800)
    now = clock.now()
    push(session_factory, now, policy)
    while channel(session_factory, "3301000001").status == "active":
        now = items(session_factory)[r1].next_attempt_at
        assert now < clock.now() + timedelta(hours=3), "the horizon was not enforced"
        push(session_factory, now, policy)
    failed = channel(session_factory, "3301000001")
    assert failed.failed_at == now
    attempts = items(session_factory)[r1].attempts
    assert 4 <= attempts <= 12

    # A failed channel sends nothing, even when its receipts are due.
    receiver.always = None
    assert push(session_factory, now + timedelta(days=1), policy) == 0
    log = client.get("/api/v1/deliveries", headers=headers).json()
    assert log["channel"]["status"] == "failed"
    assert log["items"][0]["last_error"] == "HTTP 503"
    assert log["items"][0]["attempts"] == attempts

    with clock.using(lambda: now + timedelta(days=1)):
        redriven = client.post("/api/v1/deliveries/redrive", headers=headers)
    assert redriven.status_code == 200, redriven.text
    assert redriven.json()["redriven"] == 1
    assert redriven.json()["channel"]["status"] == "active"
    assert push(session_factory, now + timedelta(days=1), policy) == 1
    assert receiver.ids()[-1] == r1
    again = client.post("/api/v1/deliveries/redrive", headers=headers)
    assert again.status_code == 409


def test_an_enterprise_sees_only_its_own_deliveries(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
    receiver: Receiver,
    enterprise: Enterprise,
) -> None:
    mine, _ = enterprise("3301000001")
    enterprise("3301000002")
    (own,) = issue(session_factory, "3301000001", "doc-a")
    issue(session_factory, "3301000002", "doc-b")
    push(session_factory, clock.now())

    log = client.get("/api/v1/deliveries", headers=mine)
    assert log.status_code == 200, log.text
    body = log.json()
    assert [item["receipt_id"] for item in body["items"]] == [own]
    assert body["items"][0]["status"] == "delivered"
    assert body["channel"]["enterprise_code"] == "3301000001"
    assert "secret" not in body["channel"]

    no_channel = register("3301000003", "ebc")
    assert client.get("/api/v1/deliveries", headers=no_channel).status_code == 404
    assert client.get("/api/v1/deliveries", headers=admin).status_code == 403
    assert client.post("/api/v1/deliveries/secret", headers=admin).status_code == 403


def test_the_log_pages_newest_first(
    client: TestClient, session_factory: sessionmaker[Session], enterprise: Enterprise
) -> None:
    headers, _ = enterprise("3301000001")
    ids = issue(session_factory, "3301000001", "a", "b", "c")
    push(session_factory, clock.now())
    first = client.get("/api/v1/deliveries?limit=2", headers=headers).json()
    assert [i["receipt_id"] for i in first["items"]] == [ids[2], ids[1]]
    rest = client.get(f"/api/v1/deliveries?limit=2&after={first['next']}", headers=headers)
    assert [i["receipt_id"] for i in rest.json()["items"]] == [ids[0]]
    assert rest.json()["next"] is None


def test_rotating_the_secret_signs_with_the_new_one_in_the_chosen_format(
    client: TestClient,
    session_factory: sessionmaker[Session],
    receiver: Receiver,
    enterprise: Enterprise,
) -> None:
    headers, old = enterprise("3301000001")
    rotated = client.post("/api/v1/deliveries/secret", json={"format": "json"}, headers=headers)
    assert rotated.status_code == 201
    new = rotated.json()["secret"]
    assert new != old
    assert len(bytes.fromhex(new)) == 32
    (r1,) = issue(session_factory, "3301000001", "doc-a")
    push(session_factory, clock.now())
    (hit,) = receiver.hits
    assert hit.content_type == "application/json"
    assert hit.signature == service.sign(new, hit.timestamp, hit.body)
    assert hit.signature != service.sign(old, hit.timestamp, hit.body)
    assert f'"id": {r1}' in hit.body.decode()


def test_receipts_of_enterprises_without_a_channel_are_not_pushed(
    session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    issue(session_factory, "3301000009", "doc-a")
    assert push(session_factory, clock.now()) == 0
    assert receiver.hits == []
    assert items(session_factory) == {}


@pytest.mark.postgres_only
def test_concurrent_workers_send_each_receipt_once_in_document_order(
    db_url: str,
    session_factory: sessionmaker[Session],
    receiver: Receiver,
    enterprise: Enterprise,
) -> None:
    enterprise("3301000001")
    keys = [f"doc-{n % 4}" for n in range(24)]
    ids = issue(session_factory, "3301000001", *keys)
    with session_factory.begin() as session:
        service._enqueue(session, now=clock.now(), policy=POLICY)
    small_batches = POLICY.model_copy(update={"batch_size": 2})
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            start.wait()
            for _ in range(4):
                push(make_sessionmaker(engine), clock.now(), small_batches)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(receiver.ids()) == ids  # every receipt, none twice
    for key in set(keys):
        of_doc = [rid for rid, k in zip(ids, keys, strict=True) if k == key]
        assert [rid for rid in receiver.ids() if rid in of_doc] == of_doc


@pytest.mark.postgres_only
def test_a_receipt_that_commits_after_a_later_one_is_still_pushed(
    session_factory: sessionmaker[Session], receiver: Receiver, enterprise: Enterprise
) -> None:
    enterprise("3301000001")
    with session_factory() as slow:
        receipts_service.issue(slow, drafts=drafts("3301000001", "doc-slow"), at=clock.now())
        # Inserted (its id taken) as intake does just before COMMIT, and not committed yet.
        rowbuffer.write(slow)
        late = slow.scalars(select(Receipt.id).where(Receipt.doc_key == "doc-slow")).one()
        (early,) = issue(session_factory, "3301000001", "doc-fast")
        assert late < early

        assert push(session_factory, clock.now()) == 1
        slow.commit()

    assert push(session_factory, clock.now()) == 1
    assert receiver.ids() == [early, late]


def test_receipts_wait_for_a_callback_url_and_then_all_go(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    headers = register("3301000001", "ebc")
    assert client.post("/api/v1/deliveries/secret", headers=headers).status_code == 201
    ids = issue(session_factory, "3301000001", "doc-a", "doc-b")
    assert push(session_factory, clock.now()) == 0
    assert items(session_factory) == {}

    client.patch(
        "/api/v1/enterprises/3301000001", json={"callback_url": receiver.url}, headers=admin
    )
    assert push(session_factory, clock.now()) == 2
    assert receiver.ids() == ids
