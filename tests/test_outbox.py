"""The outbox: events run only when their cause commits, retried on failure, run once."""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app import audit
from app.config import OutboxSettings
from app.db import make_engine, make_sessionmaker, utcnow
from app.outbox import Dispatcher, Event, OutboxMessage, Relay, publish, retry_failed


class ProbeHappened(Event):
    n: int


def _publish(factory: sessionmaker[Session], count: int) -> None:
    with factory.begin() as session:
        for n in range(count):
            publish(session, ProbeHappened(n=n))


def test_event_of_a_rolled_back_transaction_never_runs(
    session_factory: sessionmaker[Session],
) -> None:
    ran: list[int] = []
    dispatcher = Dispatcher()
    dispatcher.register(ProbeHappened, lambda _s, e: ran.append(e.n))
    session = session_factory()
    with session.begin():
        publish(session, ProbeHappened(n=1))
        session.rollback()
    relay = Relay(session_factory, dispatcher, OutboxSettings())
    assert relay.run_once() == 0
    assert ran == []


def test_handler_writes_and_the_done_mark_commit_together(
    session_factory: sessionmaker[Session],
) -> None:
    dispatcher = Dispatcher()

    def handler(session: Session, event: ProbeHappened) -> None:
        audit.record(
            session,
            actor="system",
            action="probe",
            subject_type="probe",
            subject_id=str(event.event_id),
        )

    dispatcher.register(ProbeHappened, handler)
    _publish(session_factory, 3)
    relay = Relay(session_factory, dispatcher, OutboxSettings())
    assert relay.run_once() == 3
    assert relay.run_once() == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(audit.AuditEntry)) == 3
        assert (
            session.scalar(select(func.count()).where(OutboxMessage.processed_at.is_not(None))) == 3
        )


def test_failing_handler_is_retried_with_backoff_then_kept_visible(
    session_factory: sessionmaker[Session],
) -> None:
    failures = {"left": 2}
    effects: list[int] = []
    dispatcher = Dispatcher()

    def flaky(session: Session, event: ProbeHappened) -> None:
        audit.record(
            session, actor="system", action="probe", subject_type="probe", subject_id=str(event.n)
        )
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("downstream is down")
        effects.append(event.n)

    dispatcher.register(ProbeHappened, flaky)
    _publish(session_factory, 1)
    now = [utcnow()]
    relay = Relay(session_factory, dispatcher, OutboxSettings(max_attempts=5), clock=lambda: now[0])
    assert relay.run_once() == 1
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.attempts == 1 and "downstream is down" in (row.last_error or "")
        assert row.processed_at is None and row.available_at > now[0]
    assert relay.run_once() == 0, "not due before its backoff"
    for _ in range(2):
        now[0] += timedelta(hours=1)
        assert relay.run_once() == 1
    assert effects == [0]
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.processed_at is not None and row.attempts == 3
        # The failed attempts' writes were rolled back with their savepoint.
        assert session.scalar(select(func.count()).select_from(audit.AuditEntry)) == 1


def test_event_that_keeps_failing_is_parked_and_can_be_retried(
    session_factory: sessionmaker[Session],
) -> None:
    dispatcher = Dispatcher()
    broken = {"yes": True}

    def handler(_s: Session, _e: ProbeHappened) -> None:
        if broken["yes"]:
            raise ValueError("bad payload")

    dispatcher.register(ProbeHappened, handler)
    _publish(session_factory, 1)
    now = [utcnow()]
    relay = Relay(session_factory, dispatcher, OutboxSettings(max_attempts=2), clock=lambda: now[0])
    relay.run_once()
    now[0] += timedelta(hours=1)
    relay.run_once()
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.failed_at is not None and row.processed_at is None
    now[0] += timedelta(days=1)
    assert relay.run_once() == 0
    broken["yes"] = False
    with session_factory.begin() as session:
        assert retry_failed(session, message_id=row.id)
    now[0] += timedelta(seconds=1)
    assert relay.run_once() == 1
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage)).one().processed_at is not None


def test_two_relays_run_a_thousand_events_exactly_once(db_url: str, engine: Engine) -> None:
    calls: Counter[int] = Counter()
    lock = threading.Lock()
    dispatcher = Dispatcher()

    def handler(session: Session, event: ProbeHappened) -> None:
        with lock:
            calls[event.n] += 1
        audit.record(
            session, actor="system", action="probe", subject_type="probe", subject_id=str(event.n)
        )

    dispatcher.register(ProbeHappened, handler)
    _publish(make_sessionmaker(engine), 1000)

    def run_relay() -> None:
        own_engine = make_engine(db_url)
        relay = Relay(make_sessionmaker(own_engine), dispatcher, OutboxSettings(batch_size=20))
        while relay.run_once():
            pass
        own_engine.dispose()

    threads = [threading.Thread(target=run_relay) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == list(range(1000))
    assert set(calls.values()) == {1}
    with make_sessionmaker(engine)() as session:
        subjects = session.scalars(select(audit.AuditEntry.subject_id)).all()
        assert sorted(map(int, subjects)) == list(range(1000))
    with make_sessionmaker(engine).begin() as session:
        assert audit.seal(session) == 1000
    with make_sessionmaker(engine)() as session:
        assert audit.verify(session) == audit.ChainReport(1000, 0, None)


def test_operators_see_parked_events_and_put_them_back_in_line(
    client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    _publish(session_factory, 1)
    with session_factory.begin() as session:
        row = session.scalars(select(OutboxMessage)).one()
        row.attempts, row.failed_at, row.last_error = 12, utcnow(), "ValueError: bad payload"
    parked = client.get("/api/v1/admin/outbox/failed", headers=admin).json()
    assert [(p["event_type"], p["last_error"]) for p in parked] == [
        ("ProbeHappened", "ValueError: bad payload")
    ]
    assert "sw_outbox_parked 1.0" in client.get("/metrics").text
    enterprise = register("4301990002", "ebc")
    assert client.get("/api/v1/admin/outbox/failed", headers=enterprise).status_code == 403
    retried = client.post(f"/api/v1/admin/outbox/{parked[0]['id']}/retry", headers=admin)
    assert retried.status_code == 204
    assert client.get("/api/v1/admin/outbox/failed", headers=admin).json() == []
    assert (
        client.post(f"/api/v1/admin/outbox/{parked[0]['id']}/retry", headers=admin).status_code
        == 404
    )
