"""The banks' checks on a trade list (DOMAIN.md §7), as pure functions of gathered facts.

Each rule has an id, returns PASS / WARN / HOLD / REJECT with an explanation and the inputs
it judged, or nothing where it does not apply (e.g. netting to an import payment). The
outcome of a check is the worst of its rules'; PASS and WARN settle, HOLD and REJECT do not.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from app.ceb.codes import STATUS_TEXT, ReturnStatus
from app.customs.schemas import TradeListRead
from app.forex.masking import mask_id
from app.forex.schemas import CheckRequest, Outcome, RuleResult, SettlementKind

S = ReturnStatus
CNY, USD = "142", "502"  # customs currency codes (JGS-20)
# 1001 is the window's mark for a list withdrawn by an approved cancel (customs' events).
CANCELLED = 1001
STATUS_INFO = {int(k): v for k, v in STATUS_TEXT.items()} | {
    int(S.RETURNED): "退运",
    CANCELLED: "撤单",
    **{
        int(d): "扣留"
        for d in (
            S.DETAINED_CLEARANCE,
            S.DETAINED_ANTI_SMUGGLING,
            S.DETAINED_LEGAL,
            S.DETAINED_OTHER,
        )
    },
}
USABLE = frozenset({S.RELEASED, S.CLOSED})
NOT_YET = frozenset({S.ACCEPTED, S.REVIEW, S.CONCLUDED, S.INSPECTION})
# SAFE's enterprise directory (名录): below USD 200,000 a year an enterprise need not register.
DIRECTORY_EXEMPT_USD = Decimal(200_000)
DIRECTORY_WARN_USD = Decimal(180_000)
# Above USD 100,000 a transaction is checked against customs declaration data (汇发〔2019〕13号).
LARGE_USD = Decimal(100_000)
CENT = Decimal("0.00001")
_SEVERITY = {Outcome.PASS: 0, Outcome.WARN: 1, Outcome.HOLD: 2, Outcome.REJECT: 3}


def worst(outcomes: Sequence[Outcome]) -> Outcome:
    return max(outcomes, key=_SEVERITY.__getitem__, default=Outcome.PASS)


@dataclass(frozen=True)
class Facts:
    """Everything one check judges, gathered (and for settlements locked) by the service."""

    request: CheckRequest
    trade: TradeListRead
    value_date: date
    rates: Mapping[str, Decimal]  # CNY for one unit, in force on the value date
    mandate_exception: str | None
    collecting_entity: str | None
    fx_directory_status: str
    fx_class: str | None
    allocated: Decimal
    line_allocated: Mapping[int, Decimal]
    returned: str | None
    ytd_usd: Decimal | None  # read only where the directory threshold applies
    tolerance: Decimal


@dataclass(frozen=True)
class Evaluation:
    outcome: Outcome
    results: list[RuleResult]
    allocation: Decimal | None  # what a settlement takes from the list, list currency
    line_allocations: dict[int, Decimal] = field(default_factory=dict)
    list_currency: str | None = None
    amount_usd: Decimal | None = None
    flagged: bool = False


def list_currency(trade: TradeListRead) -> str:
    return trade.currency or (trade.lines[0].currency if trade.lines else CNY)


def list_value(trade: TradeListRead) -> Decimal:
    """What the list can back: goods, freight and insurance, in the list's currency."""
    return trade.goods_value + trade.freight + trade.insured_fee


class _Money:
    """Conversions at the stored rates of the value date; None where a rate is missing."""

    def __init__(self, facts: Facts) -> None:
        self.rates = facts.rates
        self.missing: set[str] = set()

    def rate(self, currency: str) -> Decimal | None:
        if currency == CNY:
            return Decimal(1)
        rate = self.rates.get(currency)
        if rate is None:
            self.missing.add(currency)
        return rate

    def convert(self, amount: Decimal, source: str, target: str) -> Decimal | None:
        if source == target:
            return amount
        rate_from, rate_to = self.rate(source), self.rate(target)
        if rate_from is None or rate_to is None:
            return None
        return (amount * rate_from / rate_to).quantize(CENT, ROUND_HALF_EVEN)


@dataclass(frozen=True)
class _Derived:
    money: _Money
    currency: str
    value: Decimal
    gross: Decimal | None  # amount + netting, list currency
    amount_usd: Decimal | None
    tolerance: Decimal


def _sum(values: Sequence[Decimal | None]) -> Decimal | None:
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), Decimal(0))


