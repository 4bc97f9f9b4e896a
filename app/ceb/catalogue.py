"""What the window knows of each CEB message: its entity shape, sender, keys and receipt."""

from dataclasses import dataclass, field
from enum import StrEnum

from app.ceb import codes
from app.ceb.codes import ErrorCodes

NS = "http://www.chinaport.gov.cn/ceb"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DXP_NS = "http://www.chinaport.gov.cn/dxp"


class Direction(StrEnum):
    EXPORT = "E"
    IMPORT = "I"


class DocKind(StrEnum):
    ORDER = "order"
    PAYMENT = "payment"  # export 收款单 (403) and import 支付凭证 (411)
    LOGISTICS = "logistics"
    LOGISTICS_STATUS = "logistics_status"
    ARRIVAL = "arrival"
    DEPARTURE = "departure"
    MASTER_BILL = "master_bill"  # 清单总分单 (607)
    INVENTORY = "inventory"
    CANCEL = "cancel"
    REFUND = "refund"
    REFUND_DETAIL = "refund_detail"  # 理货明细单 (215)
    DELIVERY = "delivery"  # 入库明细单 (711)
    SUMMARY = "summary"  # 汇总申请 (701)


class Signing(StrEnum):
    ALWAYS = "always"
    WHEN_DECLARED = "when_declared"  # only with appStatus 2
    NEVER = "never"


# Which role a party code field names (DOMAIN §2). ownerCode and iacCode name no filed role.
PARTY_ROLES: dict[str, str] = {
    "ebpCode": "ebp",
    "ebcCode": "ebc",
    "agentCode": "agent",
    "declAgentCode": "agent",
    "logisticsCode": "logistics",
    "payCode": "payment",
    "operatorCode": "operator",
    "assureCode": "guarantor",
}

_STATUS_FIELDS = ("returnStatus", "returnTime", "returnInfo")


@dataclass(frozen=True)
class MessageSpec:
    type: str
    direction: Direction
    kind: DocKind
    entity: str  # the root's child element holding one business document
    head: str | None  # its head element, or None when the entity itself is the head
    lines: str | None  # its repeated line element
    key: tuple[str, ...]  # head fields of the business key customs deduplicates on
    sender_roles: frozenset[str]
    signing: Signing
    receipt: str
    receipt_entity: str
    receipt_fields: tuple[str, ...]  # in XSD order; a trailing "?" marks an optional one
    errors: ErrorCodes
    party_fields: tuple[str, ...] = field(default=())

    @property
    def root(self) -> str:
        return f"{self.type}Message"

    @property
    def receipt_root(self) -> str:
        return f"{self.receipt}Message"


def _spec(
    type_: str,
    direction: Direction,
    kind: DocKind,
    entity: str,
    head: str | None,
    lines: str | None,
    key: tuple[str, ...],
    senders: set[str],
    signing: Signing,
    receipt: tuple[str, str, tuple[str, ...]],
    errors: ErrorCodes,
    parties: tuple[str, ...],
) -> MessageSpec:
    return MessageSpec(
        type=type_,
        direction=direction,
        kind=kind,
        entity=entity,
        head=head,
        lines=lines,
        key=key,
        sender_roles=frozenset(senders),
        signing=signing,
        receipt=receipt[0],
        receipt_entity=receipt[1],
        receipt_fields=receipt[2],
        errors=errors,
        party_fields=parties,
    )


EXP, IMP = Direction.EXPORT, Direction.IMPORT
K = DocKind
S = Signing

