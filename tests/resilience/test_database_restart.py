"""PostgreSQL restarted twice (a fast shutdown, then a crash) under a minute of mixed load
from eight clients: the API answers 503 with Retry-After while the database is away, the API
processes and the worker carry on by themselves, and afterwards nothing acknowledged is
missing and no business rule was broken (checked in SQL)."""

import hashlib
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import audit, migrate, outbox
from app.db import make_engine
from tests.conftest import ADMIN_KEY
from tests.customs.conftest import statuses
from tests.resilience.cluster import PrivateCluster
from tests.resilience.mixed_load import Client, Keys, Message, Traffic, file_parties
from tests.resilience.processes import Spawn, free_port, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.resilience]

CLIENTS = 8
LOAD_S = 60.0
RESTARTS = ((20.0, "fast"), (40.0, "immediate"))  # seconds into the load, pg_ctl stop mode
DOWN_S = 2.0  # how long the database stays away each time
GIVE_UP_S = 30.0  # after the load, how long a client keeps retrying an unanswered request
MIN_ACCEPTED = 50  # messages accepted before, between and after the restarts, at least
REPLAY_SAMPLE = 50  # acknowledged messages sent again at the end, besides the retried ones


@dataclass
class Outage:
    mode: str
    stopping: float
    started: float
    postmaster_before: int | None
    postmaster_after: int | None


@dataclass
class Run:
    keys: Keys
    started: float
    until: float
    outages: list[Outage] = field(default_factory=list)


@dataclass
class Window:
    base: str
    server: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def api_processes(self) -> set[int]:
        """The server's children: uvicorn's API processes (it would replace one that died)."""
        assert self.server.poll() is None, "the API server exited"
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        return {int(pid) for pid in children.read_text().split()}


@pytest.fixture
def window_db(private_postgres: PrivateCluster) -> Iterator[Engine]:
    """The private cluster's database, migrated, and an engine for the checks."""
    migrate.upgrade(private_postgres.url)
    engine = make_engine(private_postgres.url, pool_size=2)
    yield engine
    engine.dispose()


def start_window(spawn: Spawn, url: str) -> Window:
    """``singlewindow serve --workers 2`` (two API processes) and one ``singlewindow worker``."""
    port = free_port()
    env = {"SW_DATABASE_URL": url, "SW_ADMIN_KEY": ADMIN_KEY, "SW_REQUIRE_SIGNATURES": "false"}
    server = spawn("app.cli", "serve", "--workers", "2", "--no-relay", "--port", str(port), env=env)
    worker = spawn("app.cli", "worker", env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: healthy(base), timeout_s=60, what="the API to start")
    return Window(base, server, worker)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def restart(cluster: PrivateCluster, mode: str) -> Outage:
    before = cluster.postmaster_pid()
    stopping = time.monotonic()
    cluster.stop(mode)
    time.sleep(DOWN_S)
    cluster.start()
    return Outage(mode, stopping, time.monotonic(), before, cluster.postmaster_pid())


def run_load(base: str, cluster: PrivateCluster, traffic: Traffic) -> Run:
    """The clients for LOAD_S seconds, the database restarted at the RESTARTS times."""
    keys = file_parties(base)
    started = time.monotonic()
    run = Run(keys, started, started + LOAD_S)
    clients = [
        Client(n, base, run.keys, traffic, until=run.until, give_up=run.until + GIVE_UP_S)
        for n in range(CLIENTS)
    ]
    with ThreadPoolExecutor(CLIENTS) as pool:
        running = [pool.submit(client.run) for client in clients]
        for at, mode in RESTARTS:
            time.sleep(max(0.0, run.started + at - time.monotonic()))
            run.outages.append(restart(cluster, mode))
        for client in running:
            client.result()  # a client's own error fails the test
    return run


def test_database_restarts_under_load_lose_nothing(
    private_postgres: PrivateCluster, window_db: Engine, spawn: Spawn
) -> None:
    window = start_window(spawn, private_postgres.url)
    api_processes = window.api_processes()
    traffic = Traffic()
    run = run_load(window.base, private_postgres, traffic)

    assert_the_restarts_happened_under_load(run, traffic)
    assert_outages_answered_503_only(traffic)
    assert window.api_processes() == api_processes, "an API process was replaced"
    assert window.worker.poll() is None, "the worker died"
    assert healthy(window.base)
    wait_for(lambda: outbox_drained(window_db), timeout_s=30, what="the relay to drain")
    assert parked_events(window_db) == 0, "an event failed for good"
    wait_for(lambda: audit_sealed(window_db), timeout_s=30, what="the jobs to seal the audit")

    assert violations(window_db) == {}
    assert_acknowledged_messages_durable(window_db, traffic.messages)
    assert_acknowledged_actions_durable(window_db, traffic)
    assert_resends_replay_the_same_receipts(window.base, run.keys, traffic.messages)


