"""Customs intake: the documents of one accepted message, checked, stored and answered.

Runs in the window's transaction, so a message's documents, receipts and events commit
together or not at all. Each entity is judged on its own: one bad list in a message of a
hundred gets its own negative receipt while the others go on.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, delete, select, tuple_
from sqlalchemy.orm import Session

from app import rowbuffer
from app.ceb import codes
from app.ceb.catalogue import PARTY_ROLES, DocKind, MessageSpec, Signing
from app.ceb.codes import STATUS_TEXT, ReturnStatus
from app.ceb.times import parse_app_time
from app.customs import effects, lifecycle, matching, numbers, receipting
from app.customs.effects import Refusal
from app.customs.models import Document, Inventory, InventoryLine
from app.customs.receipting import list_doc_key
from app.customs.schemas import CebEntity, SignatureCheck
from app.receipts import service as receipts_service
from app.receipts.schemas import ReceiptDraft
from app.registry import service as registry_service

# Lists can still be edited or withdrawn by the enterprise only before customs holds them.
EDITABLE = frozenset({ReturnStatus.STAGED, ReturnStatus.REJECTED})
NO_PARTY = frozenset({"", "无"})
_GCODE = re.compile(r"^\d{10}$")
_CODE3 = re.compile(r"^\d{3}$")
TOTAL_TOLERANCE = Decimal("0.01")


@dataclass
class _Outcome:
    entity: CebEntity
    status: int
    info: str
    extra: dict[str, str]
    doc_key: str | None = None


def doc_key(spec: MessageSpec, head: Mapping[str, str]) -> str:
    return "|".join(head.get(name, "") for name in spec.key)


def receive(
    session: Session,
    *,
    spec: MessageSpec,
    entities: Sequence[CebEntity],
    sender: str,
    message_id: UUID,
    received_at: datetime,
    match_wait: timedelta,
    signature: SignatureCheck | None = None,
) -> None:
    """Judge and store each document of a message; every document gets its receipts.

    A declared list is matched (三单对碰) at once; a list whose partners are missing waits
    up to ``match_wait`` for them.
    """
    roles = registry_service.enterprises_with_roles(session, codes=_party_codes(spec, entities))
    outcomes: list[_Outcome] = []
    inventories: list[tuple[CebEntity, dict[str, str]]] = []
    for entity in entities:
        try:
            _check_signature(spec, entity.head, signature)
            _check_parties(spec, entity.head, roles, sender)
            parse_app_time(entity.head.get("appTime", ""))
            if entity.head.get("appStatus") not in ("1", "2"):
                # The import schema lets appStatus run to three characters; only 1 and 2 mean
                # anything (暂存, 申报).
                raise Refusal(
                    spec.errors.invalid,
                    f"appStatus {entity.head.get('appStatus')!r} 不是 1 暂存 / 2 申报",
                )
        except (Refusal, ValueError) as exc:
            code, info = _refusal(spec, exc)
            outcomes.append(_Outcome(entity, code, info, {}))
            continue
        if spec.kind is DocKind.INVENTORY:
            inventories.append((entity, {}))
        else:
            outcomes.append(_document(session, spec, entity, sender, message_id, received_at))
    if inventories:
        outcomes.extend(
            _inventories(session, spec, inventories, sender, message_id, received_at, match_wait)
        )
    _number_refused(session, spec, outcomes, received_at)
    receipts_service.issue(
        session,
        drafts=[_draft(spec, o, sender) for o in outcomes],
        at=received_at,
        source_message_id=message_id,
    )


def _number_refused(
    session: Session, spec: MessageSpec, outcomes: list[_Outcome], now: datetime
) -> None:
    """The e-port numbers what it receives before judging it, so a refusal carries a preNo too
    (the receipt schemas require one wherever they have the field)."""
    if "preNo" not in spec.receipt_fields:
        return
    unnumbered = [o for o in outcomes if not o.extra.get("preNo")]
    for outcome, serial in zip(unnumbered, numbers.allocate(session, len(unnumbered)), strict=True):
        outcome.extra["preNo"] = numbers.pre_no(serial, now)


def _refusal(spec: MessageSpec, exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Refusal):
        return exc.code, exc.info
    return spec.errors.invalid, f"参数校验不通过: {exc}"


def _party_codes(spec: MessageSpec, entities: Sequence[CebEntity]) -> set[str]:
    return {
        e.head[f] for e in entities for f in spec.party_fields if e.head.get(f, "") not in NO_PARTY
    }


def _check_signature(
    spec: MessageSpec, head: Mapping[str, str], signature: SignatureCheck | None
) -> None:
    """Messages the standard requires signed carry a valid signature of the sender."""
    if signature is None or signature.fault is None:
        return
    if spec.signing is Signing.NEVER or (
        spec.signing is Signing.WHEN_DECLARED and head.get("appStatus") != "2"
    ):
        return
    if signature.fault == "mismatch":
        raise Refusal(spec.errors.signature_mismatch, f"加签数据比对失败！{signature.detail}")
    raise Refusal(spec.errors.signature_invalid, f"验签失败！{signature.detail}")


def _check_parties(
    spec: MessageSpec, head: Mapping[str, str], roles: Mapping[str, frozenset[str]], sender: str
) -> None:
    named: set[str] = set()
    for name in spec.party_fields:
        code = head.get(name, "")
        if code in NO_PARTY:
            continue
        named.add(code)
        if code not in roles:
            raise Refusal(codes.INVALID_ENTERPRISE_CODE, f"无效企业代码: {name} {code} 未备案")
        if PARTY_ROLES[name] not in roles[code]:
            raise Refusal(
                codes.INVALID_ENTERPRISE_TYPE,
                f"无效企业类型: {code} 未备案为 {PARTY_ROLES[name]} ({name})",
            )
    if sender not in named:
        raise Refusal(spec.errors.forbidden, f"[{sender}]没有权限进行操作: 发送方不是单证当事人")


def _draft(spec: MessageSpec, outcome: _Outcome, sender: str) -> ReceiptDraft:
    head = outcome.entity.head
    if outcome.doc_key is None and spec.kind is DocKind.INVENTORY:
        outcome.doc_key = list_doc_key(
            spec.direction.value, head.get("agentCode", ""), _cop_no(head)
        )
    return receipting.draft(
        spec,
        outcome.entity.head,
        recipient=sender,
        status=outcome.status,
        info=outcome.info,
        extra=outcome.extra,
        doc_key=outcome.doc_key,
    )


def _declared_status(head: Mapping[str, str]) -> ReturnStatus:
    return ReturnStatus.ACCEPTED if head.get("appStatus") == "2" else ReturnStatus.STAGED


def _document(
    session: Session,
    spec: MessageSpec,
    entity: CebEntity,
    sender: str,
    message_id: UUID,
    now: datetime,
) -> _Outcome:
    head = entity.head
    key = doc_key(spec, head)
    existing = session.scalar(
        select(Document)
        .where(
            Document.kind == spec.kind.value,
            Document.direction == spec.direction.value,
            Document.business_key == key,
        )
        .with_for_update()
    )
    app_time = parse_app_time(head["appTime"])
    try:
        _check_operation(spec, head.get("appType", ""), existing, app_time, key)
    except Refusal as refusal:
        return _Outcome(entity, refusal.code, refusal.info, {})
    applied: dict[str, str] = {}
    if head["appType"] == "3":
        assert existing is not None  # noqa: S101 - _check_operation refuses deletes of nothing
        numbered = {"preNo": existing.pre_no} if existing.pre_no else {}
        if existing.status == ReturnStatus.ACCEPTED:
            # Deleting a declared document (a summary) undoes its effect first.
            try:
                applied = effects.apply(session, spec, head, entity.lines, at=now)
            except Refusal as refusal:
                return _Outcome(entity, refusal.code, refusal.info, numbered)
        session.delete(existing)
        return _Outcome(entity, ReturnStatus.STAGED, "删除成功", {**numbered, **applied})
    status = _declared_status(head)
    if status is ReturnStatus.ACCEPTED:
        try:
            applied = effects.apply(session, spec, head, entity.lines, at=now)
        except Refusal as refusal:
            return _Outcome(entity, refusal.code, refusal.info, {})
    values: dict[str, Any] = {
        "guid": head["guid"],
        "app_type": head["appType"],
        "app_time": app_time,
        "app_status": head.get("appStatus", "1"),
        "status": int(status),
        "sender_code": sender,
        "message_id": message_id,
        "head": dict(head),
        "lines": [dict(line) for line in entity.lines],
    }
    if spec.kind is DocKind.PAYMENT:
        values["ref_key"] = matching.payment_ref(head)
    if existing is None:
        existing = Document(
            kind=spec.kind.value, direction=spec.direction.value, business_key=key, **values
        )
        if _numbered(spec):
            existing.pre_no = numbers.pre_no(numbers.allocate(session, 1)[0], now)
        session.add(existing)
    else:
        for name, value in values.items():
            setattr(existing, name, value)
    extra = {"preNo": existing.pre_no} if existing.pre_no else {}
    outcome = _Outcome(entity, status, STATUS_TEXT[status], {**extra, **applied})
    if status is ReturnStatus.ACCEPTED:
        session.flush()
        rematch_waiting(session, kind=spec.kind, direction=spec.direction.value, head=head, at=now)
    return outcome


def _numbered(spec: MessageSpec) -> bool:
    """Documents whose receipt carries a preNo get one from the window, like lists do."""
    return any(name.rstrip("?") == "preNo" for name in spec.receipt_fields)


def _check_operation(
    spec: MessageSpec,
    app_type: str,
    existing: Document | Inventory | None,
    app_time: datetime,
    key: str,
) -> None:
    """The appType rules: add a new key, change or delete a stored one, never go back in time."""
    errors = spec.errors
    if app_type == "1":
        if existing is not None and existing.status not in EDITABLE:
            raise Refusal(errors.exists, f"[{key}] 已经申报过，请勿重复申报")
    elif app_type in ("2", "3"):
        if existing is None:
            raise Refusal(errors.not_found, f"[{key}] 不存在，appType={app_type} 未找到对应操作")
    else:
        raise Refusal(errors.invalid, f"appType {app_type!r} 不是 1 新增 / 2 变更 / 3 删除")
    if existing is None:
        return
    if app_time < existing.app_time:
        raise Refusal(errors.stale, f"[{key}] 接收报文为旧报文数据，不做处理")
    # A declared summary (701) may change or go until its declaration is filed; the
    # summaries service judges that when the change is applied.
    if app_type != "1" and existing.status not in EDITABLE and spec.kind is not DocKind.SUMMARY:
        raise Refusal(errors.wrong_state, f"[{key}] 状态 {existing.status} 不符合变更或删除的条件")


def _decimal(line: Mapping[str, str], name: str, default: str | None = None) -> Decimal:
    raw = line.get(name) or default
    if raw is None:
        raise Refusal(codes.INVENTORY.invalid, f"清单报文校验失败，[{name}] 为空")
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise Refusal(
            codes.INVENTORY.invalid, f"清单报文校验失败，[{name}={raw}] 不是数字"
        ) from None


def _line_row(line: Mapping[str, str]) -> dict[str, Any]:
    gnum = line.get("gnum", "")
    where = f"表体第[{gnum}]项"
    if not _GCODE.match(line.get("gcode", "")):
        raise Refusal(codes.INVENTORY.invalid, f"{where}商品编码 gcode 应为 10 位数字")
    for name in ("country", "currency", "unit", "unit1"):
        if not _CODE3.match(line.get(name, "")):
            raise Refusal(codes.INVENTORY.invalid, f"{where} {name} 应为 3 位海关参数代码")
    qty, price, total = _decimal(line, "qty"), _decimal(line, "price"), _decimal(line, "totalPrice")
    if abs(qty * price - total) > TOTAL_TOLERANCE:
        raise Refusal(
            codes.INVENTORY.invalid, f"{where}总价 {total} 与数量×单价 {qty * price} 不符"
        )
    return {
        "gnum": int(gnum),
        "item_no": line.get("itemNo"),
        "item_record_no": line.get("itemRecordNo"),
        "item_name": line.get("itemName"),
        "gcode": line["gcode"],
        "gname": line.get("gname", ""),
        "gmodel": line.get("gmodel"),
        "country": line["country"],
        "currency": line["currency"],
        "unit": line["unit"],
        "qty": qty,
        "unit1": line["unit1"],
        "qty1": _decimal(line, "qty1"),
        "unit2": line.get("unit2") or None,
        "qty2": _decimal(line, "qty2") if line.get("qty2") else None,
        "price": price,
        "total_price": total,
    }


def _inventory_rows(
    spec: MessageSpec, entity: CebEntity
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    head = entity.head
    if head.get("ieFlag") != spec.direction.value:
        raise Refusal(
            codes.INVENTORY.invalid,
            f"清单报文校验失败，ieFlag 应为 {spec.direction.value}，实为 {head.get('ieFlag')!r}",
        )
    gnums = [line.get("gnum") for line in entity.lines]
    if len(gnums) != len(set(gnums)):
        raise Refusal(codes.INVENTORY_GNUM_DUPLICATE, "请确认表体 gnum 无重复！")
    lines = [_line_row(line) for line in entity.lines]
    head_row = {
        "direction": spec.direction.value,
        "guid": head["guid"],
        "agent_code": head["agentCode"],
        "cop_no": _cop_no(head),
        "ebp_code": head["ebpCode"],
        "ebc_code": head["ebcCode"],
        "order_no": head["orderNo"],
        "logistics_code": head["logisticsCode"],
        "logistics_no": head["logisticsNo"],
        "customs_code": head["customsCode"],
        "port_code": head["portCode"],
        "trade_mode": head["tradeMode"],
        "statistics_flag": head.get("statisticsFlag"),
        "owner_code": head.get("ownerCode"),
        "buyer_id_number": head.get("buyerIdNumber"),
        "country": head["country"],
        "currency": head.get("currency") or (lines[0]["currency"] if lines else None),
        "goods_value": sum((line["total_price"] for line in lines), Decimal(0)),
        "freight": _decimal(head, "freight", "0"),
        "insured_fee": _decimal(head, "insuredFee", "0"),
        "gross_weight": _decimal(head, "grossWeight"),
        "net_weight": _decimal(head, "netWeight"),
        "pack_no": int(_decimal(head, "packNo")),
        "app_type": head["appType"],
        "app_time": parse_app_time(head["appTime"]),
        "app_status": head.get("appStatus", "1"),
        "head": dict(head),
    }
    return head_row, lines


def _cop_no(head: Mapping[str, str]) -> str:
    # copNo is optional in the import list; the order then identifies the list for its agent.
    return head.get("copNo") or f"~{head['ebpCode']}/{head['orderNo']}"


# Built once: the window runs it for every message of lists.
_STORED_LISTS = (
    select(Inventory)
    .where(
        Inventory.direction == bindparam("direction"),
        tuple_(Inventory.agent_code, Inventory.cop_no).in_(bindparam("keys", expanding=True)),
    )
    .with_for_update()
)


def _inventories(
    session: Session,
    spec: MessageSpec,
    entities: list[tuple[CebEntity, dict[str, str]]],
    sender: str,
    message_id: UUID,
    now: datetime,
    match_wait: timedelta,
) -> list[_Outcome]:
    keys = [(e.head["agentCode"], _cop_no(e.head)) for e, _ in entities]
    existing = {
        (inv.agent_code, inv.cop_no): inv
        for inv in session.scalars(_STORED_LISTS, {"direction": spec.direction.value, "keys": keys})
    }
    outcomes: list[_Outcome] = []
    new: list[tuple[CebEntity, dict[str, Any], list[dict[str, Any]], Inventory | None]] = []
    seen: set[tuple[str, str]] = set()
    for (entity, _), key in zip(entities, keys, strict=True):
        current = existing.get(key)
        try:
            if key in seen:
                raise Refusal(codes.INVENTORY.exists, f"清单[{key[1]}]在同一报文中重复")
            seen.add(key)
            app_time = parse_app_time(entity.head["appTime"])
            _check_operation(spec, entity.head.get("appType", ""), current, app_time, key[1])
            if entity.head["appType"] == "3":
                assert current is not None  # noqa: S101 - refused above otherwise
                session.delete(current)
                outcomes.append(_list_outcome(entity, current, ReturnStatus.STAGED, "删除成功"))
                continue
            head_row, lines = _inventory_rows(spec, entity)
        except Refusal as refusal:
            if current is not None:
                outcomes.append(_list_outcome(entity, current, refusal.code, refusal.info))
            else:
                outcomes.append(_Outcome(entity, refusal.code, refusal.info, {}))
            continue
        new.append((entity, head_row, lines, current))
    outcomes.extend(_store_inventories(session, spec, new, sender, message_id, now, match_wait))
    return outcomes


def _store_inventories(
    session: Session,
    spec: MessageSpec,
    new: list[tuple[CebEntity, dict[str, Any], list[dict[str, Any]], Inventory | None]],
    sender: str,
    message_id: UUID,
    now: datetime,
    match_wait: timedelta,
) -> list[_Outcome]:
    if not new:
        return []
    replaced = [current.id for *_, current in new if current is not None]
    if replaced:
        session.execute(delete(InventoryLine).where(InventoryLine.inventory_id.in_(replaced)))
    reserved = iter(numbers.reserve_lists(session, len(new) - len(replaced)))
    invt_serials: dict[int, int] = {}
    created: list[Inventory] = []
    stored: list[tuple[CebEntity, Inventory, list[InventoryLine]]] = []
    for entity, head_row, line_rows, current in new:
        declared = _declared_status(head_row["head"]) is ReturnStatus.ACCEPTED
        values = {
            **head_row,
            **_UNDECIDED,
            "status": int(ReturnStatus.DECLARING if declared else ReturnStatus.STAGED),
            "status_at": now,
            "sender_code": sender,
            "message_id": message_id,
            "updated_at": now,
        }
        if current is None:
            numbered = next(reserved)
            inventory = Inventory(
                **values,
                id=numbered.inventory_id,
                pre_no=numbers.pre_no(numbered.pre_serial, now),
                created_at=now,
            )
            invt_serials[inventory.id] = numbered.invt_serial
            created.append(inventory)
        else:
            # A resubmitted staged or rejected list is the same list: it keeps its row (and
            # so its history of decisions) and the number the window gave it.
            inventory = current
            for name, value in values.items():
                setattr(inventory, name, value)
        lines = [InventoryLine(**row, inventory_id=inventory.id) for row in line_rows]
        stored.append((entity, inventory, lines))
    outcomes: list[_Outcome] = []
    declared_lists: list[tuple[Inventory, list[InventoryLine]]] = []
    for entity, inventory, lines in stored:
        if inventory.status == ReturnStatus.STAGED:
            outcomes.append(_list_outcome(entity, inventory, ReturnStatus.STAGED, "暂存"))
        else:
            declared_lists.append((inventory, lines))
    # The lists are judged before they are stored: each goes into the database once, at its
    # final status, and the whole message's lists in one executemany.
    with session.no_autoflush:
        waiting = settle_many(
            session, spec.direction.value, declared_lists, at=now, serials=invt_serials
        )
        for inventory in waiting:
            inventory.match_deadline = now + match_wait
            lifecycle.issue_list_receipt(
                session, inventory, ReturnStatus.DECLARING, "申报中: 等待三单对碰", now
            )
    # New lists and all lines go into the row buffer, never through the session: their ids
    # are reserved, their values final, and nothing later in the request changes them. On
    # PostgreSQL they then share one statement with the receipts, audit entries and events
    # (bench/README.md, "Session 4"). Resubmitted lists are the session's and flush at commit,
    # before the buffer, like anything else judging added; none of that refers to a new list
    # (app.rowbuffer: an object must not name a buffered row).
    for inventory in created:
        rowbuffer.add(
            session,
            Inventory,
            {column: getattr(inventory, column) for column in _INVENTORY_COLUMNS},
        )
    for _, _, lines in stored:
        for line in lines:
            rowbuffer.add(
                session, InventoryLine, {column: getattr(line, column) for column in _LINE_COLUMNS}
            )
    return outcomes


# What customs has not decided about a list yet, named so that every list of a message is
# inserted with the same columns (one executemany).
_UNDECIDED: dict[str, Any] = {
    "invt_no": None,
    "lane": None,
    "match_deadline": None,
    "sla_deadline": None,
    "inspection_state": "pending",
    "claimed_by": None,
    "claimed_at": None,
    "quota_charged": None,
    "customs_tax": None,
    "vat": None,
    "consumption_tax": None,
    "full_tax": False,
    "released_at": None,
}
_INVENTORY_TABLE = cast(Table, Inventory.__table__)
_INVENTORY_COLUMNS = [c.key for c in _INVENTORY_TABLE.columns]
_LINE_TABLE = cast(Table, InventoryLine.__table__)
_LINE_COLUMNS = [c.key for c in InventoryLine.__table__.columns if c.key != "id"]


def _list_outcome(entity: CebEntity, inventory: Inventory, status: int, info: str) -> _Outcome:
    return _Outcome(
        entity,
        status,
        info,
        {"preNo": inventory.pre_no, "invtNo": inventory.invt_no or ""},
        list_doc_key(inventory.direction, inventory.agent_code, inventory.cop_no),
    )


def settle(
    session: Session, inventory: Inventory, lines: Sequence[InventoryLine], *, at: datetime
) -> bool:
    """三单对碰 for one declared list: accept, reject on a difference, or leave it waiting."""
    return not settle_many(session, inventory.direction, [(inventory, lines)], at=at)


def settle_many(
    session: Session,
    direction: str,
    lists: Sequence[tuple[Inventory, Sequence[InventoryLine]]],
    *,
    at: datetime,
    serials: Mapping[int, int] | None = None,
) -> list[Inventory]:
    """三单对碰 for a batch of declared lists; returns those still waiting for a partner.

    ``serials`` are invtNo serials reserved for some of the lists (by inventory id).
    """
    if not lists:
        return []
    partners = matching.Partners.load(session, direction, [inventory for inventory, _ in lists])
    waiting: list[Inventory] = []
    accepted: list[tuple[Inventory, Sequence[InventoryLine]]] = []
    for inventory, lines in lists:
        result = matching.match(session, inventory, lines, partners)
        if not result.complete:
            waiting.append(inventory)
        elif not result.agrees:
            lifecycle.transition(
                session,
                inventory,
                ReturnStatus.REJECTED,
                actor="system",
                reason="三单对碰不一致",
                info="三单对碰不一致: " + "; ".join(result.differences),
                at=at,
            )
        else:
            accepted.append((inventory, lines))
    reserved = serials or {}
    fresh = iter(numbers.allocate(session, sum(i.id not in reserved for i, _ in accepted)))
    for inventory, lines in accepted:
        serial = reserved[inventory.id] if inventory.id in reserved else next(fresh)
        lifecycle.accept(session, inventory, lines, at=at, serial=serial)
    return waiting


def rematch_waiting(
    session: Session, *, kind: DocKind, direction: str, head: Mapping[str, str], at: datetime
) -> None:
    """A partner document was declared: the lists waiting for it try the match again."""
    query = select(Inventory).where(
        Inventory.direction == direction, Inventory.status == int(ReturnStatus.DECLARING)
    )
    if kind is DocKind.LOGISTICS:
        query = query.where(
            Inventory.logistics_code == head.get("logisticsCode"),
            Inventory.logistics_no == head.get("logisticsNo"),
        )
    elif kind in (DocKind.ORDER, DocKind.PAYMENT):
        query = query.where(
            Inventory.ebp_code == head.get("ebpCode"), Inventory.order_no == head.get("orderNo")
        )
    else:
        return
    for inventory in session.scalars(query.with_for_update()).all():
        if settle(session, inventory, lifecycle.lines_of(session, inventory), at=at):
            inventory.match_deadline = None
