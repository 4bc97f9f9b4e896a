from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow


class Receipt(Base):
    """One 回执: a document's status change, addressed to one enterprise, in issue order."""

    __tablename__ = "receipt"
    __table_args__ = (Index("ix_receipt_recipient_id", "recipient_code", "id"),)

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