# ---------------------------------------------------------------------- during the load


def assert_the_restarts_happened_under_load(run: Run, traffic: Traffic) -> None:
    for outage in run.outages:
        assert outage.postmaster_before != outage.postmaster_after, "PostgreSQL did not restart"
        assert run.started < outage.stopping and outage.started < run.until
    first, second = run.outages
    phases = {
        "before the first restart": (run.started, first.stopping),
        "between the restarts": (first.started, second.stopping),
        "after the second restart": (second.started, run.until),
    }
    for phase, (start, end) in phases.items():
        accepted = sum(
            1 for m in traffic.messages if m.status == 200 and start <= m.answered_at < end
        )
        assert accepted >= MIN_ACCEPTED, f"only {accepted} messages accepted {phase}"
    for outage in run.outages:
        unavailable = [
            a
            for a in traffic.answers
            if a.status == 503 and outage.stopping <= a.at <= outage.started + 1
        ]
        assert unavailable, f"no request met the {outage.mode} outage"


def assert_outages_answered_503_only(traffic: Traffic) -> None:
    """Every request got an answer, none a 5xx but 503, and every 503 said when to retry."""
    statuses_seen = Counter(a.status for a in traffic.answers)
    assert None not in statuses_seen, "a request got no answer (connection broken)"
    assert not {s for s in statuses_seen if s is not None and s >= 500} - {503}, statuses_seen
    assert all(a.retry_after for a in traffic.answers if a.status == 503)
    assert traffic.gave_up == []
    assert {m.status for m in traffic.messages} == {200}, "every message is accepted at last"


# ---------------------------------------------------------------------- afterwards, in SQL


def outbox_drained(engine: Engine) -> bool:
    with Session(engine) as session:
        return outbox.pending_count(session) == 0


def parked_events(engine: Engine) -> int:
    with Session(engine) as session:
        return outbox.parked_count(session)


def audit_sealed(engine: Engine) -> bool:
    """The worker's periodic jobs sealed every audit entry into an unbroken chain."""
    with Session(engine) as session:
        report = audit.verify(session)
    assert report.first_broken is None, f"audit chain broken at {report.first_broken}"
    return report.unsealed == 0


# Each query returns the rows that break one guarantee; the test wants all of them empty.
VIOLATIONS = {
    "a list without a receipt of its status": """
        SELECT i.direction, i.cop_no, i.status, latest.return_status
        FROM customs_inventory i
        LEFT JOIN LATERAL (
            SELECT r.return_status FROM receipt r
            WHERE r.doc_key = i.direction || ':inventory:' || i.agent_code || '|' || i.cop_no
            ORDER BY r.id DESC LIMIT 1
        ) latest ON true
        WHERE latest.return_status IS NULL
           OR NOT (latest.return_status = i.status
                   OR (latest.return_status < 0 AND i.status = 100))""",
    "a buyer over the ¥26,000 a year": """
        SELECT buyer_id_number, year, used FROM customs_buyer_quota
        WHERE used > 26000 OR used < 0""",
    "a buyer's year that is not the sum of its lists": """
        SELECT q.buyer_id_number, q.year, q.used, sum(i.quota_charged)
        FROM customs_buyer_quota q
        LEFT JOIN customs_inventory i
               ON i.buyer_id_number = q.buyer_id_number
              AND i.quota_charged IS NOT NULL
              AND substr(i.invt_no, 5, 4)::int = q.year
        GROUP BY q.buyer_id_number, q.year, q.used
        HAVING q.used <> coalesce(sum(i.quota_charged), 0)""",
    "a list of several goods over ¥5,000": """
        SELECT invt_no, quota_charged FROM customs_inventory
        WHERE quota_charged > 5000 AND NOT full_tax""",
    "a list allocated beyond its value": """
        SELECT invt_no, value, allocated FROM forex_ledger
        WHERE allocated > value OR allocated < 0""",
    "a ledger that is not the sum of its settlements": """
        SELECT l.invt_no, l.allocated, sum(s.allocated)
        FROM forex_ledger l
        LEFT JOIN forex_settlement s ON s.ledger_id = l.id AND s.status = 'settled'
        GROUP BY l.id, l.invt_no, l.allocated
        HAVING l.allocated <> coalesce(sum(s.allocated), 0)""",
    "a list in two live summaries": """
        SELECT m.inventory_id, count(*)
        FROM customs_summary_member m JOIN customs_summary s ON s.id = m.summary_id
        WHERE s.status = 'live'
        GROUP BY m.inventory_id HAVING count(*) > 1""",
    "a membership live in a summary that is not": """
        SELECT m.summary_id, m.inventory_id
        FROM customs_summary_member m JOIN customs_summary s ON s.id = m.summary_id
        WHERE m.live <> (s.status = 'live')""",
}


