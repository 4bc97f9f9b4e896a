from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Index, Integer, Sequence, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow
from app.feeds import unpublished_index

# The id's own sequence (BIGSERIAL) on PostgreSQL; receipt positions are drawn from it too
# (app.feeds: it must keep CACHE 1; migration 0011 made the old ids positions).
RECEIPT_NUMBERS = Sequence("receipt_id_seq")


class Receipt(Base):
    """One 回执: a document's status change, addressed to one enterprise, in issue order."""

    __tablename__ = "receipt"
    __table_args__ = (
        Index("ix_receipt_recipient_position", "recipient_code", "position"),
        unpublished_index("ix_receipt_unpublished"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    recipient_code: Mapped[str] = mapped_column(String(18))
    message_type: Mapped[str] = mapped_column(String(10))
    doc_kind: Mapped[str] = mapped_column(String(20))
    doc_key: Mapped[str] = mapped_column(String(200), index=True)
    return_status: Mapped[int] = mapped_column(Integer)
    return_info: Mapped[str] = mapped_column(String(5000))
    returned_at: Mapped[datetime]
    fields: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    source_message_id: Mapped[UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the receipt stands in its recipient's feed (the cursor of GET /receipts and of
    # the push channels), in commit order; None until published (app.feeds).
    position: Mapped[int | None] = mapped_column(BigInteger)