_SPECS = [
    # --- export (出口) ---
    _spec(
        "CEB303",
        EXP,
        K.ORDER,
        "Order",
        "OrderHead",
        "OrderList",
        ("ebpCode", "orderNo"),
        {"ebp", "ebc"},
        S.NEVER,
        ("CEB304", "OrderReturn", ("guid", "ebpCode", "ebcCode", "orderNo")),
        codes.ORDER,
        ("ebpCode", "ebcCode"),
    ),
    _spec(
        "CEB403",
        EXP,
        K.PAYMENT,
        "Receipts",
        None,
        None,
        ("ebcCode", "orderNo"),
        {"payment"},
        S.NEVER,
        ("CEB404", "ReceiptsReturn", ("guid", "ebcCode", "orderNo", "payNo?")),
        codes.PAYMENT,
        ("ebpCode", "ebcCode", "payCode"),
    ),
    _spec(
        "CEB505",
        EXP,
        K.LOGISTICS,
        "Logistics",
        None,
        None,
        ("logisticsCode", "logisticsNo"),
        {"logistics"},
        S.NEVER,
        ("CEB506", "LogisticsReturn", ("guid", "logisticsCode", "logisticsNo")),
        codes.LOGISTICS,
        ("logisticsCode", "ebcCode"),
    ),
    _spec(
        "CEB507",
        EXP,
        K.ARRIVAL,
        "Arrival",
        "ArrivalHead",
        "ArrivalList",
        ("operatorCode", "copNo", "msgSeqNo"),
        {"operator", "logistics"},
        S.WHEN_DECLARED,
        (
            "CEB508",
            "ArrivalReturn",
            ("guid", "operatorCode", "logisticsCode", "preNo", "copNo", "billNo", "msgSeqNo"),
        ),
        codes.GENERIC,
        ("operatorCode", "logisticsCode"),
    ),
    _spec(
        "CEB509",
        EXP,
        K.DEPARTURE,
        "Departure",
        "DepartureHead",
        "DepartureList",
        ("logisticsCode", "copNo", "msgSeqNo"),
        {"logistics"},
        S.ALWAYS,
        ("CEB510", "DepartureReturn", ("guid", "logisticsCode", "copNo", "preNo", "msgSeqNo")),
        codes.GENERIC,
        ("logisticsCode",),
    ),
    _spec(
        "CEB603",
        EXP,
        K.INVENTORY,
        "Inventory",
        "InventoryHead",
        "InventoryList",
        ("agentCode", "copNo"),
        {"agent", "ebc"},
        S.ALWAYS,
        (
            "CEB604",
            "InventoryReturn",
            (
                "guid",
                "agentCode",
                "copNo",
                "preNo",
                "invtNo",
                "ebcCode",
                "ebpCode",
                "orderNo",
                "statisticsFlag",
            ),
        ),
        codes.INVENTORY,
        ("ebpCode", "ebcCode", "agentCode", "logisticsCode"),
    ),
    _spec(
        "CEB605",
        EXP,
        K.CANCEL,
        "InvtCancel",
        None,
        None,
        ("agentCode", "invtNo"),
        {"agent", "ebc"},
        S.ALWAYS,
        ("CEB606", "InvtCancelReturn", ("guid", "agentCode", "copNo", "preNo", "invtNo")),
        codes.CANCEL,
        ("agentCode", "ebcCode"),
    ),
    _spec(
        "CEB607",
        EXP,
        K.MASTER_BILL,
        "WayBill",
        "WayBillHead",
        "WayBillList",
        ("agentCode", "copNo", "msgSeqNo"),
        {"agent", "logistics"},
        S.ALWAYS,
        (
            "CEB608",
            "WayBillReturn",
            ("guid", "agentCode", "logisticsCode", "copNo", "preNo", "billNo", "msgSeqNo"),
        ),
        codes.GENERIC,
        ("agentCode", "logisticsCode"),
    ),
    _spec(
        "CEB213",
        EXP,
        K.REFUND,
        "InvtRefund",
        "InvtRefundHead",
        "InvtRefundList",
        ("agentCode", "invtNo"),
        {"agent", "ebc"},
        S.NEVER,
        (
            "CEB214",
            "RefundReturn",
            ("guid", "ebpCode?", "ebcCode?", "agentCode", "coElNo", "preNo?", "invtNo"),
        ),
        codes.REFUND,
        ("ebpCode", "ebcCode", "agentCode", "logisticsCode"),
    ),
    _spec(
        "CEB215",
        EXP,
        K.REFUND_DETAIL,
        "InvtRefundDetail",
        None,
        None,
        ("logisticsCode", "logisticsNo"),
        {"operator", "logistics"},
        S.NEVER,
        (
            "CEB216",
            "InvtRefundDetailReturn",
            ("guid", "operatorCode", "logisticsCode", "logisticsNo", "coElNo", "preNo?"),
        ),
        codes.GENERIC,
        ("operatorCode", "logisticsCode"),
    ),
    _spec(
        "CEB701",
        EXP,
        K.SUMMARY,
        "SummaryApply",
        "SummaryApplyHead",
        "SummaryApplyList",
        ("agentCode", "copNo", "msgSeqNo"),
        {"agent"},
        S.ALWAYS,
        (
            "CEB702",
            "SummaryReturn",
            ("guid", "agentCode", "ebcCode", "copNo", "preNo", "sumNo?", "msgSeqNo"),
        ),
        codes.GENERIC,
        ("agentCode", "ebcCode", "declAgentCode"),
    ),
    # --- import (进口) ---
    _spec(
        "CEB311",
        IMP,
        K.ORDER,
        "Order",
        "OrderHead",
        "OrderList",
        ("ebpCode", "orderNo"),
        {"ebp", "ebc"},
        S.NEVER,
        ("CEB312", "OrderReturn", ("guid", "ebpCode", "ebcCode", "orderNo")),
        codes.ORDER,
        ("ebpCode", "ebcCode", "payCode"),
    ),
    _spec(
        "CEB411",
        IMP,
        K.PAYMENT,
        "Payment",
        "PaymentHead",
        None,
        ("payCode", "payTransactionId"),
        {"payment"},
        S.NEVER,
        ("CEB412", "PaymentReturn", ("guid", "payCode", "payTransactionId")),
        codes.PAYMENT,
        ("payCode", "ebpCode"),
    ),
    _spec(
        "CEB511",
        IMP,
        K.LOGISTICS,
        "Logistics",
        "LogisticsHead",
        None,
        ("logisticsCode", "logisticsNo"),
        {"logistics"},
        S.NEVER,
        ("CEB512", "LogisticsReturn", ("guid", "logisticsCode", "logisticsNo")),
        codes.LOGISTICS,
        ("logisticsCode",),
    ),
    _spec(
        "CEB513",
        IMP,
        K.LOGISTICS_STATUS,
        "LogisticsStatus",
        None,
        None,
        ("logisticsCode", "logisticsNo", "logisticsStatus"),
        {"logistics"},
        S.NEVER,
        (
            "CEB514",
            "LogisticsStatusReturn",
            ("guid", "logisticsCode", "logisticsNo", "logisticsStatus"),
        ),
        codes.LOGISTICS_STATUS,
        ("logisticsCode",),
    ),
    _spec(
        "CEB621",
        IMP,
        K.INVENTORY,
        "Inventory",
        "InventoryHead",
        "InventoryList",
        ("agentCode", "copNo"),
        {"agent", "ebc"},
        S.ALWAYS,
        (
            "CEB622",
            "InventoryReturn",
            (
                "guid",
                "customsCode?",
                "ebpCode?",
                "ebcCode?",
                "agentCode?",
                "copNo",
                "preNo",
                "invtNo?",
            ),
        ),
        codes.INVENTORY,
        ("ebpCode", "ebcCode", "agentCode", "logisticsCode", "assureCode"),
    ),
    _spec(
        "CEB623",
        IMP,
        K.CANCEL,
        "InvtCancel",
        None,
        None,
        ("agentCode", "invtNo"),
        {"agent", "ebc"},
        S.ALWAYS,
        (
            "CEB624",
            "InvtCancelReturn",
            (
                "guid",
                "customsCode?",
                "agentCode?",
                "ebpCode?",
                "ebcCode?",
                "copNo",
                "preNo",
                "invtNo?",
            ),
        ),
        codes.CANCEL,
        ("ebpCode", "ebcCode", "agentCode", "logisticsCode"),
    ),
    _spec(
        "CEB625",
        IMP,
        K.REFUND,
        "InvtRefund",
        "InvtRefundHead",
        "InvtRefundList",
        ("agentCode", "invtNo"),
        {"agent", "ebc"},
        S.ALWAYS,
        (
            "CEB626",
            "InvtRefundReturn",
            (
                "guid",
                "customsCode?",
                "agentCode?",
                "ebpCode?",
                "ebcCode?",
                "copNo",
                "preNo",
                "invtNo?",
            ),
        ),
        codes.REFUND,
        ("ebpCode", "ebcCode", "agentCode", "logisticsCode"),
    ),
    _spec(
        "CEB711",
        IMP,
        K.DELIVERY,
        "Delivery",
        "DeliveryHead",
        "DeliveryList",
        ("operatorCode", "billNo", "voyageNo"),
        {"operator"},
        S.ALWAYS,
        (
            "CEB712",
            "DeliveryReturn",
            ("guid", "customsCode?", "operatorCode?", "copNo?", "preNo?", "rkdNo?"),
        ),
        codes.GENERIC,
        ("operatorCode", "logisticsCode"),
    ),
]

