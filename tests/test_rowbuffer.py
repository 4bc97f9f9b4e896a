"""Buffered append-only rows keep the semantics of ``session.add`` on both databases."""

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app import audit, rowbuffer
from app.audit import AuditEntry
from app.config import OutboxSettings
from app.outbox import Dispatcher, Event, OutboxMessage, Relay, publish


class Pinged(Event):
    n: int


def _note(session: Session, subject: str) -> None:
    audit.record(session, actor="system", action="probe", subject_type="t", subject_id=subject)


def _subjects(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(AuditEntry.subject_id).order_by(AuditEntry.id)))


def test_rows_reach_the_database_at_commit_in_one_statement_in_the_order_they_were_added(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    inserts: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_ENTRY"):
            inserts.append(statement)

    with session_factory.begin() as session:
        for n in range(5):
            _note(session, str(n))
        assert inserts == [], "nothing is written before commit"
    assert len(inserts) == 1, "one executemany for the five rows"
    assert _subjects(session_factory) == ["0", "1", "2", "3", "4"]


def test_a_query_of_the_same_transaction_reads_its_own_rows(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        _note(session, "a")
        count = select(func.count()).select_from(AuditEntry)
        assert session.scalar(select(AuditEntry.subject_id)) == "a"
        _note(session, "b")
        assert session.scalar(count) == 2
        assert [row["subject_id"] for row in rowbuffer.added(session, AuditEntry)] == ["a", "b"]
    assert _subjects(session_factory) == ["a", "b"]


def test_rows_of_a_rolled_back_savepoint_are_dropped_and_the_others_kept(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        _note(session, "before")
        try:
            with session.begin_nested():
                _note(session, "inside")
                # This query writes both rows inside the savepoint; its rollback undoes both.
                assert session.scalar(select(func.count()).select_from(AuditEntry)) == 2
                raise RuntimeError("handler failed")
        except RuntimeError:
            pass
        with session.begin_nested():
            _note(session, "released")
        _note(session, "after")
    assert _subjects(session_factory) == ["before", "released", "after"]


def test_a_rolled_back_transaction_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    session = session_factory()
    with session.begin():
        _note(session, "lost")
        session.rollback()
    with session.begin():
        _note(session, "kept")
    session.close()
    assert _subjects(session_factory) == ["kept"]


def test_a_failed_handler_leaves_neither_its_audit_entries_nor_its_events(
    session_factory: sessionmaker[Session],
) -> None:
    dispatcher = Dispatcher()

    def handler(session: Session, event: Pinged) -> None:
        _note(session, f"handled {event.n}")
        publish(session, Pinged(n=event.n + 100))
        if event.n == 1:
            raise RuntimeError("boom")

    dispatcher.register(Pinged, handler)
    with session_factory.begin() as session:
        publish(session, Pinged(n=0))
        publish(session, Pinged(n=1))
    assert Relay(session_factory, dispatcher, OutboxSettings(batch_size=2)).run_once() == 2

    assert _subjects(session_factory) == ["handled 0"]
    with session_factory() as session:
        payloads = session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))
        assert [p["n"] for p in payloads] == [0, 1, 100]


def test_rows_of_several_tables_keep_their_values_order_and_types(
    engine: Engine, session_factory: sessionmaker[Session], backend: str
) -> None:
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "INSERT INTO" in statement.upper():
            statements.append(statement)

    events = [Pinged(n=n) for n in range(3)]
    with session_factory.begin() as session:
        for n, pinged in enumerate(events):
            _note(session, f"subject {n} «中文»")
            publish(session, pinged)
    # PostgreSQL: one statement for both tables (data-modifying CTEs); SQLite: one per table.
    assert len(statements) == (1 if backend == "postgresql" else 2)
    assert _subjects(session_factory) == [f"subject {n} «中文»" for n in range(3)]
    with session_factory() as session:
        stored = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(m.event_id, m.occurred_at, m.payload["n"]) for m in stored] == [
        (e.event_id, e.occurred_at, e.n) for e in events
    ]
    assert all(entry.at.tzinfo is not None and entry.detail == {} for entry in entries)