def violations(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    with engine.connect() as conn:
        for guarantee, query in VIOLATIONS.items():
            rows = [tuple(row) for row in conn.execute(text(query))]
            if rows:
                found[guarantee] = rows[:5]
    return found


def assert_acknowledged_messages_durable(engine: Engine, messages: list[Message]) -> None:
    """Each message the window accepted is stored verbatim, once, with the receipts it gave."""
    with engine.connect() as conn:
        stored = {
            (sender, guid): (sha256, copies)
            for sender, guid, sha256, copies in conn.execute(
                text(
                    "SELECT sender_code, guid, min(sha256), count(*) FROM window_message"
                    " WHERE outcome = 'accepted' GROUP BY sender_code, guid"
                )
            )
        }
        receipts: dict[tuple[str, str, str], list[str]] = {}
        for sender, guid, message_type, status in conn.execute(
            text(
                "SELECT w.sender_code, w.guid, r.message_type, r.return_status"
                " FROM window_message w JOIN receipt r ON r.source_message_id = w.id"
                " WHERE w.outcome = 'accepted' AND r.recipient_code = w.sender_code"
                " ORDER BY r.id"
            )
        ):
            receipts.setdefault((sender, guid, message_type), []).append(str(status))
    for message in messages:
        key = (message.sender, message.guid)
        assert stored.get(key) == (hashlib.sha256(message.body).hexdigest(), 1), key
        answered = receipts.get((*key, message.receipt_type))
        assert answered == message.receipts, f"{key}: stored {answered}, got {message.receipts}"


def assert_acknowledged_actions_durable(engine: Engine, traffic: Traffic) -> None:
    """Every settlement and officer decision answered 201 was committed as answered."""
    with engine.connect() as conn:
        settled = {
            str(id_): status
            for id_, status in conn.execute(text("SELECT id, status FROM forex_settlement"))
        }
        decided = Counter(
            dict(
                conn.execute(
                    text(
                        "SELECT i.invt_no, count(*) FROM customs_decision d"
                        " JOIN customs_inventory i ON i.id = d.inventory_id"
                        " WHERE d.action IN ('release', 'reject') GROUP BY i.invt_no"
                    )
                ).all()
            )
        )
    assert traffic.settlements and traffic.decisions
    assert {id_: settled.get(id_) for id_ in traffic.settlements} == traffic.settlements
    answered = Counter(traffic.decisions)
    assert not answered - decided, "a decision answered 201 is missing"


def assert_resends_replay_the_same_receipts(base: str, keys: Keys, messages: list[Message]) -> None:
    """A client that sends a message again (its own guid) gets the first answer back."""
    retried = [m for m in messages if m.attempts > 1]
    others = [m for m in messages if m.attempts == 1]
    resent = retried + random.Random(0).sample(others, k=min(REPLAY_SAMPLE, len(others)))
    with httpx.Client(base_url=base, timeout=30) as http:
        for message in resent:
            answer = http.post(
                "/api/v1/messages",
                content=message.body,
                headers={
                    "Authorization": keys.enterprises[message.sender],
                    "Content-Type": "application/xml",
                },
            )
            assert answer.status_code == 200, answer.text
            again = f"{message.sender} {message.guid} (sent {message.attempts}×) accepted again"
            assert answer.headers.get("X-Replayed") == "true", again
            assert statuses(answer.content) == message.receipts