def _derive(facts: Facts) -> _Derived:
    money = _Money(facts)
    request = facts.request
    currency = list_currency(facts.trade)
    gross = _sum(
        [
            money.convert(request.amount, request.currency, currency),
            *(money.convert(n.amount, n.currency, currency) for n in request.netting),
        ]
    )
    # Class B enterprises are checked on every transaction without the conversion allowance.
    tolerance = Decimal(0) if facts.fx_class == "B" else facts.tolerance
    return _Derived(
        money=money,
        currency=currency,
        value=list_value(facts.trade),
        gross=gross,
        amount_usd=money.convert(request.amount, request.currency, USD),
        tolerance=tolerance,
    )


def _result(rule: str, outcome: Outcome, explanation: str, **inputs: Any) -> RuleResult:
    return RuleResult(
        id=rule,
        outcome=outcome,
        explanation=explanation,
        inputs={k: str(v) if isinstance(v, Decimal | date) else v for k, v in inputs.items()},
    )


def _no_rate(rule: str, d: _Derived, facts: Facts) -> RuleResult:
    missing = ", ".join(sorted(d.money.missing)) or "?"
    return _result(
        rule,
        Outcome.HOLD,
        f"no stored exchange rate for currency {missing} on or before {facts.value_date}: "
        "the amounts cannot be compared",
        value_date=facts.value_date,
    )


Rule = Callable[[Facts, _Derived], RuleResult | None]


def status_gate(facts: Facts, d: _Derived) -> RuleResult:
    """FX-STATUS: only a released (800) or closed (899) list is trade data a bank may use."""
    status = facts.trade.status
    text = STATUS_INFO.get(status, "unknown status")
    if status in USABLE:
        return _result("FX-STATUS", Outcome.PASS, f"the list is released ({status})", status=status)
    if status in NOT_YET:
        return _result(
            "FX-STATUS",
            Outcome.HOLD,
            f"the list is at {status} ({text}), not released yet: wait for the release",
            status=status,
        )
    return _result(
        "FX-STATUS",
        Outcome.REJECT,
        f"the list is at {status} ({text}): it can back no settlement",
        status=status,
    )


def direction(facts: Facts, d: _Derived) -> RuleResult:
    """FX-DIRECTION: collections (收结汇) go with export lists, payments (购付汇) with imports."""
    wanted = "E" if facts.request.kind is SettlementKind.COLLECTION else "I"
    inputs = {"kind": facts.request.kind.value, "list_direction": facts.trade.direction}
    if facts.trade.direction == wanted:
        return _result("FX-DIRECTION", Outcome.PASS, "direction fits the list", **inputs)
    return _result(
        "FX-DIRECTION",
        Outcome.REJECT,
        f"a {facts.request.kind.value} needs a list of direction {wanted}, "
        f"this list is {facts.trade.direction}",
        **inputs,
    )


def subject(facts: Facts, d: _Derived) -> RuleResult:
    """FX-SUBJECT: list ebc = order/money ebc = account holder, or a mandated collector."""
    trade, holder = facts.trade, facts.request.account_holder
    named = [("order", (trade.order or {}).get("ebcCode"))] + [
        (p.get("payNo") or p.get("payTransactionId") or "money document", p.get("ebcCode"))
        for p in trade.payments
    ]
    inputs: dict[str, Any] = {"list_ebc": trade.ebc_code, "account_holder": holder}
    for source, code in named:
        if code and code != trade.ebc_code:
            return _result(
                "FX-SUBJECT",
                Outcome.REJECT,
                f"{source} names enterprise {code}, the list {trade.ebc_code}: "
                "the trade data are not one subject's",
                **inputs,
                document_ebc=code,
            )
    if holder == trade.ebc_code:
        return _result(
            "FX-SUBJECT", Outcome.PASS, "the account holder is the list's enterprise", **inputs
        )
    if facts.mandate_exception and holder == facts.collecting_entity:
        return _result(
            "FX-SUBJECT",
            Outcome.PASS,
            f"collected by {holder} as {facts.mandate_exception.replace('_', ' ')} "
            "under the enterprise's mandate on file",
            **inputs,
            exception=facts.mandate_exception,
        )
    return _result(
        "FX-SUBJECT",
        Outcome.REJECT,
        f"account holder {holder} is neither enterprise {trade.ebc_code} nor a collector "
        "its mandate names",
        **inputs,
        exception=facts.mandate_exception,
    )


