"""The life of an inventory list on the standard's status codes, and its joint release.

Every transition writes, in the caller's transaction, a receipt for the declaring
enterprise, an audit entry (actor, reason, before/after) and an InventoryStatusChanged event.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, outbox
from app.ceb.codes import STATUS_TEXT, ReturnStatus
from app.ceb.times import CHINA
from app.customs import numbers, taxes
from app.customs.events import InventoryAccepted, InventoryLineFacts, InventoryStatusChanged
from app.customs.models import Decision, Inventory, InventoryLine
from app.customs.receipting import LIST_SPECS, draft, list_doc_key
from app.errors import Conflict
from app.receipts import service as receipts_service
from app.receipts.schemas import ReceiptDraft

S = ReturnStatus
# The window's own mark for a list withdrawn by an approved cancel (605/623); the standard
# has no list status for it (the cancel's own receipt carries the standard's codes).
CANCELLED = 1001
DETAINED = frozenset(
    {S.DETAINED_CLEARANCE, S.DETAINED_ANTI_SMUGGLING, S.DETAINED_LEGAL, S.DETAINED_OTHER}
)
_HELD = frozenset({S.REVIEW, S.INSPECTION, *DETAINED})

TRANSITIONS: dict[int, frozenset[int]] = {
    S.DECLARING: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.REVIEW, S.INSPECTION, S.CONCLUDED, S.REJECTED, CANCELLED, *DETAINED}),
    S.REVIEW: frozenset({S.INSPECTION, S.CONCLUDED, S.REJECTED, S.RETURNED, CANCELLED, *DETAINED}),
    S.INSPECTION: frozenset({S.CONCLUDED, S.REJECTED, S.RETURNED, *DETAINED}),
    **{d: frozenset({S.CONCLUDED, S.INSPECTION, S.REJECTED, S.RETURNED}) for d in DETAINED},
    # Concluded by customs but held by inspection: inspection's verdict still decides.
    S.CONCLUDED: frozenset({S.RELEASED, S.REJECTED, S.RETURNED, S.INSPECTION, CANCELLED}),
    S.RELEASED: frozenset({S.CLOSED, CANCELLED}),
}
STATUS_INFO = {
    **{int(k): v for k, v in STATUS_TEXT.items()},
    CANCELLED: "撤单",
    int(S.RETURNED): "退运",
    **{int(d): "扣留" for d in DETAINED},
}


class IllegalTransition(Conflict):
    pass


def transition(
    session: Session,
    inventory: Inventory,
    to: int,
    *,
    actor: str,
    reason: str,
    at: datetime,
    info: str | None = None,
) -> None:
    """Move a list to ``to`` if the state machine allows it; receipt, audit and event follow."""
    before = inventory.status
    if to not in TRANSITIONS.get(before, frozenset()):
        raise IllegalTransition(
            f"list {inventory.invt_no or inventory.pre_no} cannot go from {before} to {to}"
        )
    inventory.status = to
    inventory.status_at = at
    if to == S.RELEASED:
        inventory.released_at = at
    inventory.claimed_by = None
    inventory.claimed_at = None
    if to in (S.REJECTED, S.RETURNED, CANCELLED) and inventory.quota_charged is not None:
        _give_back_quota(session, inventory)
    issue_list_receipt(session, inventory, to, info or STATUS_INFO.get(to, str(to)), at)
    audit.record(
        session,
        actor=actor,
        action="inventory.status",
        subject_type="inventory",
        subject_id=inventory.invt_no or inventory.pre_no,
        detail={"before": before, "after": to, "reason": reason},
        at=at,
    )
    if to == S.RELEASED and inventory.direction == "I":
        issue_tax_bill(session, inventory, at)
    outbox.publish(
        session,
        InventoryStatusChanged.trusted(
            inventory_id=inventory.id,
            invt_no=inventory.invt_no,
            direction=inventory.direction,
            customs_code=inventory.customs_code,
            ebc_code=inventory.ebc_code,
            from_status=before,
            to_status=to,
            changed_at=at,
            reason=reason,
        ),
    )


def _give_back_quota(session: Session, inventory: Inventory) -> None:
    """A list that is not imported after all returns what it took of the buyer's year."""
    if inventory.quota_charged is None or inventory.invt_no is None:
        return
    taxes.restore_quota(
        session,
        buyer=inventory.buyer_id_number or "",
        # The invtNo carries the year of acceptance (customs code, year, I/E, serial).
        year=int(inventory.invt_no[4:8]),
        amount=inventory.quota_charged,
    )
    inventory.quota_charged = None