INBOUND: dict[str, MessageSpec] = {spec.type: spec for spec in _SPECS}


@dataclass(frozen=True)
class ReceiptShape:
    entity: str
    fields: tuple[tuple[str, bool], ...]  # (name, required) in XSD order, status fields last


RECEIPTS: dict[str, ReceiptShape] = {
    spec.receipt: ReceiptShape(
        spec.receipt_entity,
        tuple((f.rstrip("?"), not f.endswith("?")) for f in spec.receipt_fields)
        + tuple((f, True) for f in _STATUS_FIELDS),
    )
    for spec in _SPECS
}
# The electronic tax bill (CEB816) nests a head and lines inside each Tax entity.
TAX_HEAD_FIELDS: tuple[tuple[str, bool], ...] = (
    ("guid", True),
    ("returnTime", True),
    ("invtNo", True),
    ("taxNo", True),
    ("customsTax", True),
    ("valueAddedTax", True),
    ("consumptionTax", True),
    ("status", True),
    ("entDutyNo", False),
    ("note", False),
    ("assureCode", False),
    ("ebcCode", False),
    ("logisticsCode", False),
    ("agentCode", False),
    ("customsCode", False),
)
TAX_LINE_FIELDS = ("gnum", "gcode", "taxPrice", "customsTax", "valueAddedTax", "consumptionTax")

RECEIPTS["CEB900"] = ReceiptShape(
    "MessageReturn",
    tuple(
        (name, True)
        for name in (
            "guid",
            "returnStatus",
            "returnInfo",
            "returnTime",
            "oriCopMsgId",
            "oriMessageType",
            "oriBizMessage",
        )
    ),
)

# Messages the window itself issues; an enterprise sending one gets a format error.
OUTBOUND = frozenset({spec.receipt for spec in _SPECS} | {"CEB792", "CEB816", "CEB818", "CEB900"})
IMPORT_ONLY_OUTBOUND = frozenset({"CEB816", "CEB818", "CEB900"})


def message_type_of(root_local_name: str) -> str | None:
    """``CEB603Message`` → ``CEB603``; None when the name is not a CEB message root."""
    if root_local_name.startswith("CEB") and root_local_name.endswith("Message"):
        return root_local_name[: -len("Message")]
    return None
