"""回执: every status change of a document becomes a receipt for the enterprise that sent it."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptDraft


def issue(
    session: Session,
    *,
    drafts: Sequence[ReceiptDraft],
    at: datetime,
    source_message_id: UUID | None = None,
) -> list[int]:
    """Persist receipts in the caller's transaction; their ids are the enterprise's cursor."""
    if not drafts:
        return []
    rows = [
        {
            "recipient_code": d.recipient_code,
            "message_type": d.message_type,
            "doc_kind": d.doc_kind,
            "doc_key": d.doc_key,
            "return_status": d.return_status,
            "return_info": d.return_info,
            "returned_at": at,
            "fields": d.fields,
            "source_message_id": source_message_id,
            "created_at": at,
        }
        for d in drafts
    ]
    result = session.execute(
        insert(Receipt).returning(Receipt.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars())


def for_message(session: Session, *, message_id: UUID) -> Sequence[Receipt]:
    """The receipts a stored message produced, for replaying a resubmission."""
    return session.scalars(
        select(Receipt).where(Receipt.source_message_id == message_id).order_by(Receipt.id)
    ).all()


def page(
    session: Session, *, recipient_code: str, after: int, limit: int
) -> tuple[Sequence[Receipt], int | None]:
    """The recipient's receipts after a cursor, oldest first, and the cursor of the next page."""
    rows = session.scalars(
        select(Receipt)
        .where(Receipt.recipient_code == recipient_code, Receipt.id > after)
        .order_by(Receipt.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def for_document(session: Session, *, doc_key: str) -> Sequence[Receipt]:
    """Every receipt of one document, in order: its timeline as the enterprise saw it."""
    return session.scalars(
        select(Receipt).where(Receipt.doc_key == doc_key).order_by(Receipt.id)
    ).all()
