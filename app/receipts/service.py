"""回执: every status change of a document becomes a receipt for the enterprise that sent it."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import SQLColumnExpression, Table, Update, func, select, text, update
from sqlalchemy.orm import Session

from app import rowbuffer
from app.receipts.models import RECEIPT_NUMBERS, Receipt
from app.receipts.schemas import IssuedReceipt, ReceiptDraft

# The window names the message being handled here, so that receipts issued deep inside
# customs (a transition, a re-match) are attributed to it and answered synchronously.
SOURCE_MESSAGE = "source_message_id"
_RETURN_INFO_MAX = 5000  # the column's length

# Held by the one transaction that publishes, until it commits (PostgreSQL).
_PUBLISH_LOCK_KEY = 7_310_004
# Bounds the rows one publication updates, so the transaction holding the lock stays short.
PUBLISH_BATCH = 1000
_RECEIPTS = cast(Table, Receipt.__table__)


def issue(
    session: Session,
    *,
    drafts: Sequence[ReceiptDraft],
    at: datetime,
    source_message_id: UUID | None = None,
) -> None:
    """Persist receipts in the caller's transaction; readers see them once published."""
    source = source_message_id or session.info.get(SOURCE_MESSAGE)
    for d in drafts:
        rowbuffer.add(
            session,
            Receipt,
            {
                "recipient_code": d.recipient_code,
                "message_type": d.message_type,
                "doc_kind": d.doc_kind,
                "doc_key": d.doc_key,
                "return_status": d.return_status,
                "return_info": d.return_info[:_RETURN_INFO_MAX],
                "returned_at": at,
                "fields": d.fields,
                "source_message_id": source,
                "created_at": at,
            },
        )


def issued(
    session: Session, *, message_id: UUID, message_type: str | None = None, recipient_code: str
) -> list[IssuedReceipt]:
    """The receipts this transaction issued for a message, from memory (ids not yet known).

    With a type, only that type: the synchronous answer to the sender (see ``for_message``).
    """
    return [
        IssuedReceipt(
            values["message_type"],
            values["return_status"],
            values["return_info"],
            values["returned_at"],
            values["fields"],
        )
        for values in rowbuffer.added(session, Receipt)
        if values["source_message_id"] == message_id
        and values["recipient_code"] == recipient_code
        and (message_type is None or values["message_type"] == message_type)
    ]


def for_message(
    session: Session,
    *,
    message_id: UUID,
    message_type: str | None = None,
    recipient_code: str | None = None,
) -> Sequence[Receipt]:
    """The receipts a stored message produced (its answer; replayed on resubmission).

    Narrowed to one receipt type and recipient, it is the synchronous answer: receipts of
    other documents that the message moved on (a waiting list accepted when its waybill
    arrives) are for their own declarants, who pull them.
    """
    query = select(Receipt).where(Receipt.source_message_id == message_id)
    if message_type is not None:
        query = query.where(Receipt.message_type == message_type)
    if recipient_code is not None:
        query = query.where(Receipt.recipient_code == recipient_code)
    return session.scalars(query.order_by(Receipt.id)).all()


def _publication(position: SQLColumnExpression[int]) -> Update:
    # nextval runs after the ORDER BY and LIMIT (PostgreSQL evaluates volatile output
    # expressions after sorting), so positions rise with ids within the batch.
    batch = (
        select(_RECEIPTS.c.id, position.label("position"))
        .where(_RECEIPTS.c.position.is_(None))
        .order_by(_RECEIPTS.c.id)
        .limit(PUBLISH_BATCH)
        .cte("batch")
    )
    return update(_RECEIPTS).where(_RECEIPTS.c.id == batch.c.id).values(position=batch.c.position)


# Built once, as Core statements: every GET /receipts publishes (building them and the ORM
# bulk-update path took 0.8 ms a call where the database needs 0.2 ms).
_PUBLISH = {
    "postgresql": _publication(RECEIPT_NUMBERS.next_value()),
    # One writer at a time (BEGIN IMMEDIATE): SQLite's ids are already in commit order.
    "sqlite": _publication(_RECEIPTS.c.id),
}
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=_PUBLISH_LOCK_KEY)
_WAIT_LOCK = text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_PUBLISH_LOCK_KEY)


def publish(session: Session, *, wait: bool = False) -> int:
    """Give committed receipts without a position the next positions, in id order.

    Feeds are read by position, not id: an id is taken at INSERT but seen at COMMIT, and
    writers commit in any order, so a reader past id 101 would never see a 100 that was
    still committing. Positions are given by one transaction at a time, which holds the
    lock until it commits, so they become visible in increasing order. A caller that does
    not get the lock (another is publishing) publishes nothing and reads what is published:
    a little behind, never past a gap; ``wait`` waits for the lock instead. Within a batch,
    id order keeps each document's receipts in the order they were issued.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and not _lock_publication(session, wait=wait):
        return 0
    return int(session.execute(_PUBLISH[dialect]).rowcount)  # type: ignore[attr-defined]


def _lock_publication(session: Session, *, wait: bool) -> bool:
    # In READ COMMITTED the UPDATE that follows takes its snapshot once the lock is granted,
    # so it sees the positions of the previous holder, which committed before releasing it.
    # (Hence two statements: a lock taken inside the UPDATE would come after its snapshot.)
    if wait:
        session.execute(_WAIT_LOCK)
        return True
    return bool(session.scalar(_TRY_LOCK))


@dataclass(frozen=True)
class Page:
    receipts: Sequence[Receipt]
    # Where the next page starts: the last receipt's position, or this page's start if empty.
    cursor: int
    more: bool

    @property
    def next_after(self) -> int | None:
        return self.cursor if self.more else None


def page(session: Session, *, recipient_code: str, after: int, limit: int) -> Page:
    """The recipient's receipts after a position, oldest first, publishing what committed."""
    publish(session)
    return published_after(session, recipient_code=recipient_code, after=after, limit=limit)


def published_after(session: Session, *, recipient_code: str, after: int, limit: int) -> Page:
    """The recipient's published receipts after a position, in position order."""
    rows = session.scalars(
        select(Receipt)
        .where(Receipt.recipient_code == recipient_code, Receipt.position > after)
        .order_by(Receipt.position)
        .limit(limit + 1)
    ).all()
    shown = rows[:limit]
    # Not None: the query asked for positions above the cursor.
    cursor = cast(int, shown[-1].position) if shown else after
    return Page(shown, cursor, more=len(rows) > limit)


def current_position(session: Session, *, recipient_code: str) -> int:
    """A cursor from which only receipts committed after this call are read."""
    # Waiting, and to the end of the backlog: what committed before now must get positions
    # at or below this cursor.
    while publish(session, wait=True) == PUBLISH_BATCH:
        pass
    latest = session.scalar(
        select(func.max(Receipt.position)).where(Receipt.recipient_code == recipient_code)
    )
    return latest or 0


def for_document(session: Session, *, doc_key: str) -> Sequence[Receipt]:
    """Every receipt of one document, in order: its timeline as the enterprise saw it."""
    return session.scalars(
        select(Receipt).where(Receipt.doc_key == doc_key).order_by(Receipt.id)
    ).all()
