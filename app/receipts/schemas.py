from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import Field

from app.schemas import Schema


class ReceiptContent(Protocol):
    """What a receipt message is rendered from: a stored Receipt or one just issued."""

    @property
    def message_type(self) -> str: ...
    @property
    def return_status(self) -> int: ...
    @property
    def return_info(self) -> str: ...
    @property
    def returned_at(self) -> datetime: ...
    @property
    def fields(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IssuedReceipt:
    """A receipt this transaction issued, as the synchronous answer renders it."""

    message_type: str
    return_status: int
    return_info: str
    returned_at: datetime
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReceiptDraft:
    """A receipt a module wants issued: its standard message type and the entity's fields.

    Built by our own code, many per message, so a dataclass rather than a validated model;
    ``receipts.service.issue`` bounds the text to what the column holds.
    """

    recipient_code: str
    message_type: str
    doc_kind: str
    doc_key: str
    return_status: int
    return_info: str
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