def _against_documents(
    rule: str,
    facts: Facts,
    d: _Derived,
    field_name: str,
    label: str,
    amount: Decimal | None,
    currency: str,
) -> RuleResult:
    docs = facts.trade.payments
    if not docs:
        return _result(rule, Outcome.REJECT, f"no {label} is linked to the list's order")
    target = docs[0].get("currency") or currency
    try:
        declared = _sum(
            [
                d.money.convert(Decimal(p.get(field_name, "")), p.get("currency") or target, target)
                for p in docs
            ]
        )
    except InvalidOperation:
        return _result(rule, Outcome.REJECT, f"a {label} has no valid {field_name}")
    wanted = None if amount is None else d.money.convert(amount, currency, target)
    if declared is None or wanted is None:
        return _no_rate(rule, d, facts)
    inputs = {
        "requested": wanted,
        "declared": declared,
        "currency": target,
        "tolerance": d.tolerance,
        "documents": len(docs),
    }
    if wanted <= declared:
        return _result(rule, Outcome.PASS, f"within the {label} total {declared}", **inputs)
    if wanted <= declared * (1 + d.tolerance):
        return _result(
            rule,
            Outcome.WARN,
            f"{wanted} exceeds the {label} total {declared} within the tolerance",
            **inputs,
        )
    return _result(rule, Outcome.REJECT, f"{wanted} exceeds the {label} total {declared}", **inputs)


def export_amount(facts: Facts, d: _Derived) -> RuleResult | None:
    """FX-AMOUNT: proceeds plus netted costs match the 收款单 (403) money, after conversion."""
    request = facts.request
    if request.kind is not SettlementKind.COLLECTION:
        return None
    gross = _sum(
        [
            request.amount,
            *(d.money.convert(n.amount, n.currency, request.currency) for n in request.netting),
        ]
    )
    return _against_documents(
        "FX-AMOUNT", facts, d, "charge", "收款单 (403)", gross, request.currency
    )


def import_payment(facts: Facts, d: _Derived) -> RuleResult | None:
    """FX-PAYMENT: an import payment is at most the sum of the linked 411 payments."""
    request = facts.request
    if request.kind is not SettlementKind.PAYMENT:
        return None
    return _against_documents(
        "FX-PAYMENT", facts, d, "amountPaid", "支付单 (411)", request.amount, request.currency
    )


def payer(facts: Facts, d: _Derived) -> RuleResult | None:
    """FX-PAYER: on an import, every 411 payer is the list's (and the order's) buyer."""
    if facts.request.kind is not SettlementKind.PAYMENT:
        return None
    buyer = facts.trade.buyer_id_number or (facts.trade.order or {}).get("buyerIdNumber")
    order_buyer = (facts.trade.order or {}).get("buyerIdNumber")
    inputs = {"buyer": mask_id(buyer)}
    if not buyer or (order_buyer and order_buyer != buyer):
        return _result(
            "FX-PAYER", Outcome.REJECT, "the list and its order name no single buyer", **inputs
        )
    if not facts.trade.payments:
        return _result("FX-PAYER", Outcome.REJECT, "no 支付单 (411) names a payer", **inputs)
    for p in facts.trade.payments:
        if p.get("payerIdNumber") != buyer:
            return _result(
                "FX-PAYER",
                Outcome.REJECT,
                f"the payer of {p.get('payTransactionId', 'a 411')} is not the buyer",
                **inputs,
                payer=mask_id(p.get("payerIdNumber")),
            )
    return _result("FX-PAYER", Outcome.PASS, "the payer is the buyer", **inputs)


def ledger(facts: Facts, d: _Derived) -> RuleResult:
    """FX-LEDGER: uniqueness of use: a list (line) backs settlements only up to its value."""
    remaining = d.value - facts.allocated
    inputs: dict[str, Any] = {
        "value": d.value,
        "allocated": facts.allocated,
        "requested": d.gross,
        "currency": d.currency,
        "tolerance": d.tolerance,
    }
    if d.gross is None:
        return _no_rate("FX-LEDGER", d, facts)
    lines = {line.gnum: line for line in facts.trade.lines}
    shares = facts.request.lines
    for share in shares:
        line = lines.get(share.gnum)
        if line is None:
            return _result(
                "FX-LEDGER", Outcome.REJECT, f"the list has no line {share.gnum}", **inputs
            )
        left = line.total_price - facts.line_allocated.get(share.gnum, Decimal(0))
        if share.amount > left:
            return _result(
                "FX-LEDGER",
                Outcome.REJECT,
                f"line {share.gnum} has {left} unallocated, {share.amount} was asked",
                **inputs,
                line=share.gnum,
            )
    if remaining <= 0:
        return _result(
            "FX-LEDGER", Outcome.REJECT, "the list's value is fully allocated already", **inputs
        )
    allocation = d.gross
    outcome, why = Outcome.PASS, f"{d.gross} of {remaining} unallocated"
    if d.gross > remaining:
        if d.gross > remaining + d.value * d.tolerance:
            return _result(
                "FX-LEDGER",
                Outcome.REJECT,
                f"{d.gross} exceeds the {remaining} still unallocated",
                **inputs,
            )
        allocation = remaining
        outcome = Outcome.WARN
        why = f"{d.gross} exceeds the {remaining} unallocated within the tolerance: takes the rest"
    if sum((s.amount for s in shares), Decimal(0)) > allocation:
        return _result(
            "FX-LEDGER",
            Outcome.REJECT,
            f"the line shares add up to more than the {allocation} allocated",
            **inputs,
        )
    return _result("FX-LEDGER", outcome, why, **inputs, allocation=allocation)


