"""GET /receipts?after= never skips a receipt, whatever order concurrent writers commit in.

On PostgreSQL a receipt's id is taken at INSERT and becomes visible at COMMIT, and writers
commit in any order; a cursor over ids moves past a lower id that is still committing. The
cursor runs over publication positions instead, handed out in commit order.
"""

import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock, rowbuffer
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptDraft

CODE = "3301000001"
Headers = dict[str, str]


def draft(doc_key: str, status: int = 2) -> ReceiptDraft:
    return ReceiptDraft(
        recipient_code=CODE,
        message_type="CEB312",
        doc_kind="order",
        doc_key=doc_key,
        return_status=status,
        # Tells this receipt from every other one, whoever committed in between.
        return_info=uuid.uuid4().hex,
        fields={"guid": doc_key, "ebpCode": CODE, "ebcCode": CODE, "orderNo": doc_key},
    )


def insert(session: Session, *drafts: ReceiptDraft) -> list[int]:
    """Insert receipts in the session's transaction as intake does just before COMMIT."""
    receipts_service.issue(session, drafts=drafts, at=clock.now())
    rowbuffer.write(session)
    mine = select(Receipt.id).where(Receipt.return_info.in_([d.return_info for d in drafts]))
    return sorted(session.scalars(mine))


def issue(factory: sessionmaker[Session], *drafts: ReceiptDraft) -> list[int]:
    with factory.begin() as session:
        return insert(session, *drafts)


def pull(client: TestClient, headers: Headers, after: int, limit: int = 100) -> dict[str, Any]:
    response = client.get(
        "/api/v1/receipts", params={"after": after, "limit": limit}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.postgres_only
def test_a_receipt_that_commits_after_a_later_one_is_still_returned(
    client: TestClient,
    register: Callable[..., Headers],
    session_factory: sessionmaker[Session],
) -> None:
    headers = register(CODE, "ebc")
    with session_factory() as slow:
        (late,) = insert(slow, draft("doc-slow"))
        (early,) = issue(session_factory, draft("doc-fast"))
        assert late < early, "the slow writer took the lower id"

        seen = pull(client, headers, after=0)["receipts"]
        assert [r["id"] for r in seen] == [early]
        slow.commit()

    later = pull(client, headers, after=seen[-1]["position"])["receipts"]
    assert [r["id"] for r in later] == [late]
    assert pull(client, headers, after=later[-1]["position"])["receipts"] == []


@pytest.mark.postgres_only
def test_a_reader_that_finds_another_publishing_reads_what_is_published(
    client: TestClient,
    register: Callable[..., Headers],
    session_factory: sessionmaker[Session],
) -> None:
    headers = register(CODE, "ebc")
    (first,) = issue(session_factory, draft("doc-1"))
    answers: list[dict[str, Any]] = []
    with session_factory() as publisher:
        assert receipts_service.RECEIPT_FEED.publish(publisher) == 1
        (second,) = issue(session_factory, draft("doc-2"))

        reader = threading.Thread(target=lambda: answers.append(pull(client, headers, after=0)))
        reader.start()
        reader.join(timeout=10)
        waited = reader.is_alive()
        publisher.commit()
    reader.join()

    assert not waited, "the reader waited for the publishing transaction"
    # The first's position was not committed yet; the second must not go ahead of it.
    assert answers[0]["receipts"] == []
    assert [r["id"] for r in pull(client, headers, after=0)["receipts"]] == [first, second]


def test_positions_follow_issue_order_and_page_like_ids_did(
    client: TestClient,
    register: Callable[..., Headers],
    session_factory: sessionmaker[Session],
) -> None:
    headers = register(CODE, "ebc")
    ids = issue(session_factory, *(draft(f"doc-{n % 3}", status=n) for n in range(7)))

    first = pull(client, headers, after=0, limit=4)
    rest = pull(client, headers, after=first["next_after"], limit=4)

    pulled = first["receipts"] + rest["receipts"]
    assert [r["id"] for r in pulled] == ids
    positions = [r["position"] for r in pulled]
    assert positions == sorted(set(positions))
    assert first["next_after"] == first["receipts"][-1]["position"]
    assert rest["next_after"] is None
    assert pull(client, headers, after=positions[-1])["receipts"] == []


@dataclass
class Poller:
    """An enterprise client pulling its receipts with its cursor."""

    client: TestClient
    headers: Headers
    cursor: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> int:
        page = pull(self.client, self.headers, after=self.cursor, limit=100)["receipts"]
        self.seen.extend(page)
        if page:
            self.cursor = page[-1]["position"]
        return len(page)

    def until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll()

    def drain(self) -> None:
        # Alone: an empty page means nothing is left, not that another reader was publishing.
        while self.poll():
            pass


@pytest.mark.postgres_only
def test_pollers_see_every_receipt_of_many_concurrent_writers_exactly_once(
    client: TestClient,
    register: Callable[..., Headers],
    session_factory: sessionmaker[Session],
) -> None:
    headers = register(CODE, "ebc")
    writers, transactions = 6, 40
    committed: list[int] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for t in range(transactions):
                drafts = [draft(f"w{n}-doc{(t + k) % 3}") for k in range(rng.randint(1, 3))]
                with session_factory() as session:
                    ids = insert(session, *drafts)
                    # The window between INSERT and COMMIT: the commit's fsync in production.
                    time.sleep(rng.uniform(0, 0.004))
                    if rng.random() < 0.1:
                        session.rollback()
                        continue
                    session.commit()
                committed.extend(ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    # Two pollers, so that readers also race each other to publish.
    stop = threading.Event()
    pollers = [Poller(client, headers), Poller(client, headers)]

    def poll_beside() -> None:
        try:
            pollers[1].until(stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    other = threading.Thread(target=poll_beside)
    other.start()
    try:
        while any(thread.is_alive() for thread in threads):
            pollers[0].poll()
    finally:
        stop.set()
        other.join()
    for poller in pollers:
        poller.drain()

    assert errors == []
    for poller in pollers:
        ids = [r["id"] for r in poller.seen]
        missed = sorted(set(committed) - set(ids))
        assert missed == [], f"{len(missed)} of {len(committed)} committed receipts skipped"
        assert len(ids) == len(set(ids)) == len(committed), "a receipt was returned twice"
        assert ids != sorted(ids), "every writer committed in id order: the race never happened"
        by_doc: dict[str, list[int]] = defaultdict(list)
        for receipt in poller.seen:
            by_doc[receipt["OrderReturn"]["orderNo"]].append(receipt["id"])
        assert all(order == sorted(order) for order in by_doc.values()), "a document reordered"