def issue_tax_bill(session: Session, inventory: Inventory, at: datetime) -> None:
    """The electronic tax bill (CEB816, status 1 generated) of a released import list."""
    lines = lines_of(session, inventory)
    dutiable = taxes.dutiable_values(
        [line.total_price for line in lines], inventory.freight, inventory.insured_fee
    )
    head = {
        "guid": str(uuid.uuid4()).upper(),
        "invtNo": inventory.invt_no or "",
        "taxNo": f"{inventory.invt_no}T",
        "customsTax": str(inventory.customs_tax or 0),
        "valueAddedTax": str(inventory.vat or 0),
        "consumptionTax": str(inventory.consumption_tax or 0),
        "status": "1",
        "assureCode": inventory.head.get("assureCode", ""),
        "ebcCode": inventory.ebc_code,
        "logisticsCode": inventory.logistics_code,
        "agentCode": inventory.agent_code,
        "customsCode": inventory.customs_code,
    }
    tax_lines = [
        {
            "gnum": str(line.gnum),
            "gcode": line.gcode,
            "taxPrice": str(taxes.round_fen(base)),
            "customsTax": str(line.customs_tax or 0),
            "valueAddedTax": str(line.vat or 0),
            "consumptionTax": str(line.consumption_tax or 0),
        }
        for line, base in zip(lines, dutiable, strict=True)
    ]
    recipients = {inventory.sender_code, inventory.head.get("assureCode") or inventory.sender_code}
    receipts_service.issue(
        session,
        drafts=[
            ReceiptDraft(
                recipient_code=recipient,
                message_type="CEB816",
                doc_kind="tax",
                doc_key=f"I:tax:{inventory.invt_no}",
                return_status=1,
                return_info="电子税单已生成",
                fields={"head": head, "lines": tax_lines},
            )
            for recipient in sorted(recipients)
        ],
        at=at,
    )


def issue_list_receipt(
    session: Session, inventory: Inventory, status: int, info: str, at: datetime
) -> None:
    spec = LIST_SPECS[inventory.direction]
    receipts_service.issue(
        session,
        drafts=[
            draft(
                spec,
                inventory.head,
                recipient=inventory.sender_code,
                status=status,
                info=info,
                extra={
                    "preNo": inventory.pre_no,
                    "invtNo": inventory.invt_no or "",
                    "copNo": inventory.head.get("copNo", ""),
                },
                doc_key=list_doc_key(inventory.direction, inventory.agent_code, inventory.cop_no),
            )
        ],
        at=at,
    )


def record_decision(
    session: Session,
    inventory: Inventory,
    *,
    agency: str,
    action: str,
    from_status: int,
    actor: str,
    reason: str,
    at: datetime,
    lane: str | None = None,
    rule_ids: Sequence[str] = (),
    rule_version: int | None = None,
    seed: str | None = None,
    inputs_hash: str | None = None,
    internal: bool = True,
) -> Decision:
    decision = Decision(
        inventory_id=inventory.id,
        agency=agency,
        action=action,
        lane=lane,
        from_status=from_status,
        to_status=inventory.status,
        rule_ids=list(rule_ids),
        rule_version=rule_version,
        seed=seed,
        inputs_hash=inputs_hash,
        actor=actor,
        reason=reason[:1000],
        internal=internal,
        at=at,
    )
    session.add(decision)
    return decision