def returned(facts: Facts, d: _Derived) -> RuleResult:
    """FX-RETURNED: a list returned or refunded after release needs the bank's review."""
    if facts.returned is None:
        return _result("FX-RETURNED", Outcome.PASS, "no return or cancellation recorded")
    return _result(
        "FX-RETURNED",
        Outcome.HOLD,
        f"the list was {facts.returned} after its release: verify what is left before settling",
        returned=facts.returned,
    )


def directory(facts: Facts, d: _Derived) -> RuleResult:
    """FX-DIRECTORY: unregistered enterprises settle up to USD 200,000 a year (名录)."""
    if facts.fx_directory_status == "registered":
        return _result("FX-DIRECTORY", Outcome.PASS, "the enterprise is in the FX directory")
    if d.amount_usd is None:
        return _no_rate("FX-DIRECTORY", d, facts)
    ytd = facts.ytd_usd or Decimal(0)
    after = ytd + d.amount_usd
    inputs = {"year_to_date_usd": ytd, "with_this_usd": after}
    if after > DIRECTORY_EXEMPT_USD:
        return _result(
            "FX-DIRECTORY",
            Outcome.HOLD,
            f"USD {after} this year is above the {DIRECTORY_EXEMPT_USD} exemption: "
            "the enterprise must register in the FX directory first",
            **inputs,
        )
    if after >= DIRECTORY_WARN_USD:
        return _result(
            "FX-DIRECTORY",
            Outcome.WARN,
            f"USD {after} this year is close to the {DIRECTORY_EXEMPT_USD} exemption",
            **inputs,
        )
    return _result(
        "FX-DIRECTORY",
        Outcome.PASS,
        f"USD {after} this year: exempt from the directory",
        **inputs,
    )


def fx_class(facts: Facts, d: _Derived) -> RuleResult:
    """FX-CLASS: class B is checked strictly (no tolerance); class C needs SAFE registration."""
    cls = facts.fx_class
    if cls == "C":
        if facts.request.safe_registration_no:
            return _result(
                "FX-CLASS",
                Outcome.PASS,
                "class C: registered with SAFE for this transaction",
                fx_class=cls,
                safe_registration_no=facts.request.safe_registration_no,
            )
        return _result(
            "FX-CLASS",
            Outcome.HOLD,
            "class C: each transaction needs SAFE registration first",
            fx_class=cls,
        )
    if cls == "B":
        return _result(
            "FX-CLASS",
            Outcome.PASS,
            "class B: every amount checked against the trade data without tolerance",
            fx_class=cls,
        )
    return _result("FX-CLASS", Outcome.PASS, f"class {cls or 'A (not classified)'}", fx_class=cls)


def large(facts: Facts, d: _Derived) -> RuleResult:
    """FX-LARGE: above USD 100,000 a transaction is flagged for the customs-data check."""
    if d.amount_usd is None:
        return _no_rate("FX-LARGE", d, facts)
    if d.amount_usd > LARGE_USD:
        return _result(
            "FX-LARGE",
            Outcome.WARN,
            f"USD {d.amount_usd} is above {LARGE_USD}: flagged, checked against customs data",
            amount_usd=d.amount_usd,
        )
    return _result(
        "FX-LARGE", Outcome.PASS, f"USD {d.amount_usd} (≤ {LARGE_USD})", amount_usd=d.amount_usd
    )


RULES: tuple[Rule, ...] = (
    status_gate,
    direction,
    subject,
    export_amount,
    import_payment,
    payer,
    ledger,
    returned,
    directory,
    fx_class,
    large,
)


def evaluate(facts: Facts) -> Evaluation:
    """Run every rule; PASS or WARN means the settlement may take ``allocation``."""
    d = _derive(facts)
    results = [r for r in (rule(facts, d) for rule in RULES) if r is not None]
    outcome = worst([r.outcome for r in results])
    settles = outcome in (Outcome.PASS, Outcome.WARN)
    allocation = next(
        (Decimal(r.inputs["allocation"]) for r in results if "allocation" in r.inputs), None
    )
    return Evaluation(
        outcome=outcome,
        results=results,
        allocation=allocation if settles else None,
        line_allocations={s.gnum: s.amount for s in facts.request.lines} if settles else {},
        list_currency=d.currency,
        amount_usd=d.amount_usd,
        flagged=any(r.id == "FX-LARGE" and r.outcome is Outcome.WARN for r in results),
    )
