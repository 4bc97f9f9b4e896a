"""An API process killed with SIGKILL during a burst: every 200 it gave is durable, and a
client that resends everything afterwards gets each message accepted exactly once."""

import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.customs.models import Document
from app.receipts.models import Receipt
from app.window.models import RawMessage
from tests.conftest import ADMIN_KEY
from tests.customs.conftest import EXPORT_PARTIES, SENDERS, ExportStory, statuses
from tests.resilience.processes import Spawn, free_port, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.resilience]

ORDERS = 160
THREADS = 4
KILL_AFTER = 30  # accepted orders before the kill
PLATFORM = SENDERS[303]


@dataclass
class Sent:
    suffix: str
    guid: str
    body: bytes
    status: int | None = None  # None: no answer (the connection broke or was refused)
    receipts: list[str] = field(default_factory=list)


def start_api(spawn: Spawn, db_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        "SW_DATABASE_URL": db_url,
        "SW_ADMIN_KEY": ADMIN_KEY,
        "SW_REQUIRE_SIGNATURES": "false",
        "SW_OUTBOX__IN_PROCESS": "false",
    }
    args = ("app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port))
    server = spawn("uvicorn", *args, "--log-level", "warning", env=env)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, timeout_s=30, what="the API to start")
    return base, server


def file_parties(base: str) -> dict[str, str]:
    """The export parties filed through the API; returns each one's bearer header value."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    keys = {}
    with httpx.Client(base_url=base, headers=admin, timeout=10) as http:
        for code, roles in EXPORT_PARTIES.items():
            body = {"code": code, "name": f"enterprise {code}", "roles": roles}
            assert http.post("/api/v1/enterprises", json=body).status_code == 201
            issued = http.post(f"/api/v1/enterprises/{code}/keys")
            assert issued.status_code == 201, issued.text
            keys[code] = f"Bearer {issued.json()['key']}"
    return keys


def send(base: str, key: str, batch: list[Sent], *, accepted: list[int]) -> None:
    headers = {"Authorization": key, "Content-Type": "application/xml"}
    with httpx.Client(base_url=base, headers=headers, timeout=20) as http:
        for sent in batch:
            try:
                answer = http.post("/api/v1/messages", content=sent.body)
            except httpx.TransportError:
                continue
            sent.status = answer.status_code
            if answer.status_code == 200:
                sent.receipts = statuses(answer.content)
                accepted.append(1)


def test_killed_api_keeps_every_acknowledged_message(
    db_url: str, session_factory: sessionmaker[Session], spawn: Spawn
) -> None:
    base, server = start_api(spawn, db_url)
    keys = file_parties(base)
    story = ExportStory(None, {})  # type: ignore[arg-type]  # only re-keys messages here
    burst = []
    for i in range(ORDERS):
        body = story.message(303, f"K{i:05d}")
        burst.append(Sent(f"K{i:05d}", etree.fromstring(body).get("guid"), body))

    accepted: list[int] = []
    threads = [
        threading.Thread(
            target=send,
            args=(base, keys[PLATFORM], burst[t::THREADS]),
            kwargs={"accepted": accepted},
        )
        for t in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(accepted) >= KILL_AFTER, timeout_s=30, what="the burst to get going")
    finally:
        os.kill(server.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=30)
    assert server.wait(timeout=10) == -signal.SIGKILL
    acknowledged = [sent for sent in burst if sent.status == 200]
    unanswered = [sent for sent in burst if sent.status is None]
    assert acknowledged and unanswered, "the kill must land inside the burst"
    assert {sent.status for sent in burst} <= {200, None}

    # Every 200 was committed before it was sent: its order and its receipts are there.
    with session_factory() as session:
        for sent in acknowledged:
            raw_id = session.scalars(
                select(RawMessage.id).where(
                    RawMessage.sender_code == PLATFORM,
                    RawMessage.guid == sent.guid,
                    RawMessage.outcome == "accepted",
                )
            ).one()
            assert session.scalar(
                select(func.count()).select_from(Receipt).where(Receipt.source_message_id == raw_id)
            )
            assert session.scalars(
                select(Document.id).where(
                    Document.business_key == f"{PLATFORM}|EXP-ORDER-{sent.suffix}"
                )
            ).one()

    base, _ = start_api(spawn, db_url)
    before = {sent.guid: (sent.status, sent.receipts) for sent in burst}
    replayed: dict[str, bool] = {}
    headers = {"Authorization": keys[PLATFORM], "Content-Type": "application/xml"}
    with httpx.Client(base_url=base, headers=headers, timeout=20) as http:
        for sent in burst:
            answer = http.post("/api/v1/messages", content=sent.body)
            assert answer.status_code == 200, answer.text
            replayed[sent.guid] = answer.headers.get("X-Replayed") == "true"
            if before[sent.guid][0] == 200:
                assert replayed[sent.guid], "an acknowledged message was accepted a second time"
                assert statuses(answer.content) == before[sent.guid][1]

    with session_factory() as session:
        orders = session.scalars(
            select(Document.business_key).where(
                Document.business_key.like(f"{PLATFORM}|EXP-ORDER-K%")
            )
        ).all()
        copies = session.scalars(
            select(RawMessage.guid).where(
                RawMessage.sender_code == PLATFORM, RawMessage.outcome == "accepted"
            )
        ).all()
    assert sorted(orders) == sorted(f"{PLATFORM}|EXP-ORDER-{sent.suffix}" for sent in burst)
    assert sorted(copies) == sorted(sent.guid for sent in burst)
