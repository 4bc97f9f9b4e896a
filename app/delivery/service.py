"""Receipt push: each enterprise's receipts POSTed, signed, to its callback URL.

Delivery is at least once: a receiver dedupes by ``X-SW-Receipt-Id``. A document's receipts
go strictly in receipt order; a failing receipt holds back the later ones of its document
(only), and is retried with exponential backoff and jitter until the horizon, when the
channel is marked failed until the enterprise redrives it.

The same mechanism pushes copies of an enterprise's receipts to the subscribers it lets
have them (CEB BaseSubscribe), marked by ``X-SW-Copy-Of``, and the SLA alerts of customs
codes to their subscribers, once per alert and subscriber, deduped by ``X-SW-Alert-Id``.
"""

import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from app import audit
from app.config import DeliverySettings
from app.delivery.models import AlertItem, Channel, Copy, Item, Subscription, SubscriptionCode
from app.errors import Conflict, NotFound, RuleViolation
from app.feeds import PUBLISH_BATCH, Feed
from app.receipts import render
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.registry import service as registry_service
from app.sla import service as sla_service
from app.sla.schemas import AlertRead

SIGNATURE_HEADER = "X-SW-Signature"
TIMESTAMP_HEADER = "X-SW-Timestamp"
RECEIPT_ID_HEADER = "X-SW-Receipt-Id"
ALERT_ID_HEADER = "X-SW-Alert-Id"
COPY_OF_HEADER = "X-SW-Copy-Of"
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
    # An alert still undelivered at the horizon is stale: dropped, the later ones go on.
    EXPIRED = "expired"


class NoChannel(NotFound):
    pass


class ChannelNotFailed(Conflict):
    pass


class NoSubscription(NotFound):
    pass


class CopyToSelf(RuleViolation):
    pass


class NoCopy(NotFound):
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
    headers: dict[str, str]


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
    for feed in (receipts_service.RECEIPT_FEED, sla_service.ALERT_FEED):
        _publish(factory, feed)
    with factory.begin() as tx:
        _enqueue(tx, now=now, policy=policy)
        _enqueue_copies(tx, now=now, policy=policy)
        _enqueue_alerts(tx, now=now, policy=policy)
    delivered = 0
    with httpx.Client(timeout=policy.timeout_s) as client:
        for claim, record in ((_claim, _record), (_claim_alerts, _record_alerts)):
            for _ in range(_MAX_ROUNDS):
                with factory.begin() as tx:
                    batch = claim(tx, now=now, policy=policy)
                if batch is None:
                    break
                outcomes = [_post(client, send, now) for send in batch]
                with factory.begin() as tx:
                    delivered += record(tx, outcomes=outcomes, now=now, policy=policy)
    return delivered


def _publish(factory: sessionmaker[Session], feed: Feed) -> None:
    # Channels and subscriptions read by position like any reader of a feed. Each batch
    # commits on its own, so that the publication lock is not held while every channel is
    # queued; looping keeps the worker abreast of intake even when nobody polls.
    while True:
        with factory.begin() as tx:
            if feed.publish(tx) < PUBLISH_BATCH:
                return


def _enqueue(session: Session, *, now: datetime, policy: DeliverySettings) -> None:
    locked = select(Channel).order_by(Channel.enterprise_code).with_for_update(skip_locked=True)
    for channel in session.scalars(locked):
        if _callback_url(session, channel.enterprise_code) is None:
            continue
        while True:
            page = receipts_service.published_after(
                session, recipient_code=channel.enterprise_code, after=channel.cursor, limit=500
            )
            session.add_all(_item(receipt, now=now, policy=policy) for receipt in page.receipts)
            channel.cursor = page.cursor
            if not page.more:
                break


