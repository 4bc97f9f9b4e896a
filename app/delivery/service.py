"""Receipt push: each enterprise's receipts POSTed, signed, to its callback URL.

Delivery is at least once: a receiver dedupes by ``X-SW-Receipt-Id``. A document's receipts
go strictly in receipt order; a failing receipt holds back the later ones of its document
(only), and is retried with exponential backoff and jitter until the horizon, when the
channel is marked failed until the enterprise redrives it.
"""

import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from app import audit
from app.config import DeliverySettings
from app.delivery.models import Channel, Item
from app.errors import Conflict, NotFound
from app.receipts import render
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.registry import service as registry_service

SIGNATURE_HEADER = "X-SW-Signature"
TIMESTAMP_HEADER = "X-SW-Timestamp"
RECEIPT_ID_HEADER = "X-SW-Receipt-Id"
# A claim outlives the slowest batch (every request timing out) with room to record it.
_CLAIM_MARGIN = timedelta(seconds=60)
_MAX_ROUNDS = 20


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    FAILED = "failed"


class BodyFormat(StrEnum):
    XML = "xml"
    JSON = "json"


class ItemStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"


class NoChannel(NotFound):
    pass


class ChannelNotFailed(Conflict):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-SW-Signature`` value: HMAC-SHA256 over ``timestamp + "." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def rotate_secret(
    session: Session, *, enterprise_code: str, body_format: BodyFormat, actor: str, now: datetime
) -> Channel:
    """Create the enterprise's channel or replace its secret; the secret is shown only now.

    A new channel starts from the first receipt, so the receiver gets the whole history.
    """
    channel = session.get(Channel, enterprise_code, with_for_update=True)
    secret = secrets.token_hex(32)
    if channel is None:
        channel = Channel(
            enterprise_code=enterprise_code,
            status=ChannelStatus.ACTIVE,
            cursor=0,
            created_at=now,
            secret=secret,
            body_format=body_format,
            rotated_at=now,
        )
        session.add(channel)
    else:
        channel.secret, channel.body_format, channel.rotated_at = secret, body_format, now
    audit.record(
        session,
        actor=actor,
        action="delivery.secret_rotated",
        subject_type="enterprise",
        subject_id=enterprise_code,
        detail={"format": body_format.value},
        at=now,
    )
    session.flush()
    return channel


def get_channel(session: Session, *, enterprise_code: str) -> Channel:
    """The enterprise's channel; it exists once the enterprise has asked for a secret."""
    channel = session.get(Channel, enterprise_code)
    if channel is None:
        raise NoChannel("no delivery channel: POST /deliveries/secret first")
    return channel


def log(
    session: Session, *, enterprise_code: str, after: int, limit: int
) -> tuple[Sequence[Item], int | None]:
    """The enterprise's deliveries, newest first, and the cursor of the next page."""
    query = select(Item).where(Item.enterprise_code == enterprise_code)
    if after:
        query = query.where(Item.id < after)
    rows = session.scalars(query.order_by(Item.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def redrive(
    session: Session, *, enterprise_code: str, actor: str, now: datetime, policy: DeliverySettings
) -> int:
    """Re-activate a failed channel; its undelivered receipts are due now with a new horizon."""
    channel = session.get(Channel, enterprise_code, with_for_update=True)
    if channel is None:
        raise NoChannel("no delivery channel: POST /deliveries/secret first")
    if channel.status != ChannelStatus.FAILED:
        raise ChannelNotFailed("the channel is active; nothing to redrive")
    channel.status, channel.failed_at = ChannelStatus.ACTIVE, None
    redriven = session.execute(
        update(Item)
        .where(Item.enterprise_code == enterprise_code, Item.status == ItemStatus.PENDING)
        .values(
            next_attempt_at=now,
            give_up_at=now + timedelta(hours=policy.horizon_hours),
            attempts=0,
            claimed_until=None,
        )
    ).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor,
        action="delivery.redriven",
        subject_type="enterprise",
        subject_id=enterprise_code,
        detail={"items": redriven},
        at=now,
    )
    return int(redriven or 0)


@dataclass(frozen=True)
class _Send:
    item_id: int
    url: str
    secret: str
    body: bytes
    content_type: str
    receipt_id: int


@dataclass(frozen=True)
class _Outcome:
    item_id: int
    status_code: int | None
    error: str | None


def enqueue_and_send(
    session: Session,
    *,
    now: datetime,
    policy: DeliverySettings,
) -> int:
    """Queue new receipts of every channel, then push what is due; returns how many landed.

    The session is only the way to the database: queueing, each claim and each round's
    results commit in their own short transactions, so none stays open across HTTP calls.
    """
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    with factory.begin() as tx:
        _enqueue(tx, now=now, policy=policy)
    delivered = 0
    with httpx.Client(timeout=policy.timeout_s) as client:
        for _ in range(_MAX_ROUNDS):
            with factory.begin() as tx:
                batch = _claim(tx, now=now, policy=policy)
            if batch is None:
                break
            outcomes = [_post(client, send, now) for send in batch]
            with factory.begin() as tx:
                delivered += _record(tx, outcomes=outcomes, now=now, policy=policy)
    return delivered


def _enqueue(session: Session, *, now: datetime, policy: DeliverySettings) -> None:
    locked = select(Channel).order_by(Channel.enterprise_code).with_for_update(skip_locked=True)
    for channel in session.scalars(locked):
        if _callback_url(session, channel.enterprise_code) is None:
            continue
        while True:
            receipts, more = receipts_service.page(
                session, recipient_code=channel.enterprise_code, after=channel.cursor, limit=500
            )
            session.add_all(_item(receipt, now=now, policy=policy) for receipt in receipts)
            if receipts:
                channel.cursor = receipts[-1].id
            if more is None:
                break


def _item(receipt: Receipt, *, now: datetime, policy: DeliverySettings) -> Item:
    return Item(
        enterprise_code=receipt.recipient_code,
        receipt_id=receipt.id,
        doc_key=receipt.doc_key,
        message_type=receipt.message_type,
        status=ItemStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=policy.horizon_hours),
        created_at=now,
    )


