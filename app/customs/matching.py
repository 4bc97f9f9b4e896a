"""三单对碰: an inventory list against its order, money document and waybill.

Export (603): order 303, 收款单 403 and waybill 505 must be declared. Import (621): order
311, payment 411 and waybill 511, with the amounts, the payer and the consignee agreeing
(DOMAIN.md §5). Values are compared with a 5 % tolerance, money arithmetic to the fen.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from app.ceb.catalogue import DocKind
from app.ceb.codes import ReturnStatus
from app.customs.models import Document, Inventory, InventoryLine
from app.db import one_of

TOLERANCE = Decimal("0.05")
FEN = Decimal("0.01")


@dataclass
class MatchResult:
    missing: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def agrees(self) -> bool:
        return not self.differences


def payment_ref(head: Mapping[str, str]) -> str:
    """Money documents are found by the order they pay for."""
    return f"{head.get('ebpCode', '')}|{head.get('orderNo', '')}"


def _partners_query(dialect: str) -> Select[Document]:
    # Each branch of the OR is an index scan: the business key, or the order a money document
    # pays for.
    return select(Document).where(
        Document.direction == bindparam("direction"),
        Document.status == int(ReturnStatus.ACCEPTED),
        or_(
            (Document.kind == DocKind.ORDER.value)
            & one_of(Document.business_key, "orders", dialect),
            (Document.kind == DocKind.PAYMENT.value) & one_of(Document.ref_key, "orders", dialect),
            (Document.kind == DocKind.LOGISTICS.value)
            & one_of(Document.business_key, "waybills", dialect),
        ),
    )


# Built once per dialect: the window runs it for every message of lists.
_PARTNERS = {dialect: _partners_query(dialect) for dialect in ("postgresql", "sqlite")}


@dataclass
class Partners:
    """The declared orders, money documents and waybills of a batch of lists, by their keys."""

    orders: dict[str, Document] = field(default_factory=dict)
    payments: dict[str, Document] = field(default_factory=dict)
    waybills: dict[str, Document] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, direction: str, inventories: Sequence[Inventory]) -> "Partners":
        """One query for the whole batch, however many lists it has."""
        orders = {f"{i.ebp_code}|{i.order_no}" for i in inventories}
        waybills = {f"{i.logistics_code}|{i.logistics_no}" for i in inventories}
        found = cls()
        into = {
            DocKind.ORDER.value: found.orders,
            DocKind.PAYMENT.value: found.payments,
            DocKind.LOGISTICS.value: found.waybills,
        }
        for document in session.scalars(
            _PARTNERS[session.get_bind().dialect.name],
            {"direction": direction, "orders": list(orders), "waybills": list(waybills)},
        ):
            key = document.ref_key if document.kind == DocKind.PAYMENT.value else None
            into[document.kind][key or document.business_key] = document
        return found


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _close(declared: Decimal | None, reference: Decimal | None) -> bool:
    """Within 5 % of the partner document's value (the order's, the waybill's)."""
    if declared is None or reference is None:
        return False
    return abs(declared - reference) <= max(abs(reference) * TOLERANCE, FEN)


def match(
    session: Session,
    inventory: Inventory,
    lines: Sequence[InventoryLine],
    partners: Partners | None = None,
) -> MatchResult:
    """Find the list's partner documents and compare them field by field."""
    result = MatchResult()
    direction = inventory.direction
    partners = partners or Partners.load(session, direction, [inventory])
    order_key = f"{inventory.ebp_code}|{inventory.order_no}"
    order = partners.orders.get(order_key)
    payment = partners.payments.get(order_key)
    waybill = partners.waybills.get(f"{inventory.logistics_code}|{inventory.logistics_no}")
    for name, found in (
        ("订单 order", order),
        ("支付单 payment", payment),
        ("运单 waybill", waybill),
    ):
        if found is None:
            result.missing.append(name)
    if order is not None:
        _compare_order(inventory, lines, order, result)
    if payment is not None and order is not None and direction == "I":
        _compare_import_payment(inventory, order, payment, result)
    if (
        payment is not None
        and direction == "E"
        and payment.head.get("ebcCode") != inventory.ebc_code
    ):
        result.differences.append("收款单 ebcCode 与清单不一致")
    if waybill is not None:
        _compare_waybill(inventory, order, waybill, result)
    return result