def _enqueue_copies(session: Session, *, now: datetime, policy: DeliverySettings) -> None:
    locked = (
        select(Copy)
        .order_by(Copy.enterprise_code, Copy.subscriber_code)
        .with_for_update(skip_locked=True)
    )
    for copy in session.scalars(locked):
        # Like its own receipts, copies wait until the subscriber can receive them.
        if session.get(Channel, copy.subscriber_code) is None:
            continue
        if _callback_url(session, copy.subscriber_code) is None:
            continue
        while True:
            page = receipts_service.published_after(
                session, recipient_code=copy.enterprise_code, after=copy.cursor, limit=500
            )
            session.add_all(
                _item(receipt, now=now, policy=policy, copy_for=copy.subscriber_code)
                for receipt in page.receipts
                if copy.statuses is None or receipt.return_status in copy.statuses
            )
            copy.cursor = page.cursor
            if not page.more:
                break


def _item(
    receipt: Receipt, *, now: datetime, policy: DeliverySettings, copy_for: str | None = None
) -> Item:
    return Item(
        enterprise_code=copy_for or receipt.recipient_code,
        copy_of=receipt.recipient_code if copy_for else None,
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
    items = _claim_due(
        session,
        Item,
        # A document's receipts go in order: none overtakes a pending earlier one.
        same_queue=lambda earlier: (
            (earlier.enterprise_code == Item.enterprise_code) & (earlier.doc_key == Item.doc_key)
        ),
        active=Item.enterprise_code.in_(
            select(Channel.enterprise_code).where(Channel.status == ChannelStatus.ACTIVE)
        ),
        now=now,
        policy=policy,
    )
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
    batch: list[_Send] = []
    for item in items:
        # Leased like the others even without a URL (the administrator removed it), so that
        # such items step aside for a while instead of filling every batch.
        url = _callback_url(session, item.enterprise_code)
        if url is None:
            continue
        channel = channels[item.enterprise_code]
        body, content_type = _body(receipts[item.receipt_id], BodyFormat(channel.body_format))
        headers = {RECEIPT_ID_HEADER: str(item.receipt_id)}
        if item.copy_of is not None:
            headers[COPY_OF_HEADER] = item.copy_of
        batch.append(_Send(item.id, url, channel.secret, body, content_type, headers))
    return batch


_Queued = TypeVar("_Queued", Item, AlertItem)


def _claim_due(
    session: Session,
    model: type[_Queued],
    *,
    same_queue: Callable[[Any], ColumnElement[bool]],
    active: ColumnElement[bool],
    now: datetime,
    policy: DeliverySettings,
) -> Sequence[_Queued]:
    """Due pending items, oldest first, none behind an earlier pending item of its queue,
    leased for long enough to send them all. SKIP LOCKED: two pushers never take the same
    item. Items are queued in their feed's order, so their ids are that order."""
    earlier = aliased(model)
    items = session.scalars(
        select(model)
        .where(
            model.status == ItemStatus.PENDING,
            model.next_attempt_at <= now,
            model.claimed_until.is_(None) | (model.claimed_until < now),
            active,
            ~exists().where(
                earlier.status == ItemStatus.PENDING, earlier.id < model.id, same_queue(earlier)
            ),
        )
        .order_by(model.id)
        .limit(policy.batch_size)
        .with_for_update(of=model, skip_locked=True)
    ).all()
    lease = now + timedelta(seconds=policy.timeout_s * len(items)) + _CLAIM_MARGIN
    for item in items:
        item.claimed_until = lease
    return items


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
        **send.headers,
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
        if item is None or item.status != ItemStatus.PENDING:
            continue
        if _attempted(item, outcome, now=now, policy=policy):
            delivered += 1
        elif item.next_attempt_at > item.give_up_at:
            session.execute(
                update(Channel)
                .where(
                    Channel.enterprise_code == item.enterprise_code,
                    Channel.status == ChannelStatus.ACTIVE,
                )
                .values(status=ChannelStatus.FAILED, failed_at=now)
            )
    return delivered


def _attempted(
    item: Item | AlertItem, outcome: _Outcome, *, now: datetime, policy: DeliverySettings
) -> bool:
    """Record one attempt; true when it landed, else the next one is scheduled."""
    item.attempts += 1
    item.last_attempt_at, item.claimed_until = now, None
    item.last_status_code, item.last_error = outcome.status_code, outcome.error
    if outcome.error is None:
        item.status, item.delivered_at = ItemStatus.DELIVERED, now
        return True
    item.next_attempt_at = now + backoff(item.attempts, policy)
    return False


# ---------------------------------------------------------------- receipt copies


def register_copy(
    session: Session,
    *,
    enterprise_code: str,
    subscriber_code: str,
    statuses: list[int] | None,
    actor: str,
    now: datetime,
) -> Copy:
    """Let a registered enterprise receive copies of this enterprise's receipts from now on.

    Registering again changes the statuses copied; the earlier receipts stay where they were.
    """
    if subscriber_code == enterprise_code:
        raise CopyToSelf("an enterprise receives its own receipts already")
    registry_service.get_enterprise(session, code=subscriber_code)
    copy = session.get(Copy, (enterprise_code, subscriber_code), with_for_update=True)
    if copy is None:
        # Only receipts issued after consent are copied, not the enterprise's history.
        copy = Copy(
            enterprise_code=enterprise_code,
            subscriber_code=subscriber_code,
            cursor=receipts_service.current_position(session, recipient_code=enterprise_code),
            created_at=now,
        )
        session.add(copy)
    copy.statuses = sorted(set(statuses)) if statuses is not None else None
    audit.record(
        session,
        actor=actor,
        action="delivery.copy_registered",
        subject_type="enterprise",
        subject_id=enterprise_code,
        detail={"subscriber": subscriber_code, "statuses": copy.statuses},
        at=now,
    )
    session.flush()
    return copy


def copies(session: Session, *, enterprise_code: str) -> Sequence[Copy]:
    """The subscribers receiving copies of the enterprise's receipts."""
    query = select(Copy).where(Copy.enterprise_code == enterprise_code)
    return session.scalars(query.order_by(Copy.subscriber_code)).all()


def remove_copy(
    session: Session, *, enterprise_code: str, subscriber_code: str, actor: str, now: datetime
) -> None:
    """Stop copying; copies already queued still go (they were consented to)."""
    removed = session.execute(
        delete(Copy).where(
            Copy.enterprise_code == enterprise_code, Copy.subscriber_code == subscriber_code
        )
    ).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise NoCopy(f"{subscriber_code} receives no copies of {enterprise_code}'s receipts")
    audit.record(
        session,
        actor=actor,
        action="delivery.copy_removed",
        subject_type="enterprise",
        subject_id=enterprise_code,
        detail={"subscriber": subscriber_code},
        at=now,
    )


# ---------------------------------------------------------------- SLA alert subscriptions


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    customs_codes: list[str]


def subscribe(
    session: Session,
    *,
    name: str,
    callback_url: str,
    customs_codes: Sequence[str],
    body_format: BodyFormat,
    actor: str,
    now: datetime,
) -> SubscriptionView:
    """Register a subscriber to the alerts of these customs codes raised from now on."""
    subscription = Subscription(
        name=name,
        callback_url=callback_url,
        secret=secrets.token_hex(32),
        body_format=body_format,
        active=True,
        cursor=0,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    codes = sorted(set(customs_codes))
    session.add_all(
        SubscriptionCode(subscription_id=subscription.id, customs_code=c) for c in codes
    )
    audit.record(
        session,
        actor=actor,
        action="delivery.subscribed",
        subject_type="delivery_subscription",
        subject_id=str(subscription.id),
        detail={"name": name, "customs_codes": codes},
        at=now,
    )
    session.flush()
    return SubscriptionView(subscription, codes)


def subscriptions(session: Session) -> list[SubscriptionView]:
    """Every subscription, the deactivated ones included, oldest first."""
    codes: dict[int, list[str]] = {}
    for row in session.execute(
        select(SubscriptionCode.subscription_id, SubscriptionCode.customs_code).order_by(
            SubscriptionCode.customs_code
        )
    ):
        codes.setdefault(row[0], []).append(row[1])
    return [
        SubscriptionView(s, codes.get(s.id, []))
        for s in session.scalars(select(Subscription).order_by(Subscription.id))
    ]


def unsubscribe(
    session: Session, *, subscription_id: int, actor: str, now: datetime
) -> SubscriptionView:
    """Deactivate a subscription: nothing more is queued or sent to it."""
    subscription = session.get(Subscription, subscription_id, with_for_update=True)
    if subscription is None:
        raise NoSubscription(f"no subscription {subscription_id}")
    if subscription.active:
        subscription.active, subscription.deactivated_at = False, now
        audit.record(
            session,
            actor=actor,
            action="delivery.unsubscribed",
            subject_type="delivery_subscription",
            subject_id=str(subscription_id),
            detail={},
            at=now,
        )
    codes = session.scalars(
        select(SubscriptionCode.customs_code).where(
            SubscriptionCode.subscription_id == subscription_id
        )
    ).all()
    return SubscriptionView(subscription, sorted(codes))


def _enqueue_alerts(session: Session, *, now: datetime, policy: DeliverySettings) -> None:
    locked = (
        select(Subscription)
        .where(Subscription.active.is_(True))
        .order_by(Subscription.id)
        .with_for_update(skip_locked=True)
    )
    for subscription in session.scalars(locked):
        codes = session.scalars(
            select(SubscriptionCode.customs_code).where(
                SubscriptionCode.subscription_id == subscription.id
            )
        ).all()
        while True:
            alerts = sla_service.alerts_after(
                session, after=subscription.cursor, customs_codes=codes, limit=500
            )
            session.add_all(
                _alert_item(subscription.id, alert, now=now, policy=policy)
                for alert in alerts
                # Alerts raised before the subscription are not news to it.
                if alert.raised_at >= subscription.created_at
            )
            if alerts:
                subscription.cursor = alerts[-1].position
            if len(alerts) < 500:
                break


def _alert_item(
    subscription_id: int, alert: AlertRead, *, now: datetime, policy: DeliverySettings
) -> AlertItem:
    body = {
        "id": alert.id,
        "inventory_id": alert.inventory_id,
        "invt_no": alert.invt_no,
        "customs_code": alert.customs_code,
        "kind": alert.kind,
        "deadline": alert.deadline.isoformat(),
        "raised_at": alert.raised_at.isoformat(),
    }
    return AlertItem(
        subscription_id=subscription_id,
        alert_id=alert.id,
        body=json.dumps(body, ensure_ascii=False),
        status=ItemStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=policy.horizon_hours),
        created_at=now,
    )


def _claim_alerts(
    session: Session, *, now: datetime, policy: DeliverySettings
) -> list[_Send] | None:
    items = _claim_due(
        session,
        AlertItem,
        # A subscriber's alerts go in the alert feed's order.
        same_queue=lambda earlier: earlier.subscription_id == AlertItem.subscription_id,
        active=AlertItem.subscription_id.in_(
            select(Subscription.id).where(Subscription.active.is_(True))
        ),
        now=now,
        policy=policy,
    )
    if not items:
        return None
    subscribers = {
        s.id: s
        for s in session.scalars(
            select(Subscription).where(Subscription.id.in_({i.subscription_id for i in items}))
        )
    }
    batch: list[_Send] = []
    for item in items:
        subscriber = subscribers[item.subscription_id]
        headers = {ALERT_ID_HEADER: str(item.alert_id)}
        batch.append(
            _Send(
                item.id,
                subscriber.callback_url,
                subscriber.secret,
                item.body.encode(),
                "application/json",
                headers,
            )
        )
    return batch


def _record_alerts(
    session: Session, *, outcomes: list[_Outcome], now: datetime, policy: DeliverySettings
) -> int:
    delivered = 0
    for outcome in outcomes:
        item = session.get(AlertItem, outcome.item_id, with_for_update=True)
        if item is None or item.status != ItemStatus.PENDING:
            continue
        if _attempted(item, outcome, now=now, policy=policy):
            delivered += 1
        elif item.next_attempt_at > item.give_up_at:
            item.status = ItemStatus.EXPIRED
    return delivered
