from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Index, Integer, LargeBinary, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class RawMessage(Base):
    """Every message as received: the bytes, their SHA-256, who sent them, when, and the outcome.

    Non-repudiation: what an enterprise declared is kept verbatim, whatever became of it.
    An accepted message's guid is unique per sender, which makes resubmission idempotent.
    """

    __tablename__ = "window_message"
    __table_args__ = (
        Index(
            "uq_window_message_accepted_guid",
            "sender_code",
            "guid",
            unique=True,
            postgresql_where=text("outcome = 'accepted'"),
            sqlite_where=text("outcome = 'accepted'"),
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    sender_code: Mapped[str] = mapped_column(String(18))
    guid: Mapped[str | None] = mapped_column(String(36))
    message_type: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(String(10))
    http_status: Mapped[int] = mapped_column(Integer)
    entity_count: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
