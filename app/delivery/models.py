from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Channel(Base):
    """An enterprise's push channel: the signing secret and where the cursor of receipts is."""

    __tablename__ = "delivery_channel"

    enterprise_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    # Kept in clear: signing needs the secret itself, unlike API keys which are only compared.
    secret: Mapped[str] = mapped_column(String(64))
    body_format: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(8))
    failed_at: Mapped[datetime | None]
    # Receipts up to this position (Receipt.position) are already queued as items.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Base):
    """One receipt to push to one enterprise (its recipient, or a copy's subscriber).

    A document's items go strictly in id order.
    """

    __tablename__ = "delivery_item"
    __table_args__ = (
        UniqueConstraint("enterprise_code", "receipt_id"),
        Index("ix_delivery_item_enterprise_id", "enterprise_code", "id"),
        Index("ix_delivery_item_status_due", "status", "next_attempt_at"),
        Index("ix_delivery_item_doc", "enterprise_code", "doc_key", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    enterprise_code: Mapped[str] = mapped_column(String(18))
    receipt_id: Mapped[int] = mapped_column(BigInteger)
    # The receipt's recipient when this is a copy for a subscriber (BaseSubscribe).
    copy_of: Mapped[str | None] = mapped_column(String(18))
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


class Copy(Base):
    """An enterprise lets another receive copies of its receipts (CEB BaseSubscribe)."""

    __tablename__ = "delivery_copy"

    enterprise_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    subscriber_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    # The returnStatus values copied; None copies every receipt.
    statuses: Mapped[list[int] | None] = mapped_column(JSONDoc)
    # Receipts up to this position are already queued (or were before the copy was registered).
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """A subscriber to the SLA alerts of some customs codes, registered by an administrator."""

    __tablename__ = "delivery_subscription"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    callback_url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(64))
    body_format: Mapped[str] = mapped_column(String(4))
    active: Mapped[bool] = mapped_column(Boolean)
    # SLA alerts up to this id are already queued.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[datetime | None]


class SubscriptionCode(Base):
    """One customs code a subscription receives the alerts of."""

    __tablename__ = "delivery_subscription_code"

    subscription_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customs_code: Mapped[str] = mapped_column(String(4), primary_key=True)


class AlertItem(Base):
    """One SLA alert to push to one subscriber: once each, in alert order per subscriber."""

    __tablename__ = "delivery_alert_item"
    __table_args__ = (
        UniqueConstraint("subscription_id", "alert_id"),
        Index("ix_delivery_alert_item_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    alert_id: Mapped[int] = mapped_column(BigInteger)
    # The JSON body, fixed when queued: an alert never changes.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    give_up_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
