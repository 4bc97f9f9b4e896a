from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field

from app.delivery.service import BodyFormat
from app.schemas import Schema


class SecretRequest(Schema):
    format: BodyFormat = Field(BodyFormat.XML, description="receipt XML (default) or its JSON")


class ChannelRead(Schema):
    enterprise_code: str
    status: str = Field(description="active, or failed once a receipt outlived the horizon")
    failed_at: datetime | None
    body_format: str
    rotated_at: datetime


class SecretIssued(ChannelRead):
    secret: str = Field(
        description="HMAC-SHA256 key (its UTF-8 bytes) of X-SW-Signature; shown only now"
    )


class ItemRead(Schema):
    id: int
    receipt_id: int
    doc_key: str
    message_type: str
    status: str = Field(description="pending or delivered")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


class DeliveryLog(Schema):
    channel: ChannelRead
    items: list[ItemRead]
    next: int | None = Field(description="pass as ?after= for the next (older) page")


class Redriven(Schema):
    channel: ChannelRead
    redriven: int = Field(description="undelivered receipts due again now")


class CopyRequest(Schema):
    """CEB BaseSubscribe, registered through the API: who else receives the caller's receipts."""

    subscriber_code: str = Field(min_length=1, max_length=18, description="enterprise code")
    statuses: list[int] | None = Field(
        None, max_length=20, description="returnStatus values to copy; omitted: every receipt"
    )
    enterprise_code: str | None = Field(
        None, max_length=18, description="whose receipts: the caller's own only (the default)"
    )


class CopyRead(Schema):
    enterprise_code: str
    subscriber_code: str
    statuses: list[int] | None
    created_at: datetime


class SubscriptionRequest(Schema):
    name: str = Field(min_length=1, max_length=100)
    callback_url: AnyHttpUrl
    customs_codes: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(
        min_length=1, max_length=50
    )
    format: Literal[BodyFormat.JSON] = Field(BodyFormat.JSON, description="alerts come as JSON")


class SubscriptionRead(Schema):
    id: int
    name: str
    callback_url: str
    customs_codes: list[str]
    format: str
    active: bool
    created_at: datetime
    deactivated_at: datetime | None


class SubscriptionIssued(SubscriptionRead):
    secret: str = Field(
        description="HMAC-SHA256 key (its UTF-8 bytes) of X-SW-Signature; shown only now"
    )
