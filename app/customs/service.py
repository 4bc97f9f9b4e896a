"""Customs use cases: lanes, joint release, officers' decisions, rules, what others may read."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app import audit
from app.auth import Agency, Caller, PrincipalKind
from app.customs import lifecycle, matching
from app.customs.lifecycle import DETAINED, S
from app.customs.models import Decision, Document, Inventory, InventoryLine, RuleSet
from app.customs.receipting import list_doc_key
from app.customs.risk import DEFAULT_RULES, Assessment, Facts, Lane, RuleSetBody, assess
from app.customs.schemas import (
    BacktestResult,
    DecisionAction,
    DecisionCreate,
    TimelineEntry,
    TradeListRead,
)
from app.errors import Conflict, Forbidden, NotFound
from app.receipts import service as receipts_service
from app.registry import service as registry_service

QUEUE_STATUSES = (S.REVIEW, S.INSPECTION, *DETAINED)
_DETAIN_CODES = {int(code) for code in DETAINED}


class InventoryNotFound(NotFound):
    pass


class ClaimedByAnother(Conflict):
    pass


# ---------------------------------------------------------------- reading lists


def find_inventory(session: Session, *, key: str, for_update: bool = False) -> Inventory:
    """A list by its invtNo, preNo or copNo."""
    query = select(Inventory).where(
        or_(Inventory.invt_no == key, Inventory.pre_no == key, Inventory.cop_no == key)
    )
    if for_update:
        query = query.with_for_update()
    inventory = session.scalars(query.limit(1)).first()
    if inventory is None:
        raise InventoryNotFound(f"no inventory list {key}")
    return inventory


def visible_inventory(session: Session, *, key: str, caller: Caller) -> Inventory:
    """A list the caller may see: a party's own, or one within an officer's customs codes."""
    inventory = find_inventory(session, key=key)
    if not _may_see(caller, inventory):
        raise InventoryNotFound(f"no inventory list {key}")
    return inventory


def _may_see(caller: Caller, inventory: Inventory) -> bool:
    if caller.is_admin:
        return True
    if caller.kind is PrincipalKind.OFFICER:
        return inventory.customs_code in caller.customs_codes
    if caller.kind is PrincipalKind.ENTERPRISE:
        return caller.enterprise_code in (
            inventory.agent_code,
            inventory.ebc_code,
            inventory.sender_code,
        )
    return False


def timeline(session: Session, *, inventory: Inventory, caller: Caller) -> list[TimelineEntry]:
    """Receipts and decisions in time order; enterprises never see internal reasons."""
    entries = [
        TimelineEntry(
            at=r.returned_at, source="receipt", status=r.return_status, info=r.return_info
        )
        for r in receipts_service.for_document(
            session,
            doc_key=list_doc_key(inventory.direction, inventory.agent_code, inventory.cop_no),
        )
    ]
    officer_view = caller.kind is PrincipalKind.OFFICER or caller.is_admin
    for decision in session.scalars(
        select(Decision).where(Decision.inventory_id == inventory.id).order_by(Decision.id)
    ):
        if decision.internal and not officer_view:
            continue
        detail = decision.reason
        if officer_view:
            detail += f" [actor {decision.actor}; rules {','.join(decision.rule_ids) or '-'}"
            if decision.rule_version is not None:
                detail += f" v{decision.rule_version}"
            if decision.seed:
                detail += f"; seed {decision.seed}"
            detail += "]"
        entries.append(
            TimelineEntry(
                at=decision.at,
                source=f"{decision.agency}:{decision.action}",
                status=decision.to_status,
                info=detail,
            )
        )
    return sorted(entries, key=lambda e: e.at)


def buyer_detail(session: Session, *, inventory: Inventory, officer: Caller) -> dict[str, Any]:
    """The buyer's personal data of one list, for an officer; every look is audited."""
    head = inventory.head
    audit.record(
        session,
        actor=audit.actor_of(officer),
        action="inventory.personal_data_viewed",
        subject_type="inventory",
        subject_id=inventory.invt_no or inventory.pre_no,
        detail={"fields": ["buyerIdNumber", "buyerName", "buyerTelephone", "consigneeAddress"]},
    )
    return {
        "buyer_id_type": head.get("buyerIdType"),
        "buyer_id_number": head.get("buyerIdNumber"),
        "buyer_name": head.get("buyerName"),
        "buyer_telephone": head.get("buyerTelephone"),
        "consignee_address": head.get("consigneeAddress"),
    }


