"""What a declared document does to the lists it names: arrival, departure, cancel, return."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import outbox
from app.ceb import codes
from app.ceb.catalogue import DocKind, MessageSpec
from app.customs import lifecycle, summaries, taxes
from app.customs.events import GoodsArrived, InventoryRefunded
from app.customs.lifecycle import CANCELLED, S
from app.customs.models import Inventory

# 跨境电商零售进口退货: the return is applied for within 30 days of release (DOMAIN.md §5).
RETURN_WINDOW = timedelta(days=30)


class Refusal(Exception):
    """An entity refused with one of the standard's negative codes."""

    def __init__(self, code: int, info: str) -> None:
        super().__init__(info)
        self.code = code
        self.info = info


def apply(
    session: Session,
    spec: MessageSpec,
    head: Mapping[str, str],
    lines: Sequence[Mapping[str, str]],
    *,
    at: datetime,
) -> dict[str, str]:
    """Apply a declared document's effect on lists, or raise Refusal when it may not.

    Returns what the document's receipt carries beyond its own fields (a summary's sumNo).
    """
    match spec.kind:
        case DocKind.ARRIVAL | DocKind.DELIVERY:
            outbox.publish(
                session,
                GoodsArrived(
                    customs_code=head.get("customsCode", ""),
                    operator_code=head.get("operatorCode", ""),
                    logistics_code=head.get("logisticsCode", ""),
                    logistics_nos=[
                        line["logisticsNo"] for line in lines if line.get("logisticsNo")
                    ],
                    arrived_at=at,
                ),
            )
        case DocKind.DEPARTURE:
            _close_departed(session, head, lines, at)
        case DocKind.CANCEL:
            _cancel(session, spec, head, at)
        case DocKind.REFUND:
            _refund(session, spec, head, lines, at)
        case DocKind.SUMMARY:
            return summaries.apply_summary(session, head=head, lines=lines, at=at)
        case _:
            pass
    return {}


def _list(session: Session, spec: MessageSpec, head: Mapping[str, str]) -> Inventory:
    inventory = session.scalars(
        select(Inventory)
        .where(Inventory.invt_no == head.get("invtNo"), Inventory.direction == spec.direction.value)
        .with_for_update()
    ).first()
    if inventory is None or inventory.agent_code != head.get("agentCode"):
        raise Refusal(
            spec.errors.not_found, f"系统中不存在清单编号为[{head.get('invtNo')}]的清单！"
        )
    return inventory


def _close_departed(
    session: Session, head: Mapping[str, str], lines: Sequence[Mapping[str, str]], at: datetime
) -> None:
    numbers = [line["logisticsNo"] for line in lines if line.get("logisticsNo")]
    if not numbers:
        return
    released = session.scalars(
        select(Inventory)
        .where(
            Inventory.direction == "E",
            Inventory.logistics_code == head.get("logisticsCode"),
            Inventory.logistics_no.in_(numbers),
            Inventory.status == int(S.RELEASED),
        )
        .with_for_update()
    ).all()
    for inventory in released:
        lifecycle.transition(
            session,
            inventory,
            S.CLOSED,
            actor=f"enterprise:{head.get('logisticsCode')}",
            reason=f"离境 {head.get('copNo', '')}",
            info="结关: 货物已离境",
            at=at,
        )


def _cancel(session: Session, spec: MessageSpec, head: Mapping[str, str], at: datetime) -> None:
    inventory = _list(session, spec, head)
    summary = summaries.live_summary_of(session, inventory_id=inventory.id)
    if summary is not None:
        # The consolidated declaration would silently lose it: withdraw it from the 701 first.
        raise Refusal(
            spec.errors.wrong_state,
            f"清单[{inventory.invt_no}]已汇总于[{summary}]，请先变更或撤销汇总申请",
        )
    if CANCELLED not in lifecycle.TRANSITIONS.get(inventory.status, frozenset()):
        raise Refusal(
            spec.errors.wrong_state,
            f"清单的状态不符合撤单申报要求(清单编号[{inventory.invt_no}]，"
            f"状态 {inventory.status})！",
        )
    lifecycle.transition(
        session,
        inventory,
        CANCELLED,
        actor=f"enterprise:{head.get('agentCode')}",
        reason=head.get("reason", "撤单"),
        info="撤单: " + head.get("reason", ""),
        at=at,
    )


def _refund(
    session: Session,
    spec: MessageSpec,
    head: Mapping[str, str],
    lines: Sequence[Mapping[str, str]],
    at: datetime,
) -> None:
    inventory = _list(session, spec, head)
    if inventory.status not in (S.RELEASED, S.CLOSED) or inventory.released_at is None:
        raise Refusal(
            spec.errors.wrong_state, f"退货申请单[{inventory.invt_no}]: 清单未放行，不能退货"
        )
    if spec.direction.value == "I" and at - inventory.released_at > RETURN_WINDOW:
        raise Refusal(
            spec.errors.invalid,
            f"退货申请单[{inventory.invt_no}]: 已超过放行后 30 天的退货申请期限",
        )
    if inventory.quota_charged is not None and inventory.invt_no:
        returned = _returned_value(session, inventory, lines)
        taxes.restore_quota(
            session,
            buyer=inventory.buyer_id_number or "",
            year=int(inventory.invt_no[4:8]),
            amount=returned,
        )
        inventory.quota_charged -= returned
    outbox.publish(
        session,
        InventoryRefunded(
            inventory_id=inventory.id,
            invt_no=inventory.invt_no or "",
            direction=inventory.direction,
            ebc_code=inventory.ebc_code,
            refunded_at=at,
        ),
    )


def _returned_value(
    session: Session, inventory: Inventory, returned: Sequence[Mapping[str, str]]
) -> Decimal:
    """The part of the quota the returned goods took: their dutiable value, pro rata by qty."""
    lines = lifecycle.lines_of(session, inventory)
    dutiable = taxes.dutiable_values(
        [line.total_price for line in lines], inventory.freight, inventory.insured_fee
    )
    value_of = {line.gnum: (line.qty, value) for line, value in zip(lines, dutiable, strict=True)}
    total = Decimal(0)
    for item in returned:
        gnum = int(item.get("gnum", "0"))
        if gnum not in value_of:
            raise Refusal(codes.REFUND.invalid, f"退货申请单表体第[{gnum}]项不在清单中")
        qty, value = value_of[gnum]
        share = min(Decimal(item.get("qty") or qty) / qty, Decimal(1)) if qty else Decimal(1)
        total += value * share
    return min(taxes.round_fen(total), inventory.quota_charged or Decimal(0))
