"""Personal data in bank-facing views: buyers' id numbers and names are masked."""

from collections.abc import Mapping

ORDER_FIELDS = (
    "orderNo",
    "orderType",
    "ebpCode",
    "ebcCode",
    "goodsValue",
    "freight",
    "discount",
    "taxTotal",
    "acturalPaid",
    "currency",
    "buyerIdType",
    "buyerIdNumber",
    "buyerName",
)
MONEY_FIELDS = (
    "payCode",
    "payNo",
    "payTransactionId",
    "orderNo",
    "ebpCode",
    "ebcCode",
    "charge",
    "amountPaid",
    "currency",
    "accountingDate",
    "payTime",
    "payerIdType",
    "payerIdNumber",
    "payerName",
)
_ID_FIELDS = frozenset({"buyerIdNumber", "payerIdNumber"})
_NAME_FIELDS = frozenset({"buyerName", "payerName"})


def mask_id(value: str | None) -> str | None:
    """Only the last four characters of an id number stay readable."""
    if not value:
        return value
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def masked_head(head: Mapping[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """The allowed fields of a document head; addresses, phones and the like are left out."""
    shown: dict[str, str] = {}
    for name in fields:
        value = head.get(name)
        if value is None:
            continue
        if name in _ID_FIELDS:
            value = mask_id(value) or ""
        elif name in _NAME_FIELDS:
            value = mask_name(value) or ""
        shown[name] = value
    return shown
