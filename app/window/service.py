"""The window: one submission in, verbatim storage, validation, customs intake, receipts out.

Pipeline (DESIGN.md "The flow of one export list"): hardened parse → DxpMsg unwrap →
message type from the root → XSD of its set → the sender is the caller with a role the
message needs → idempotency by (sender, guid) → raw message stored → each entity to customs
in this same transaction → the receipts it produced.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast
from uuid import UUID, uuid4

from lxml import etree
from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.auth import Caller
from app.ceb.catalogue import DXP_NS, INBOUND, NS, OUTBOUND, Signing, message_type_of
from app.config import Settings
from app.customs import intake as customs_intake
from app.customs.schemas import SignatureCheck
from app.errors import Conflict
from app.receipts import service as receipts_service
from app.receipts.models import Receipt
from app.receipts.schemas import ReceiptContent, ReceiptDraft
from app.registry import service as registry_service
from app.window import ceb, signature
from app.window.json_mirror import JsonMirrorError, child_order, parse_json, to_xml
from app.window.models import RawMessage
from app.window.xmlsafe import NOT_XML_CHAR, XmlIssue, XmlRejected, parse_xml
from app.window.xsd import Schemas, SchemaSet, schema_set_for

# MessageReturn.returnStatus is negative for format errors; the magnitudes follow the
# exchange platform's table 7-1 (0001 format error, 0002 fails schema validation).
MALFORMED = -1
SCHEMA_INVALID = -2
_ORI_BIZ_MESSAGE_MAX = 64 * 1024
_RETURN_INFO_MAX = 5000
_SCHEMA_FILES = {
    SchemaSet.EXPORT: "export/ceb-export.xsd",
    SchemaSet.IMPORT: "import/ceb-import.xsd",
}


@dataclass
class Reply:
    """What the window answers: the receipts of this submission, or why it was refused."""

    status_code: int
    receipts: Sequence[ReceiptContent] = field(default_factory=list)
    error: tuple[str, str] | None = None
    replayed: bool = False


class _FormatError(Exception):
    def __init__(self, status: int, issues: list[XmlIssue], message_type: str = "Unknown") -> None:
        super().__init__(issues[0].message if issues else "format error")
        self.status = status
        self.issues = issues
        self.message_type = message_type


@dataclass
class _Submission:
    caller_code: str
    body: bytes
    sha256: str
    content_type: str | None
    remote_addr: str | None
    received_at: datetime
    guid: str | None = None
    message_type: str | None = None
    cop_msg_id: str = ""
    entity_count: int = 0


def submit(
    session: Session,
    *,
    body: bytes,
    content_type: str | None,
    caller: Caller,
    remote_addr: str | None,
    schemas: Schemas,
    settings: Settings,
    now: datetime,
) -> Reply:
    """Accept one CEB message (XML, DxpMsg or JSON) from an enterprise and answer with receipts.

    Format and schema errors are answered 400 with a CEB900; a sender other than the caller
    403; a reused guid with other content 409; everything else is per-entity receipts.
    """
    caller_code = caller.require_enterprise()
    submission = _Submission(
        caller_code=caller_code,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        content_type=content_type,
        remote_addr=remote_addr,
        received_at=now,
    )
    try:
        root = _read(submission, schemas, settings)
    except _FormatError as exc:
        return _refuse_format(session, submission, exc)
    spec = INBOUND[submission.message_type or ""]
    sender = ceb.sender_code(root)
    if sender != caller_code:
        return _refuse(
            session,
            submission,
            403,
            "Forbidden",
            f"BaseTransfer copCode {sender} is not the calling enterprise {caller_code}",
        )
    if not caller.roles & spec.sender_roles:
        return _refuse(
            session,
            submission,
            403,
            "Forbidden",
            f"sending {spec.type} needs the role {' or '.join(sorted(spec.sender_roles))}; "
            f"{caller_code} is filed as {', '.join(sorted(caller.roles))}",
        )
    entities = ceb.entities(root, spec)
    submission.entity_count = len(entities)
    stored = _store_accepted(session, submission)
    if not isinstance(stored, RawMessage):
        return stored
    signature_check = (
        _signature(session, root, caller_code, now)
        if settings.require_signatures and spec.signing is not Signing.NEVER
        else None
    )
    session.info[receipts_service.SOURCE_MESSAGE] = stored.id
    try:
        customs_intake.receive(
            session,
            spec=spec,
            entities=entities,
            sender=caller_code,
            message_id=stored.id,
            received_at=now,
            match_wait=timedelta(minutes=settings.customs.match_wait_minutes),
            signature=signature_check,
        )
    finally:
        session.info.pop(receipts_service.SOURCE_MESSAGE, None)
    return Reply(
        200,
        receipts_service.issued(
            session, message_id=stored.id, message_type=spec.receipt, recipient_code=caller_code
        ),
    )


def _signature(
    session: Session, root: etree._Element, sender: str, now: datetime
) -> SignatureCheck:
    """Verify the message's signature and that it is the sender's filed, current certificate."""
    try:
        certificate = signature.verify(root)
    except signature.SignatureFault as fault:
        return SignatureCheck(fault=fault.kind, detail=fault.detail)
    if registry_service.filed_certificate(session, code=sender, der=certificate.der) is None:
        return SignatureCheck(
            fault="invalid",
            detail=f"certificate {certificate.serial} is not filed (or revoked) for {sender}",
        )
    if not certificate.not_before <= now <= certificate.not_after:
        return SignatureCheck(
            fault="invalid", detail=f"certificate {certificate.serial} is not valid at {now}"
        )
    return SignatureCheck()


def _read(submission: _Submission, schemas: Schemas, settings: Settings) -> etree._Element:
    """The schema-valid CEB message inside the body, or a _FormatError saying what is wrong."""
    source: bytes | None = None
    try:
        if _is_json(submission.content_type):
            root = to_xml(
                parse_json(submission.body),
                _json_order(settings.xsd_dir),
                max_depth=settings.max_xml_depth,
            )
        else:
            root = parse_xml(submission.body, max_depth=settings.max_xml_depth)
            source = submission.body
        if etree.QName(root).namespace == DXP_NS:
            root, source = _unwrap(root, submission, schemas, settings)
    except (XmlRejected, JsonMirrorError, ceb.EnvelopeError) as exc:
        issues = exc.issues if isinstance(exc, XmlRejected) else [_issue(str(exc))]
        raise _FormatError(MALFORMED, issues) from None
    submission.guid = root.get("guid")
    name = etree.QName(root)
    message_type = message_type_of(name.localname)
    if name.namespace != NS or message_type is None:
        raise _FormatError(
            MALFORMED, [_issue(f"the root {name.localname} is not a CEB message of namespace {NS}")]
        )
    submission.message_type = message_type
    if message_type in OUTBOUND:
        # Its schema errors too: the CEB900 lists every error found, not just the first.
        raise _FormatError(
            MALFORMED,
            [
                _issue(f"{message_type} is a receipt the window sends, not a message it accepts"),
                *schemas.validate(root, schema_set_for(message_type), source),
            ],
            f"{message_type}Message",
        )
    if message_type not in INBOUND:
        raise _FormatError(MALFORMED, [_issue(f"unknown message type {message_type}")])
    issues = schemas.validate(root, schema_set_for(message_type), source)
    if issues:
        raise _FormatError(SCHEMA_INVALID, issues, f"{message_type}Message")
    return root


def _unwrap(
    root: etree._Element, submission: _Submission, schemas: Schemas, settings: Settings
) -> tuple[etree._Element, bytes]:
    """The message a DxpMsg carries, and the bytes it was parsed from."""
    if etree.QName(root).localname != "DxpMsg":
        raise ceb.EnvelopeError(
            f"{etree.QName(root).localname} is not a message the window accepts"
        )
    issues = schemas.validate(root, SchemaSet.DXP, submission.body)
    if issues:
        raise _FormatError(SCHEMA_INVALID, issues, "DxpMsg")
    envelope = ceb.unwrap_dxp(root)
    submission.cop_msg_id = envelope.cop_msg_id
    return parse_xml(envelope.data, max_depth=settings.max_xml_depth), envelope.data


def _is_json(content_type: str | None) -> bool:
    return bool(content_type) and "json" in (content_type or "").split(";")[0].lower()


def _json_order(xsd_dir: Path):  # type: ignore[no-untyped-def]
    def order_for(root_name: str) -> Mapping[str, tuple[str, ...]]:
        try:
            schema_set = schema_set_for(root_name)
        except KeyError:
            return {}
        return child_order(xsd_dir / _SCHEMA_FILES.get(schema_set, "dxp/dxp.xsd"))

    return order_for


def _issue(message: str) -> XmlIssue:
    return XmlIssue(line=None, column=None, path=None, message=message)


def _describe(issue: XmlIssue) -> str:
    where = []
    if issue.line is not None:
        where.append(f"line {issue.line}")
    if issue.column is not None:
        where.append(f"column {issue.column}")
    if issue.path:
        where.append(issue.path)
    return f"{', '.join(where)}: {issue.message}" if where else issue.message


def _raw(submission: _Submission, outcome: str, status: int, detail: str | None) -> RawMessage:
    return RawMessage(
        id=uuid4(),
        sender_code=submission.caller_code,
        guid=(submission.guid or "")[:36] or None,
        message_type=(submission.message_type or "")[:16] or None,
        received_at=submission.received_at,
        remote_addr=submission.remote_addr,
        content_type=(submission.content_type or "")[:100] or None,
        size=len(submission.body),
        sha256=submission.sha256,
        body=submission.body,
        outcome=outcome,
        http_status=status,
        entity_count=submission.entity_count,
        detail=detail,
    )


def _refuse(
    session: Session, submission: _Submission, status: int, error: str, detail: str
) -> Reply:
    session.add(_raw(submission, "refused", status, detail))
    return Reply(status, error=(error, detail))


def _refuse_format(session: Session, submission: _Submission, exc: _FormatError) -> Reply:
    # The refused body is quoted back; XML cannot carry some characters (nor PostgreSQL NUL).
    info = NOT_XML_CHAR.sub("\ufffd", "; ".join(_describe(issue) for issue in exc.issues))
    if len(info) > _RETURN_INFO_MAX:
        info = info[: _RETURN_INFO_MAX - 1] + "…"
    raw = _raw(submission, "rejected", 400, info)
    session.add(raw)
    session.flush()
    guid = (
        submission.guid if submission.guid and len(submission.guid) == 36 else str(raw.id).upper()
    )
    draft = ReceiptDraft(
        recipient_code=submission.caller_code,
        message_type="CEB900",
        doc_kind="message",
        doc_key=f"message:{guid}",
        return_status=exc.status,
        return_info=info,
        fields={
            "guid": guid,
            "oriCopMsgId": submission.cop_msg_id or guid,
            "oriMessageType": exc.message_type,
            "oriBizMessage": NOT_XML_CHAR.sub(
                "\ufffd", submission.body[:_ORI_BIZ_MESSAGE_MAX].decode("utf-8", "replace")
            ),
        },
    )
    receipts_service.issue(
        session, drafts=[draft], at=submission.received_at, source_message_id=raw.id
    )
    return Reply(
        400, receipts_service.issued(session, message_id=raw.id, recipient_code=raw.sender_code)
    )


def _store_accepted(session: Session, submission: _Submission) -> RawMessage | Reply:
    """Store the message, or replay the receipts of the accepted copy with the same guid."""
    raw = _raw(submission, "accepted", 200, None)
    # The unique index decides, also for two copies racing: the later one waits for the
    # earlier transaction, then inserts nothing, after which the earlier copy is visible.
    inserted = session.scalar(
        _STORE_ACCEPTED[session.get_bind().dialect.name],
        {column: getattr(raw, column) for column in _RAW_COLUMNS},
    )
    if inserted is not None:
        return raw
    earlier = _accepted(session, submission)
    # ON CONFLICT waited for the other copy's transaction: no insert means it committed.
    if earlier is None:  # pragma: no cover - defensive; let the client retry
        raise Conflict(f"message guid {submission.guid} is being accepted; send it again")
    if earlier.sha256 != submission.sha256:
        return _refuse(
            session,
            submission,
            409,
            "Conflict",
            f"message guid {submission.guid} was already accepted with different content",
        )
    return Reply(
        200,
        _answer(
            session, earlier.id, INBOUND[earlier.message_type or ""].receipt, submission.caller_code
        ),
        replayed=True,
    )


_RAW_TABLE = cast(Table, RawMessage.__table__)
_RAW_COLUMNS = [column.key for column in _RAW_TABLE.columns]
# Built once per dialect, like the other statements of the window's hot path.
_STORE_ACCEPTED = {
    name: dialect_insert(_RAW_TABLE)
    .on_conflict_do_nothing(
        index_elements=["sender_code", "guid"], index_where=text("outcome = 'accepted'")
    )
    .returning(_RAW_TABLE.c.id)
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _answer(session: Session, message_id: UUID, receipt_type: str, sender: str) -> list[Receipt]:
    return list(
        receipts_service.for_message(
            session, message_id=message_id, message_type=receipt_type, recipient_code=sender
        )
    )


def _accepted(session: Session, submission: _Submission) -> RawMessage | None:
    return session.scalar(
        select(RawMessage).where(
            RawMessage.sender_code == submission.caller_code,
            RawMessage.guid == submission.guid,
            RawMessage.outcome == "accepted",
        )
    )