def accept(
    session: Session,
    inventory: Inventory,
    lines: Sequence[InventoryLine],
    *,
    at: datetime,
    serial: int,
) -> int | None:
    """Customs accepts a matched list (2 → 120): invtNo, import quota and tax, an event.

    ``serial`` is the list's invtNo serial, allocated by the caller for a whole batch.

    Returns a negative receipt code when an import limit refuses the list (it is then
    rejected and can be corrected and declared again), None when accepted.
    """
    if inventory.direction == "I":
        refusal = _charge_import(session, inventory, lines, at)
        if refusal is not None:
            code, info = refusal
            inventory.status = int(S.REJECTED)
            inventory.status_at = at
            issue_list_receipt(session, inventory, code, info, at)
            return code
    inventory.invt_no = numbers.invt_no(
        serial,
        customs_code=inventory.customs_code,
        direction=inventory.direction,
        at=at,
    )
    transition(session, inventory, S.ACCEPTED, actor="system", reason="三单对碰通过", at=at)
    outbox.publish(
        session,
        InventoryAccepted.trusted(
            inventory_id=inventory.id,
            invt_no=inventory.invt_no,
            direction=inventory.direction,
            customs_code=inventory.customs_code,
            trade_mode=inventory.trade_mode,
            ebc_code=inventory.ebc_code,
            agent_code=inventory.agent_code,
            logistics_code=inventory.logistics_code,
            logistics_no=inventory.logistics_no,
            currency=inventory.currency,
            goods_value=inventory.goods_value,
            lines=[
                InventoryLineFacts.model_construct(
                    gnum=line.gnum,
                    gcode=line.gcode,
                    gname=line.gname,
                    item_no=line.item_no,
                    item_record_no=line.item_record_no,
                    country=line.country,
                    qty=line.qty,
                    unit=line.unit,
                    total_price=line.total_price,
                )
                for line in lines
            ],
            accepted_at=at,
        ),
    )
    return None


def _charge_import(
    session: Session, inventory: Inventory, lines: Sequence[InventoryLine], at: datetime
) -> tuple[int, str] | None:
    """The import limits and tax: −621005 / −621018 refusals, else tax stored per line."""
    from app.ceb import codes

    value = inventory.goods_value + inventory.freight + inventory.insured_fee
    single_item = len(lines) == 1 and lines[0].qty == 1
    full_tax = value > taxes.SINGLE_LIMIT
    if full_tax and not single_item:
        return (
            codes.INVENTORY_OVER_SINGLE_LIMIT,
            f"清单[{inventory.cop_no}]的购买金额超过单笔限额[[{taxes.SINGLE_LIMIT}]]: {value}",
        )
    buyer = inventory.buyer_id_number or ""
    year = at.astimezone(CHINA).year
    if not taxes.charge_quota(session, buyer=buyer, year=year, amount=value):
        used = taxes.used_quota(session, buyer=buyer, year=year)
        return (
            codes.INVENTORY_OVER_ANNUAL_LIMIT,
            f"清单[{inventory.cop_no}]中购买人[{_mask(buyer)}]已用购买额度为[{used}]，"
            f"本次购买将超过年度限额[{taxes.ANNUAL_LIMIT}]",
        )
    inventory.quota_charged = value
    inventory.full_tax = full_tax
    rates = taxes.rates_for(session, [line.gcode for line in lines])
    dutiable = taxes.dutiable_values(
        [line.total_price for line in lines], inventory.freight, inventory.insured_fee
    )
    totals = [Decimal(0), Decimal(0), Decimal(0)]
    for line, base in zip(lines, dutiable, strict=True):
        tax = taxes.line_tax(base, rates[line.gcode], full=full_tax)
        line.customs_tax, line.vat, line.consumption_tax = (
            tax.customs_tax,
            tax.vat,
            tax.consumption_tax,
        )
        totals = [totals[0] + tax.customs_tax, totals[1] + tax.vat, totals[2] + tax.consumption_tax]
    inventory.customs_tax, inventory.vat, inventory.consumption_tax = totals
    return None


def _mask(id_number: str) -> str:
    """Identity numbers never appear whole in messages or errors."""
    return id_number[:3] + "*" * max(len(id_number) - 7, 0) + id_number[-4:]


def release_if_cleared(session: Session, inventory: Inventory, *, actor: str, at: datetime) -> bool:
    """Joint release (三个一): a concluded list goes to 800 once inspection has cleared it."""
    if inventory.status != S.CONCLUDED or inventory.inspection_state not in (
        "cleared",
        "not_selected",
    ):
        return False
    transition(session, inventory, S.RELEASED, actor=actor, reason="海关与检验检疫均已放行", at=at)
    return True


def lines_of(session: Session, inventory: Inventory) -> list[InventoryLine]:
    return list(
        session.scalars(
            select(InventoryLine)
            .where(InventoryLine.inventory_id == inventory.id)
            .order_by(InventoryLine.gnum)
        )
    )
