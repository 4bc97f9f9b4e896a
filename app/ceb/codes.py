"""Receipt status codes (returnStatus) of the CEB standard, and its negative error codes.

Negative codes follow the error tables of the 202205 specification (§7, table 7-2); the
window adds none of its own where the standard has one.
"""

from dataclasses import dataclass
from enum import IntEnum


class ReturnStatus(IntEnum):
    STAGED = 1  # 电子口岸已暂存
    DECLARING = 2  # 电子口岸申报中
    SENT = 3  # 发送海关成功
    SEND_FAILED = 4  # 发送海关失败
    REJECTED = 100  # 海关退单
    ACCEPTED = 120  # 海关入库
    REVIEW = 300  # 人工审核
    CONCLUDED = 399  # 海关审结
    INSPECTION = 500  # 查验
    DETAINED_CLEARANCE = 501  # 扣留移送通关
    DETAINED_ANTI_SMUGGLING = 502  # 扣留移送缉私
    DETAINED_LEGAL = 503  # 扣留移送法规
    DETAINED_OTHER = 599  # 其它扣留
    RETURNED = 700  # 退运
    RELEASED = 800  # 放行
    CLOSED = 899  # 结关


STATUS_TEXT = {
    ReturnStatus.STAGED: "电子口岸已暂存",
    ReturnStatus.DECLARING: "电子口岸申报中",
    ReturnStatus.REJECTED: "海关退单",
    ReturnStatus.ACCEPTED: "海关入库",
    ReturnStatus.REVIEW: "人工审核",
    ReturnStatus.CONCLUDED: "海关审结",
    ReturnStatus.INSPECTION: "查验",
    ReturnStatus.RELEASED: "放行",
    ReturnStatus.CLOSED: "结关",
}


@dataclass(frozen=True)
class ErrorCodes:
    """The standard's negative codes for one family of documents."""

    exists: int  # the business key was already declared
    not_found: int  # a change or delete names no stored document
    wrong_state: int  # the document's state does not allow the operation
    stale: int  # appTime older than the stored version (旧报文数据)
    invalid: int  # a field fails a logic check
    forbidden: int  # the sender may not act on this document
    signature_mismatch: int = -621028  # 加签数据比对失败
    signature_invalid: int = -621029  # 验签失败


INVALID_ENTERPRISE_TYPE = -10101  # 无效企业类型: the party lacks the role
INVALID_ENTERPRISE_CODE = -10102  # 无效企业代码: the party is not registered

ORDER = ErrorCodes(-301010, -301009, -301011, -301014, -301008, -301008)
PAYMENT = ErrorCodes(-401007, -401006, -401008, -401012, -401009, -401009)
LOGISTICS = ErrorCodes(-504012, -504014, -504016, -504011, -504011, -504011)
LOGISTICS_STATUS = ErrorCodes(-505012, -505014, -505014, -505016, -505011, -505011)
INVENTORY = ErrorCodes(-621004, -621011, -621012, -621001, -621001, -621016)
CANCEL = ErrorCodes(-623009, -623003, -623005, -623001, -623001, -623026, -623029, -623029)
REFUND = ErrorCodes(-625022, -625016, -625022, -625001, -625001, -625021, -625005, -625005)
# Arrivals, departures, master bills, tally details, deliveries and summaries have no table
# of their own in the standard; they use its generic business-logic error (表 7-1: 2999).
GENERIC = ErrorCodes(-2999, -2999, -2999, -2999, -2999, -2999, -1004, -1001)

INVENTORY_GNUM_DUPLICATE = -621027
INVENTORY_OVER_SINGLE_LIMIT = -621005
INVENTORY_OVER_ANNUAL_LIMIT = -621018
