from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Channel(Base):
    """An enterprise's push channel: the signing secret and where the cursor of receipts is."""

    __tablename__ = "delivery_channel"

    enterprise_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    # Kept in clear: signing needs the secret itself, unlike API keys which are only compared.
    secret: Mapped[str] = mapped_column(String(64))
    body_format: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(8))
    failed_at: Mapped[datetime | None]
    # Receipts up to this id are already queued as items.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Base):
    """One receipt to push; a document's items go strictly in id order."""

    __tablename__ = "delivery_item"
    __table_args__ = (
        Index("ix_delivery_item_enterprise_id", "enterprise_code", "id"),
        Index("ix_delivery_item_status_due", "status", "next_attempt_at"),
        Index("ix_delivery_item_doc", "enterprise_code", "doc_key", "status"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    enterprise_code: Mapped[str] = mapped_column(String(18))
    receipt_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    doc_key: Mapped[str] = mapped_column(String(200))
    message_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    give_up_at: Mapped[datetime]
    # A worker sending this item holds it until then; a crashed worker's claim lapses.
    claimed_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
