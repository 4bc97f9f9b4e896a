from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas import Schema


class ReceiptDraft(Schema):
    """A receipt a module wants issued: its standard message type and the entity's fields."""

    recipient_code: str
    message_type: str
    doc_kind: str
    doc_key: str
    return_status: int
    return_info: str = Field(max_length=5000)
    fields: dict[str, Any]


class ReceiptRead(Schema):
    id: int
    message_type: str
    doc_kind: str
    doc_key: str
    return_status: int
    return_info: str
    returned_at: datetime
    fields: dict[str, Any]


class ReceiptPage(Schema):
    receipts: list[ReceiptRead]
    next_after: int | None = Field(description="cursor for the next page; null at the end")
