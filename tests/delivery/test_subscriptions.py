"""SLA alerts pushed to customs codes' subscribers, and receipt copies (BaseSubscribe)."""

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.config import DeliverySettings, SlaSettings
from app.db import make_engine, make_sessionmaker
from app.delivery import service
from app.delivery.models import AlertItem
from app.jobs import DEFAULT_JOBS, JobRunner
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptDraft
from app.sla import service as sla_service
from tests.support.alerts import sla_alert

POLICY = DeliverySettings(
    horizon_hours=24, timeout_s=0.3, backoff_base_s=60, backoff_max_s=3600, batch_size=50
)
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass
class Hooks:
    """One local HTTP server; each path is a receiver with its own scripted answers."""

    base: str
    hits: dict[str, list[tuple[dict[str, str], bytes]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    script: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def alert_ids(self, name: str) -> list[int]:
        return [int(head["X-SW-Alert-Id"]) for head, _ in self.hits[name]]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    state = Hooks(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            name = self.path.strip("/")
            answer = state.script[name].popleft() if state.script[name] else 200
            if answer < 300:
                state.hits[name].append((dict(self.headers.items()), body))
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def push(factory: sessionmaker[Session], now: datetime) -> int:
    with factory() as session:
        return service.enqueue_and_send(session, now=now, policy=POLICY)


def started(factory: sessionmaker[Session], inventory_id: int, customs_code: str) -> None:
    """A bonded list accepted at T0: its clock runs from then."""
    with factory.begin() as session:
        sla_service.accept(
            session,
            inventory_id=inventory_id,
            invt_no=f"{customs_code}2026I{inventory_id:09d}",
            direction="I",
            customs_code=customs_code,
            trade_mode="1210",
            logistics_code="4301990004",
            logistics_no=f"WB{inventory_id}",
            accepted_at=T0,
            policy=SlaSettings(),
        )


def scan(factory: sessionmaker[Session], now: datetime) -> None:
    with factory.begin() as session:
        sla_service.scan(session, now=now, policy=SlaSettings())


def verified(secret: str, head: dict[str, str], body: bytes) -> bool:
    return head["X-SW-Signature"] == service.sign(secret, head["X-SW-Timestamp"], body)


def subscribe(
    client: TestClient, admin: dict[str, str], name: str, url: str, *codes: str
) -> dict[str, object]:
    with clock.using(lambda: T0):
        created = client.post(
            "/api/v1/deliveries/subscriptions",
            json={"name": name, "callback_url": url, "customs_codes": list(codes)},
            headers=admin,
        )
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


def test_each_alert_reaches_the_subscribers_of_its_customs_code_once(
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    ours = subscribe(client, admin, "Changsha ops", hooks.url("ours"), "4900", "4901")
    subscribe(client, admin, "elsewhere", hooks.url("other"), "5100")
    started(session_factory, 1, "4900")

    scan(session_factory, T0 + 21 * H)
    assert push(session_factory, T0 + 21 * H) == 1
    scan(session_factory, T0 + 24 * H + H)
    assert push(session_factory, T0 + 25 * H) == 1
    assert push(session_factory, T0 + 26 * H) == 0

    bodies = [json.loads(body) for _, body in hooks.hits["ours"]]
    assert [(b["kind"], b["invt_no"], b["customs_code"]) for b in bodies] == [
        ("at_risk", "49002026I000000001", "4900"),
        ("breached", "49002026I000000001", "4900"),
    ]
    assert bodies[0]["deadline"] == (T0 + 24 * H).isoformat()
    assert bodies[1]["raised_at"] == (T0 + 25 * H).isoformat()
    assert hooks.alert_ids("ours") == [b["id"] for b in bodies]
    for head, body in hooks.hits["ours"]:
        assert "X-SW-Receipt-Id" not in head
        assert verified(str(ours["secret"]), head, body)
        assert not verified("not the secret", head, body)
    assert hooks.hits["other"] == []


@pytest.mark.postgres_only
def test_an_alert_that_commits_after_a_later_one_is_still_pushed(
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    subscribe(client, admin, "Changsha ops", hooks.url("ours"), "4900")
    hooks.script["ours"].append(503)
    with session_factory() as slow:
        late = sla_alert(slow, 1, deadline=T0 + 24 * H)
        with session_factory.begin() as fast:
            early = sla_alert(fast, 2, deadline=T0 + 24 * H)
        assert late < early, "the slow scan took the lower id"

        assert push(session_factory, T0 + 21 * H) == 0, "the subscriber answers 503"
        slow.commit()

    # Paged by id, the subscription's cursor would already be past the slow alert; queued
    # by alert id, the slow alert would overtake the one waiting for its retry.
    assert push(session_factory, T0 + 22 * H) == 2
    assert hooks.alert_ids("ours") == [early, late]
    assert push(session_factory, T0 + 23 * H) == 0


def test_a_failing_subscriber_is_retried_in_order_and_blocks_no_other(
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    subscribe(client, admin, "flaky", hooks.url("flaky"), "4900")
    subscribe(client, admin, "steady", hooks.url("steady"), "4900")
    started(session_factory, 1, "4900")
    started(session_factory, 2, "4900")
    hooks.script["flaky"].append(503)
    now = T0 + 21 * H
    scan(session_factory, now)

    assert push(session_factory, now) == 2  # steady got both; flaky's first failed
    assert len(hooks.hits["steady"]) == 2
    assert hooks.hits["flaky"] == []  # its second waits behind its first
    with session_factory() as session:
        failed = select(AlertItem).where(AlertItem.attempts == 1, AlertItem.status == "pending")
        retry = min(i.next_attempt_at for i in session.scalars(failed))
    assert retry > now
    assert push(session_factory, retry) == 2
    assert hooks.alert_ids("flaky") == hooks.alert_ids("steady")
    assert push(session_factory, retry + H) == 0


def test_an_alert_undelivered_at_the_horizon_expires_and_the_next_one_goes(
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    subscribe(client, admin, "down", hooks.url("down"), "4900")
    started(session_factory, 1, "4900")
    now = T0 + 21 * H
    scan(session_factory, now)
    hooks.script["down"].extend([503] * 50)
    push(session_factory, now)
    with session_factory() as session:
        (stale,) = session.scalars(select(AlertItem)).all()
    while stale.status == "pending":
        assert stale.next_attempt_at < now + 48 * H, "the horizon was not enforced"
        push(session_factory, stale.next_attempt_at)
        with session_factory() as session:
            found = session.get(AlertItem, stale.id)
            assert found is not None
            stale = found
    assert stale.status == "expired"
    assert stale.last_error == "HTTP 503"
    assert hooks.hits["down"] == []

    # The receiver is back: the breach, raised after the at-risk alert expired, goes.
    hooks.script["down"].clear()
    later = T0 + 48 * H
    scan(session_factory, later)
    assert push(session_factory, later) == 1
    assert [json.loads(body)["kind"] for _, body in hooks.hits["down"]] == ["breached"]


@pytest.mark.postgres_only
def test_concurrent_workers_push_each_alert_once_per_subscriber(
    db_url: str,
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    for name in ("a", "b"):
        subscribe(client, admin, name, hooks.url(name), "4900")
    for inventory_id in range(1, 9):
        started(session_factory, inventory_id, "4900")
    now = T0 + 21 * H
    scan(session_factory, now)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        engine = make_engine(db_url)
        try:
            start.wait()
            for _ in range(3):
                with make_sessionmaker(engine)() as session:
                    service.enqueue_and_send(
                        session, now=now, policy=POLICY.model_copy(update={"batch_size": 2})
                    )
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
    for name in ("a", "b"):
        ids = hooks.alert_ids(name)
        assert len(ids) == 8
        assert ids == sorted(ids)  # alert order per subscriber


def test_only_administrators_manage_subscriptions_and_a_deactivated_one_gets_nothing(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    enterprise = register("3301000001", "ebc")
    payload = {"name": "x", "callback_url": hooks.url("x"), "customs_codes": ["4900"]}
    assert (
        client.post(
            "/api/v1/deliveries/subscriptions", json=payload, headers=enterprise
        ).status_code
        == 403
    )
    created = subscribe(client, admin, "x", hooks.url("x"), "4900")
    assert client.get("/api/v1/deliveries/subscriptions", headers=enterprise).status_code == 403
    path = f"/api/v1/deliveries/subscriptions/{created['id']}"
    assert client.delete(path, headers=enterprise).status_code == 403
    listed = client.get("/api/v1/deliveries/subscriptions", headers=admin).json()
    assert [(s["name"], s["customs_codes"], s["active"]) for s in listed] == [("x", ["4900"], True)]
    assert "secret" not in listed[0]

    deleted = client.delete(path, headers=admin)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["active"] is False
    assert client.delete("/api/v1/deliveries/subscriptions/999", headers=admin).status_code == 404
    started(session_factory, 1, "4900")
    scan(session_factory, T0 + 21 * H)
    assert push(session_factory, T0 + 21 * H) == 0
    assert hooks.hits["x"] == []


def issue(factory: sessionmaker[Session], code: str, *statuses: int) -> list[int]:
    with factory.begin() as session:
        receipts_service.issue(
            session,
            drafts=[
                ReceiptDraft(
                    recipient_code=code,
                    message_type="CEB312",
                    doc_kind="order",
                    doc_key=f"doc-{n}",
                    return_status=status,
                    return_info=f"status {status}",
                    fields={"guid": f"doc-{n}", "ebpCode": code, "ebcCode": code},
                )
                for n, status in enumerate(statuses)
            ],
            at=clock.now(),
        )
    with factory() as session:
        ids = select(Receipt.id).where(Receipt.recipient_code == code).order_by(Receipt.id)
        return list(session.scalars(ids))[-len(statuses) :]


def channel(
    client: TestClient, admin: dict[str, str], headers: dict[str, str], code: str, url: str
) -> str:
    client.patch(f"/api/v1/enterprises/{code}", json={"callback_url": url}, headers=admin)
    issued = client.post("/api/v1/deliveries/secret", headers=headers)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["secret"])


def test_copies_of_the_listed_statuses_reach_the_subscriber(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    owner = register("3301000001", "ebc")
    subscriber = register("3301000002", "ebc")
    channel(client, admin, owner, "3301000001", hooks.url("owner"))
    secret = channel(client, admin, subscriber, "3301000002", hooks.url("subscriber"))
    issue(session_factory, "3301000001", 2)  # before the copy: not copied
    registered = client.post(
        "/api/v1/deliveries/copies",
        json={"subscriber_code": "3301000002", "statuses": [2, 120]},
        headers=owner,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["statuses"] == [2, 120]
    copied, skipped, also = issue(session_factory, "3301000001", 2, 3, 120)

    assert push(session_factory, clock.now()) == 4 + 2
    assert len(hooks.hits["owner"]) == 4
    assert [int(h["X-SW-Receipt-Id"]) for h, _ in hooks.hits["subscriber"]] == [copied, also]
    for head, body in hooks.hits["subscriber"]:
        assert head["X-SW-Copy-Of"] == "3301000001"
        assert verified(secret, head, body)
    assert all("X-SW-Copy-Of" not in head for head, _ in hooks.hits["owner"])
    assert skipped not in [int(h["X-SW-Receipt-Id"]) for h, _ in hooks.hits["subscriber"]]
    listed = client.get("/api/v1/deliveries/copies", headers=owner).json()
    assert [c["subscriber_code"] for c in listed] == ["3301000002"]

    assert client.delete("/api/v1/deliveries/copies/3301000002", headers=owner).status_code == 204
    issue(session_factory, "3301000001", 2)
    assert push(session_factory, clock.now()) == 1
    assert len(hooks.hits["subscriber"]) == 2


def test_an_enterprise_registers_copies_of_its_own_receipts_only(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
) -> None:
    victim = register("3301000001", "ebc")
    thief = register("3301000002", "ebc")
    stolen = client.post(
        "/api/v1/deliveries/copies",
        json={"enterprise_code": "3301000001", "subscriber_code": "3301000002"},
        headers=thief,
    )
    assert stolen.status_code == 403
    by_admin = client.post(
        "/api/v1/deliveries/copies", json={"subscriber_code": "3301000002"}, headers=admin
    )
    assert by_admin.status_code == 403
    to_self = client.post(
        "/api/v1/deliveries/copies", json={"subscriber_code": "3301000001"}, headers=victim
    )
    assert to_self.status_code == 422
    unknown = client.post(
        "/api/v1/deliveries/copies", json={"subscriber_code": "3301009999"}, headers=victim
    )
    assert unknown.status_code == 404
    assert client.get("/api/v1/deliveries/copies", headers=victim).json() == []


def test_the_worker_jobs_raise_an_alert_and_push_it(
    client: TestClient,
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    hooks: Hooks,
) -> None:
    subscribe(client, admin, "ops", hooks.url("ops"), "4900")
    started(session_factory, 1, "4900")
    wanted = ("sla.scan", "delivery.push")
    jobs = JobRunner(session_factory, [job for job in DEFAULT_JOBS if job.name in wanted])
    with clock.using(lambda: T0 + 21 * H):
        assert jobs.run_due() == {"sla.scan": 1, "delivery.push": 1}
    assert [json.loads(body)["kind"] for _, body in hooks.hits["ops"]] == ["at_risk"]
