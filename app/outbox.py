"""Transactional outbox: events are rows written with their cause, run by relays.

``publish`` inserts the event in the caller's transaction, so it exists exactly when the
change that caused it was committed. A relay claims pending rows (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, the write lock on SQLite), runs every registered handler inside a savepoint of
the claiming transaction and marks the row processed in that same transaction: the handlers'
database effects and the mark commit together, so they happen once even with many relays.
"""

import logging
import random
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self, TypeVar, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app import rowbuffer
from app.config import OutboxSettings
from app.db import Base, utcnow
from app.metrics import OUTBOX_EVENTS

log = logging.getLogger(__name__)


class Event(BaseModel):
    """Something that happened, named in the past tense; payload versioned by ``version``."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    version: int = 1

    types: ClassVar[dict[str, type["Event"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event.types[cls.__name__] = cls

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """The event from values our own code already typed, unvalidated (hot paths).

        Every list of a message publishes two, so validation showed in the window's profile.
        A wrong value is not lost: the relay validates the stored payload before any handler
        sees it.
        """
        # Given here: pydantic inspects a default factory's signature on every construct.
        values.setdefault("event_id", uuid4())
        values.setdefault("occurred_at", utcnow())
        return cast(Self, cls.model_construct(**values))


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index(
            "ix_outbox_message_pending",
            "available_at",
            postgresql_where=text("processed_at IS NULL AND failed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    available_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


def publish(session: Session, event: Event) -> None:
    """Record ``event`` in the caller's transaction; it runs only if that transaction commits."""
    rowbuffer.add(
        session,
        OutboxMessage,
        {
            "event_id": event.event_id,
            "event_type": type(event).__name__,
            "payload": event.model_dump(mode="json"),
            "occurred_at": event.occurred_at,
            "available_at": event.occurred_at,
            "attempts": 0,
            "last_error": None,
            "processed_at": None,
            "failed_at": None,
        },
    )


E = TypeVar("E", bound=Event)
Handler = Callable[[Session, Any], None]


class Dispatcher:
    """Which handlers react to which event type; filled once by the composition root."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def register(self, event_type: type[E], handler: Callable[[Session, E], None]) -> None:
        self._handlers[event_type.__name__].append(handler)

    def handlers_for(self, event_type: str) -> Sequence[Handler]:
        return self._handlers.get(event_type, ())

    def dispatch(self, session: Session, message: OutboxMessage) -> None:
        event = Event.types[message.event_type].model_validate(message.payload)
        for handler in self.handlers_for(message.event_type):
            handler(session, event)


class Relay:
    """Claims and runs pending outbox rows; any number may run against one database."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        dispatcher: Dispatcher,
        settings: OutboxSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._dispatcher = dispatcher
        self._settings = settings
        self._clock = clock

    def run_once(self) -> int:
        """Run one batch of due events; returns how many rows it handled (done or failed)."""
        now = self._clock()
        with self._factory.begin() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.processed_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    OutboxMessage.available_at <= now,
                )
                .order_by(OutboxMessage.id)
                .limit(self._settings.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                self._run(session, row, now)
        return len(rows)

    def _run(self, session: Session, row: OutboxMessage, now: datetime) -> None:
        row.attempts += 1
        try:
            with session.begin_nested():
                self._dispatcher.dispatch(session, row)
        except Exception as exc:
            row.last_error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
            if row.attempts >= self._settings.max_attempts:
                row.failed_at = now
                OUTBOX_EVENTS.labels(outcome="failed").inc()
                log.error("outbox event %s (%s) failed for good", row.event_id, row.event_type)
            else:
                row.available_at = now + self._backoff(row.attempts)
                OUTBOX_EVENTS.labels(outcome="retry").inc()
                log.warning("outbox event %s will be retried: %s", row.event_id, row.last_error)
        else:
            row.processed_at = now
            OUTBOX_EVENTS.labels(outcome="processed").inc()

    def _backoff(self, attempts: int) -> timedelta:
        base = min(
            self._settings.backoff_base_s * 2 ** (attempts - 1), self._settings.backoff_max_s
        )
        # Jitter spreads retries of a burst of failures so they do not return together.
        return timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311

    def run_forever(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set, sleeping only when there was nothing to do."""
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                log.exception("outbox relay batch failed; backing off")
                stop.wait(min(self._settings.backoff_max_s, 5.0))
                continue
            if handled < self._settings.batch_size:
                stop.wait(self._settings.poll_interval_s)


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.processed_at.is_(None), OutboxMessage.failed_at.is_(None))
        )
        or 0
    )


def parked_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.failed_at.is_not(None))
        )
        or 0
    )


def failed_messages(session: Session, *, limit: int = 100) -> Sequence[OutboxMessage]:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.failed_at.is_not(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()


def retry_failed(session: Session, *, message_id: int) -> bool:
    """Put a dead event back in line (after the cause was fixed); its attempts start over."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.failed_at.is_not(None))
        .values(failed_at=None, attempts=0, available_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
