"""Receipts of customs documents, built from the fields the enterprise declared."""

from collections.abc import Mapping

from app.ceb.catalogue import INBOUND, Direction, DocKind, MessageSpec
from app.receipts.schemas import ReceiptDraft

INVT_NO_LENGTH = 18

LIST_SPECS = {
    Direction.EXPORT.value: INBOUND["CEB603"],
    Direction.IMPORT.value: INBOUND["CEB621"],
}


def document_key(spec: MessageSpec, head: Mapping[str, str]) -> str:
    """The key receipts of one document share: direction, kind and its business key."""
    return f"{spec.direction.value}:{spec.kind.value}:" + "|".join(
        head.get(name, "") for name in spec.key
    )


def list_doc_key(direction: str, agent_code: str, cop_no: str) -> str:
    return f"{direction}:{DocKind.INVENTORY.value}:{agent_code}|{cop_no}"


def draft(
    spec: MessageSpec,
    head: Mapping[str, str],
    *,
    recipient: str,
    status: int,
    info: str,
    extra: Mapping[str, str] | None = None,
    doc_key: str | None = None,
) -> ReceiptDraft:
    fields = {name.rstrip("?"): head.get(name.rstrip("?"), "") for name in spec.receipt_fields}
    fields.update(extra or {})
    # The import receipts' invtNo is optional and exactly 18 characters, while the request's
    # may be shorter: a number customs did not give is left out rather than echoed.
    if "invtNo?" in spec.receipt_fields and len(fields.get("invtNo", "")) != INVT_NO_LENGTH:
        fields["invtNo"] = ""
    return ReceiptDraft(
        recipient_code=recipient,
        message_type=spec.receipt,
        doc_kind=spec.kind.value,
        doc_key=doc_key or document_key(spec, head),
        return_status=status,
        return_info=info,
        fields=fields,
    )