def _claim(session: Session, *, now: datetime, policy: DeliverySettings) -> list[_Send] | None:
    earlier = aliased(Item)
    blocked = exists().where(
        earlier.enterprise_code == Item.enterprise_code,
        earlier.doc_key == Item.doc_key,
        earlier.status == ItemStatus.PENDING,
        earlier.id < Item.id,
    )
    active = select(Channel.enterprise_code).where(Channel.status == ChannelStatus.ACTIVE)
    items = session.scalars(
        select(Item)
        .where(
            Item.status == ItemStatus.PENDING,
            Item.next_attempt_at <= now,
            Item.claimed_until.is_(None) | (Item.claimed_until < now),
            Item.enterprise_code.in_(active),
            ~blocked,
        )
        .order_by(Item.id)
        .limit(policy.batch_size)
        .with_for_update(of=Item, skip_locked=True)
    ).all()
    if not items:
        return None
    channels = {
        c.enterprise_code: c
        for c in session.scalars(
            select(Channel).where(Channel.enterprise_code.in_({i.enterprise_code for i in items}))
        )
    }
    receipts = {
        r.id: r
        for r in session.scalars(
            select(Receipt).where(Receipt.id.in_([i.receipt_id for i in items]))
        )
    }
    lease = now + timedelta(seconds=policy.timeout_s * len(items)) + _CLAIM_MARGIN
    batch: list[_Send] = []
    for item in items:
        # Claimed even without a URL (the administrator removed it), so that these items
        # step aside for a while instead of filling every batch.
        item.claimed_until = lease
        url = _callback_url(session, item.enterprise_code)
        if url is None:
            continue
        channel = channels[item.enterprise_code]
        body, content_type = _body(receipts[item.receipt_id], BodyFormat(channel.body_format))
        batch.append(_Send(item.id, url, channel.secret, body, content_type, item.receipt_id))
    return batch


def _callback_url(session: Session, code: str) -> str | None:
    return registry_service.get_enterprise(session, code=code).callback_url


def _body(receipt: Receipt, body_format: BodyFormat) -> tuple[bytes, str]:
    if body_format is BodyFormat.JSON:
        return json.dumps(render.as_json(receipt), ensure_ascii=False).encode(), "application/json"
    return render.to_bytes(render.messages([receipt])[0]), "application/xml"


def _post(client: httpx.Client, send: _Send, now: datetime) -> _Outcome:
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": send.content_type,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(send.secret, timestamp, send.body),
        RECEIPT_ID_HEADER: str(send.receipt_id),
    }
    try:
        response = client.post(send.url, content=send.body, headers=headers)
    except httpx.HTTPError as exc:
        return _Outcome(send.item_id, None, f"{type(exc).__name__}: {exc}"[:500])
    if response.is_success:
        return _Outcome(send.item_id, response.status_code, None)
    return _Outcome(send.item_id, response.status_code, f"HTTP {response.status_code}")


def backoff(attempts: int, policy: DeliverySettings) -> timedelta:
    """Exponential in the attempts so far, capped, with jitter so receivers are not stampeded."""
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** (attempts - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311 - not a secret


def _record(
    session: Session, *, outcomes: list[_Outcome], now: datetime, policy: DeliverySettings
) -> int:
    delivered = 0
    for outcome in outcomes:
        item = session.get(Item, outcome.item_id, with_for_update=True)
        if item is None or item.status == ItemStatus.DELIVERED:
            continue
        item.attempts += 1
        item.last_attempt_at, item.claimed_until = now, None
        item.last_status_code, item.last_error = outcome.status_code, outcome.error
        if outcome.error is None:
            item.status, item.delivered_at = ItemStatus.DELIVERED, now
            delivered += 1
            continue
        item.next_attempt_at = now + backoff(item.attempts, policy)
        if item.next_attempt_at > item.give_up_at:
            session.execute(
                update(Channel)
                .where(
                    Channel.enterprise_code == item.enterprise_code,
                    Channel.status == ChannelStatus.ACTIVE,
                )
                .values(status=ChannelStatus.FAILED, failed_at=now)
            )
    return delivered