def list_inventories(
    session: Session,
    *,
    caller: Caller,
    status: int | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[Inventory]:
    """The caller's lists (enterprise) or its district's lists (officer), newest first."""
    query = select(Inventory).order_by(Inventory.id.desc()).limit(limit)
    if after_id:
        query = query.where(Inventory.id < after_id)
    if status is not None:
        query = query.where(Inventory.status == status)
    if caller.kind is PrincipalKind.ENTERPRISE:
        code = caller.enterprise_code
        query = query.where(or_(Inventory.agent_code == code, Inventory.ebc_code == code))
    elif caller.kind is PrincipalKind.OFFICER:
        query = query.where(Inventory.customs_code.in_(caller.customs_codes))
    elif not caller.is_admin:
        raise Forbidden("banks read trade lists through /forex")
    return session.scalars(query).all()


# ---------------------------------------------------------------- lanes and joint release


def current_rules(session: Session) -> tuple[int, RuleSetBody]:
    """The rule set in force: the newest version, or the built-in defaults (version 0)."""
    row = session.scalars(select(RuleSet).order_by(RuleSet.version.desc()).limit(1)).first()
    if row is None:
        return 0, DEFAULT_RULES
    return row.version, RuleSetBody.model_validate(row.rules)


def replace_rules(session: Session, *, body: RuleSetBody, actor: str) -> int:
    """Store a new version of the rules; it applies to lists accepted from now on."""
    version = (session.scalar(select(func.max(RuleSet.version))) or 0) + 1
    session.add(RuleSet(version=version, rules=body.model_dump(mode="json"), created_by=actor))
    audit.record(
        session,
        actor=actor,
        action="risk_rules.replaced",
        subject_type="rule_set",
        subject_id=str(version),
        detail=body.model_dump(mode="json"),
    )
    return version


def _facts(
    session: Session, inventory: Inventory, lines: Sequence[InventoryLine], at: datetime
) -> Facts:
    enterprise = registry_service.get_enterprise(session, code=inventory.ebc_code)
    day_ago = at - timedelta(hours=24)
    per_buyer = 0
    if inventory.buyer_id_number:
        per_buyer = (
            session.scalar(
                select(func.count()).where(
                    Inventory.buyer_id_number == inventory.buyer_id_number,
                    Inventory.created_at >= day_ago,
                )
            )
            or 0
        )
    per_ebc = (
        session.scalar(
            select(func.count()).where(
                Inventory.ebc_code == inventory.ebc_code, Inventory.created_at >= day_ago
            )
        )
        or 0
    )
    head: dict[str, Any] = {
        "direction": inventory.direction,
        "customs_code": inventory.customs_code,
        "country": inventory.country,
        "trade_mode": inventory.trade_mode,
        "goods_value": str(inventory.goods_value),
        "ebc_code": inventory.ebc_code,
        "credit_class": enterprise.credit_class,
        "enterprise_age_days": (at - enterprise.created_at).days,
        "lists_per_buyer_24h": per_buyer,
        "lists_per_ebc_24h": per_ebc,
    }
    facts_lines = [
        {
            "gcode": line.gcode,
            "line_country": line.country,
            "unit_value": str(line.price),
        }
        for line in lines
    ]
    return Facts(head, facts_lines)


def _realized(session: Session, customs_code: str, since: datetime):  # type: ignore[no-untyped-def]
    def share(lane: Lane) -> Decimal:
        rows = dict(
            session.execute(
                select(Decision.lane, func.count())
                .join(Inventory, Inventory.id == Decision.inventory_id)
                .where(
                    Decision.action == "lane",
                    Decision.at >= since,
                    Inventory.customs_code == customs_code,
                )
                .group_by(Decision.lane)
            ).all()
        )
        total = sum(rows.values())
        return Decimal(rows.get(lane.value, 0)) / total if total else Decimal(0)

    return share


def assign_lane(session: Session, *, inventory_id: int, event_id: UUID, at: datetime) -> None:
    """The risk engine chooses the lane of an accepted list and moves it accordingly."""
    inventory = session.get(Inventory, inventory_id, with_for_update=True)
    if inventory is None or inventory.status != S.ACCEPTED or inventory.lane is not None:
        return
    lines = lifecycle.lines_of(session, inventory)
    version, rules = current_rules(session)
    assessment = assess(
        rules,
        _facts(session, inventory, lines, at),
        key=inventory.invt_no or inventory.pre_no,
        realized=_realized(session, inventory.customs_code, at - timedelta(days=1)),
    )
    _apply_lane(session, inventory, assessment, version=version, event_id=event_id, at=at)


def _apply_lane(
    session: Session,
    inventory: Inventory,
    assessment: Assessment,
    *,
    version: int,
    event_id: UUID | None,
    at: datetime,
) -> None:
    before = inventory.status
    inventory.lane = assessment.lane.value
    if assessment.lane in (Lane.GREEN, Lane.BLUE):
        lifecycle.transition(
            session, inventory, S.CONCLUDED, actor="system:risk", reason=assessment.reason, at=at
        )
    elif assessment.lane is Lane.YELLOW:
        lifecycle.transition(
            session, inventory, S.REVIEW, actor="system:risk", reason=assessment.reason, at=at
        )
    else:
        lifecycle.transition(
            session, inventory, S.INSPECTION, actor="system:risk", reason=assessment.reason, at=at
        )
    decision = lifecycle.record_decision(
        session,
        inventory,
        agency="customs",
        action="lane",
        from_status=before,
        actor="system:risk",
        reason=assessment.reason,
        at=at,
        lane=assessment.lane.value,
        rule_ids=assessment.rule_ids,
        rule_version=version,
        seed=assessment.seed,
        inputs_hash=assessment.inputs_hash,
    )
    decision.source_event_id = event_id
    lifecycle.release_if_cleared(session, inventory, actor="system:risk", at=at)


def inspection_verdict(
    session: Session,
    *,
    inventory_id: int,
    verdict: str,
    reason: str,
    disposal: str | None,
    event_id: UUID,
    at: datetime,
) -> None:
    """Inspection cleared, held or refused a list: customs releases, waits, returns or rejects."""
    inventory = session.get(Inventory, inventory_id, with_for_update=True)
    if inventory is None:
        return
    before = inventory.status
    if verdict == "cleared":
        inventory.inspection_state = "cleared"
        lifecycle.release_if_cleared(session, inventory, actor="system:inspection", at=at)
    elif verdict == "held":
        inventory.inspection_state = "held"
    else:
        inventory.inspection_state = "failed"
        target = S.RETURNED if disposal == "return" else S.REJECTED
        if target in lifecycle.TRANSITIONS.get(inventory.status, frozenset()):
            lifecycle.transition(
                session,
                inventory,
                target,
                actor="system:inspection",
                reason=reason,
                info=f"检验检疫: {reason}",
                at=at,
            )
    decision = lifecycle.record_decision(
        session,
        inventory,
        agency="inspection",
        action=verdict,
        from_status=before,
        actor="system:inspection",
        reason=reason,
        at=at,
        internal=verdict != "failed",
    )
    decision.source_event_id = event_id


# ---------------------------------------------------------------- officers


def queue(
    session: Session,
    *,
    officer: Caller,
    lane: str | None = None,
    customs_code: str | None = None,
    status: int | None = None,
    limit: int = 100,
) -> Sequence[Inventory]:
    """Lists waiting for an officer in the caller's customs codes, earliest deadline first."""
    officer.require_officer(Agency.CUSTOMS, customs_code)
    codes = [customs_code] if customs_code else sorted(officer.customs_codes)
    query = (
        select(Inventory)
        .where(
            Inventory.customs_code.in_(codes),
            Inventory.status.in_([int(s) for s in QUEUE_STATUSES] if status is None else [status]),
        )
        .order_by(Inventory.sla_deadline.is_(None), Inventory.sla_deadline, Inventory.status_at)
        .limit(limit)
    )
    if lane:
        query = query.where(Inventory.lane == lane)
    return session.scalars(query).all()


def claim(session: Session, *, key: str, officer: Caller, minutes: int, at: datetime) -> Inventory:
    """Take a list to work on; no other officer can decide on it while the claim lasts."""
    inventory = find_inventory(session, key=key)
    officer.require_officer(Agency.CUSTOMS, inventory.customs_code)
    lapsed = at - timedelta(minutes=minutes)
    result = session.execute(
        update(Inventory)
        .where(
            Inventory.id == inventory.id,
            or_(
                Inventory.claimed_by.is_(None),
                Inventory.claimed_by == officer.principal_id,
                Inventory.claimed_at < lapsed,
            ),
        )
        .values(claimed_by=officer.principal_id, claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise ClaimedByAnother(f"list {key} is being worked by another officer")
    session.refresh(inventory)
    return inventory


def unclaim(session: Session, *, key: str, officer: Caller) -> Inventory:
    """Give a claimed list back to the queue."""
    inventory = find_inventory(session, key=key, for_update=True)
    officer.require_officer(Agency.CUSTOMS, inventory.customs_code)
    if inventory.claimed_by not in (None, officer.principal_id):
        raise ClaimedByAnother(f"list {key} is claimed by another officer")
    inventory.claimed_by = None
    inventory.claimed_at = None
    return inventory


_ACTION_TARGET = {
    DecisionAction.REJECT: S.REJECTED,
    DecisionAction.REVIEW: S.REVIEW,
    DecisionAction.INSPECT: S.INSPECTION,
    DecisionAction.RETURN: S.RETURNED,
}


def decide(
    session: Session,
    *,
    key: str,
    officer: Caller,
    data: DecisionCreate,
    claim_minutes: int,
    at: datetime,
) -> Inventory:
    """An officer's decision on a list, with its mandatory reason, recorded and audited."""
    inventory = find_inventory(session, key=key, for_update=True)
    officer.require_officer(Agency.CUSTOMS, inventory.customs_code)
    lapsed = at - timedelta(minutes=claim_minutes)
    if (
        inventory.claimed_by not in (None, officer.principal_id)
        and inventory.claimed_at is not None
        and inventory.claimed_at >= lapsed
    ):
        raise ClaimedByAnother(f"list {key} is being worked by another officer")
    actor = audit.actor_of(officer)
    before = inventory.status
    info: str | None = None
    if data.action is DecisionAction.RELEASE:
        if inventory.status != S.CONCLUDED:
            lifecycle.transition(
                session, inventory, S.CONCLUDED, actor=actor, reason=data.reason, at=at
            )
        if not lifecycle.release_if_cleared(session, inventory, actor=actor, at=at):
            info = "inspection has not cleared the list yet"
    elif data.action is DecisionAction.DETAIN:
        lifecycle.transition(
            session,
            inventory,
            data.detain_code or S.DETAINED_OTHER,
            actor=actor,
            reason=data.reason,
            at=at,
        )
    elif data.action is DecisionAction.REROUTE:
        assert data.lane is not None  # noqa: S101 - the schema requires a lane for reroute
        target = {
            Lane.GREEN: S.CONCLUDED,
            Lane.BLUE: S.CONCLUDED,
            Lane.YELLOW: S.REVIEW,
            Lane.RED: S.INSPECTION,
        }[data.lane]
        inventory.lane = data.lane.value
        if inventory.status != target:
            lifecycle.transition(session, inventory, target, actor=actor, reason=data.reason, at=at)
        lifecycle.release_if_cleared(session, inventory, actor=actor, at=at)
    else:
        target = _ACTION_TARGET[data.action]
        lifecycle.transition(
            session,
            inventory,
            target,
            actor=actor,
            reason=data.reason,
            at=at,
            info=data.reason if target in (S.REJECTED, S.RETURNED) else None,
        )
    lifecycle.record_decision(
        session,
        inventory,
        agency="customs",
        action=data.action.value,
        from_status=before,
        actor=actor,
        reason=data.reason + (f" ({info})" if info else ""),
        at=at,
        lane=data.lane.value if data.lane else None,
        internal=data.action not in (DecisionAction.REJECT, DecisionAction.RETURN),
    )
    inventory.claimed_by = None
    inventory.claimed_at = None
    return inventory


# ---------------------------------------------------------------- back-testing


def backtest(
    session: Session, *, body: RuleSetBody, start: datetime, end: datetime, sample: int = 20
) -> BacktestResult:
    """What a candidate rule set would have done to the lists accepted in [start, end).

    Reads only: the stored seed of each list's original lane decision is reused, so the
    random part of the comparison is the same draw the list really had.
    """
    lists = session.scalars(
        select(Inventory)
        .where(
            Inventory.invt_no.is_not(None),
            Inventory.created_at >= start,
            Inventory.created_at < end,
        )
        .order_by(Inventory.id)
    ).all()
    seeds = (
        dict(
            session.execute(
                select(Decision.inventory_id, Decision.seed).where(
                    Decision.action == "lane",
                    Decision.inventory_id.in_([inv.id for inv in lists]),
                )
            ).all()
        )
        if lists
        else {}
    )
    would: dict[str, int] = {lane.value: 0 for lane in Lane}
    actual: dict[str, int] = {lane.value: 0 for lane in Lane}
    changed: list[dict[str, str]] = []
    by_rule: dict[str, int] = {}
    for inventory in lists:
        assessment = assess(
            body,
            _facts(
                session, inventory, lifecycle.lines_of(session, inventory), inventory.created_at
            ),
            key=inventory.invt_no or inventory.pre_no,
            seed=seeds.get(inventory.id) or inventory.pre_no,
        )
        would[assessment.lane.value] += 1
        if inventory.lane:
            actual[inventory.lane] += 1
        for rule_id in assessment.rule_ids:
            by_rule[rule_id] = by_rule.get(rule_id, 0) + 1
        if inventory.lane and inventory.lane != assessment.lane.value and len(changed) < sample:
            changed.append(
                {
                    "invt_no": inventory.invt_no or "",
                    "actual": inventory.lane,
                    "would": assessment.lane.value,
                    "reason": assessment.reason,
                }
            )
    return BacktestResult(
        lists=len(lists),
        would_hold=would,
        actually_held=actual,
        hits_by_rule=by_rule,
        changed_sample=changed,
    )


# ---------------------------------------------------------------- jobs


def expire_waiting(session: Session, *, now: datetime) -> int:
    """Lists still missing a partner after their wait are rejected, naming what is missing."""
    expired = session.scalars(
        select(Inventory)
        .where(Inventory.status == int(S.DECLARING), Inventory.match_deadline < now)
        .with_for_update(skip_locked=True)
        .limit(500)
    ).all()
    for inventory in expired:
        result = matching.match(session, inventory, lifecycle.lines_of(session, inventory))
        missing = ", ".join(result.missing) or "partner documents"
        lifecycle.transition(
            session,
            inventory,
            S.REJECTED,
            actor="system",
            reason="三单对碰超时",
            info=f"三单对碰超时，缺少: {missing}",
            at=now,
        )
        inventory.match_deadline = None
    return len(expired)


# ---------------------------------------------------------------- what forex may read


RELEASED = (int(S.RELEASED), int(S.CLOSED))


def trade_list(session: Session, *, invt_no: str) -> TradeListRead | None:
    """A list with its lines and money documents, as banks' checks need it (any status)."""
    inventory = session.scalars(select(Inventory).where(Inventory.invt_no == invt_no)).first()
    return None if inventory is None else _trade_lists(session, [inventory])[0]


def released_trade_lists(
    session: Session,
    *,
    ebc_codes: Sequence[str],
    direction: str | None = None,
    released_from: datetime | None = None,
    released_to: datetime | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[TradeListRead]:
    """Released (800) or closed (899) lists of these enterprises, in the order customs took
    them in (a stable cursor for paging)."""
    query = (
        select(Inventory)
        .where(
            Inventory.ebc_code.in_(ebc_codes),
            Inventory.status.in_(RELEASED),
            Inventory.id > after_id,
        )
        .order_by(Inventory.id)
        .limit(limit)
    )
    if direction:
        query = query.where(Inventory.direction == direction)
    if released_from:
        query = query.where(Inventory.released_at >= released_from)
    if released_to:
        query = query.where(Inventory.released_at < released_to)
    return _trade_lists(session, list(session.scalars(query)))


def _trade_lists(session: Session, inventories: Sequence[Inventory]) -> list[TradeListRead]:
    """Each list with its order, money documents and lines: three queries for the page."""
    if not inventories:
        return []
    order_keys = {f"{i.ebp_code}|{i.order_no}" for i in inventories}
    payments: dict[tuple[str, str], list[Document]] = defaultdict(list)
    orders: dict[tuple[str, str], Document] = {}
    for document in session.scalars(
        select(Document)
        .where(
            or_(
                (Document.kind == "payment") & Document.ref_key.in_(order_keys),
                (Document.kind == "order") & Document.business_key.in_(order_keys),
            )
        )
        .order_by(Document.id)
    ):
        if document.kind == "payment":
            payments[(document.direction, document.ref_key or "")].append(document)
        else:
            orders.setdefault((document.direction, document.business_key), document)
    lines: dict[int, list[InventoryLine]] = defaultdict(list)
    for line in session.scalars(
        select(InventoryLine)
        .where(InventoryLine.inventory_id.in_([i.id for i in inventories]))
        .order_by(InventoryLine.inventory_id, InventoryLine.gnum)
    ):
        lines[line.inventory_id].append(line)
    return [
        _trade_list(
            inventory,
            orders.get((inventory.direction, f"{inventory.ebp_code}|{inventory.order_no}")),
            payments[(inventory.direction, f"{inventory.ebp_code}|{inventory.order_no}")],
            lines[inventory.id],
        )
        for inventory in inventories
    ]


def _trade_list(
    inventory: Inventory,
    order: Document | None,
    money: Sequence[Document],
    lines: Sequence[InventoryLine],
) -> TradeListRead:
    return TradeListRead.model_validate(
        {
            "id": inventory.id,
            "invt_no": inventory.invt_no,
            "direction": inventory.direction,
            "status": inventory.status,
            "ebc_code": inventory.ebc_code,
            "ebp_code": inventory.ebp_code,
            "agent_code": inventory.agent_code,
            "order_no": inventory.order_no,
            "customs_code": inventory.customs_code,
            "currency": inventory.currency,
            "goods_value": inventory.goods_value,
            "freight": inventory.freight,
            "insured_fee": inventory.insured_fee,
            "released_at": inventory.released_at,
            "buyer_id_number": inventory.buyer_id_number,
            "lines": [
                {
                    "gnum": line.gnum,
                    "gcode": line.gcode,
                    "gname": line.gname,
                    "currency": line.currency,
                    "total_price": line.total_price,
                }
                for line in lines
            ],
            "order": order.head if order else None,
            "payments": [doc.head for doc in money],
        }
    )


# ---------------------------------------------------------------- what the SLA clock sets


def set_sla_deadline(session: Session, *, inventory_id: int, deadline: datetime) -> None:
    """The queue is worked earliest SLA deadline first; a deadline only ever moves later (a
    clock restarted when the goods arrive), so a stale event arriving late changes nothing."""
    session.execute(
        update(Inventory)
        .where(
            Inventory.id == inventory_id,
            or_(Inventory.sla_deadline.is_(None), Inventory.sla_deadline < deadline),
        )
        .values(sla_deadline=deadline)
    )