def _compare_order(
    inventory: Inventory, lines: Sequence[InventoryLine], order: Document, result: MatchResult
) -> None:
    head = order.head
    if head.get("ebcCode") != inventory.ebc_code:
        result.differences.append(f"订单 ebcCode {head.get('ebcCode')} ≠ 清单 {inventory.ebc_code}")
    if inventory.direction == "I" and head.get("buyerIdNumber") != inventory.buyer_id_number:
        result.differences.append("订单购买人证件号与清单不一致")
    order_lines = {str(line.get("gnum")): line for line in order.lines}
    if {str(line.gnum) for line in lines} != set(order_lines):
        result.differences.append(
            f"清单表体序号 {sorted(line.gnum for line in lines)} 与订单 "
            f"{sorted(order_lines, key=lambda g: int(g) if g.isdigit() else 0)} 不对应"
        )
        return
    for line in lines:
        ordered = order_lines[str(line.gnum)]
        where = f"第{line.gnum}项"
        name = ordered.get("itemName", "")
        if name and name not in (line.gname, line.item_name):
            result.differences.append(f"{where}商品名称 {line.gname!r} 与订单 {name!r} 不一致")
        for field_name, ours in (
            ("qty", line.qty),
            ("price", line.price),
            ("totalPrice", line.total_price),
        ):
            if not _close(ours, _dec(ordered.get(field_name))):
                result.differences.append(
                    f"{where} {field_name} {ours} 与订单 {ordered.get(field_name)} 相差超过 5%"
                )


def _compare_import_payment(
    inventory: Inventory, order: Document, payment: Document, result: MatchResult
) -> None:
    head = order.head
    parts = [_dec(head.get(k, "0")) for k in ("goodsValue", "freight", "taxTotal", "discount")]
    paid = _dec(head.get("acturalPaid"))
    if None in parts or paid is None:
        result.differences.append("订单金额字段无法解析")
        return
    goods, freight, tax, discount = (p or Decimal(0) for p in parts)
    if abs(goods + freight + tax - discount - paid) > FEN:
        result.differences.append(
            f"订单实际支付 {paid} ≠ 商品价格 {goods} + 运杂费 {freight}"
            f" + 代扣税款 {tax} − 非现金抵扣 {discount}"
        )
    amount = _dec(payment.head.get("amountPaid"))
    if amount is None or abs(amount - paid) > FEN:
        result.differences.append(f"支付单支付金额 {amount} ≠ 订单实际支付 {paid}")
    if payment.head.get("payerIdNumber") != head.get("buyerIdNumber"):
        result.differences.append("支付人证件号与订购人不一致 (payer ≠ buyer)")
    if payment.head.get("payerName") != head.get("buyerName"):
        result.differences.append("支付人姓名与订购人不一致 (payer ≠ buyer)")


def _compare_waybill(
    inventory: Inventory, order: Document | None, waybill: Document, result: MatchResult
) -> None:
    head = waybill.head
    if inventory.direction == "E":
        if not _close(inventory.gross_weight, _dec(head.get("grossWeight"))):
            result.differences.append(
                f"清单毛重 {inventory.gross_weight} 与运单 {head.get('grossWeight')} 相差超过 5%"
            )
        return
    if order is None:
        return
    for name in ("consignee", "consigneeTelephone", "consigneeAddress"):
        if (order.head.get(name) or "").strip() != (head.get(name) or "").strip():
            result.differences.append(f"收货人信息 {name} 在订单与运单上不一致")
    if (inventory.head.get("consigneeAddress") or "").strip() != (
        head.get("consigneeAddress") or ""
    ).strip():
        result.differences.append("清单收货地址与运单不一致")
