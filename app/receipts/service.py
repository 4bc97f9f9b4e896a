"""回执: every status change of a document becomes a receipt for the enterprise that sent it."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from app import rowbuffer
from app.feeds import Feed
from app.receipts.models import RECEIPT_NUMBERS, Receipt
from app.receipts.schemas import IssuedReceipt, ReceiptDraft

# The window names the message being handled here, so that receipts issued deep inside
# customs (a transition, a re-match) are attributed to it and answered synchronously.
SOURCE_MESSAGE = "source_message_id"
_RETURN_INFO_MAX = 5000  # the column's length

# Feeds are read by position, not id (app.feeds); the lock key is held by the one
# transaction that publishes, until it commits (PostgreSQL).
RECEIPT_FEED = Feed(cast(Table, Receipt.__table__), RECEIPT_NUMBERS, lock_key=7_310_004)


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
    RECEIPT_FEED.publish(session)
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
    # What committed before now must get positions at or below this cursor.
    RECEIPT_FEED.publish_all(session)
    latest = session.scalar(
        select(func.max(Receipt.position)).where(Receipt.recipient_code == recipient_code)
    )
    return latest or 0


def for_document(session: Session, *, doc_key: str) -> Sequence[Receipt]:
    """Every receipt of one document, in order: its timeline as the enterprise saw it."""
    return session.scalars(
        select(Receipt).where(Receipt.doc_key == doc_key).order_by(Receipt.id)
    ).all()
