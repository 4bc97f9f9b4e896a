from datetime import datetime

from pydantic import Field

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
