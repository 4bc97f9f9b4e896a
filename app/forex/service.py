"""Forex use cases: banks' trade lists, checks, settlements on the uniqueness ledger, rates.

Customs is read through its service (released trade lists as DTOs); the registry through its
service (mandates, directory status, FX class). A settlement claims its bankRef (unique
key), then locks the list's ledger row, then its enterprise's year total, always in that
order, so concurrent settlements and reversals queue instead of deadlocking; CHECK
constraints keep every allocation within the value even against a bug.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import CursorResult, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit, outbox
from app.ceb.times import CHINA
from app.customs import service as customs_service
from app.customs.schemas import TradeListRead
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.feeds import Feed
from app.forex import rules
from app.forex.events import TradeListAlertRaised
from app.forex.masking import MONEY_FIELDS, ORDER_FIELDS, mask_id, masked_head
from app.forex.models import (
    ALERT_NUMBERS,
    Alert,
    Allocation,
    CheckRecord,
    EnterpriseTotal,
    ExchangeRate,
    Ledger,
    LedgerLine,
    Policy,
    Settlement,
)
from app.forex.schemas import (
    AlertPage,
    AlertRead,
    CheckRequest,
    CheckResult,
    CurrencyValue,
    Outcome,
    PolicyBody,
    PolicyRead,
    RateItem,
    RuleResult,
    SettlementCreate,
    SettlementRead,
    SettlementStatus,
    TradeListLineView,
    TradeListPage,
    TradeListView,
)
from app.registry import service as registry_service

DEFAULT_TOLERANCE = Decimal("0.01")
_Q = Decimal("0.00001")
# Alerts are read by position, not id (app.feeds); the key is held by their publisher.
ALERT_FEED = Feed(cast(Table, Alert.__table__), ALERT_NUMBERS, lock_key=7_310_006)
ZERO = Decimal(0)


class TradeListNotFound(NotFound):
    pass


class SettlementNotFound(NotFound):
    pass


class BankRefReused(Conflict):
    pass


class NotReversible(Conflict):
    pass


class LedgerRace(Conflict):
    pass


class PolicyConflict(Conflict):
    pass


@dataclass(frozen=True)
class _Mandate:
    exception_kind: str | None
    collecting_entity: str | None


@dataclass(frozen=True)
class _LedgerState:
    id: int | None
    allocated: Decimal
    lines: dict[int, Decimal]
    returned: str | None


_NO_LEDGER = _LedgerState(None, ZERO, {}, None)


@dataclass(frozen=True)
class _Enterprise:
    directory_status: str
    fx_class: str | None

    @property
    def registered(self) -> bool:
        return self.directory_status == "registered"


def _enterprise(session: Session, code: str) -> _Enterprise:
    found = registry_service.get_enterprise(session, code=code)
    return _Enterprise(found.fx_directory_status, found.fx_class)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q)


# ---------------------------------------------------------------- who sees which lists


def _mandate(session: Session, *, bank_code: str, ebc_code: str) -> _Mandate | None:
    for m in registry_service.bank_mandates(session, code=ebc_code):
        if m.bank_code == bank_code:
            return _Mandate(m.exception_kind, m.collecting_entity)
    return None


def _visible(session: Session, *, bank_code: str, invt_no: str) -> tuple[TradeListRead, _Mandate]:
    trade = customs_service.trade_list(session, invt_no=invt_no)
    mandate = (
        None if trade is None else _mandate(session, bank_code=bank_code, ebc_code=trade.ebc_code)
    )
    if trade is None or mandate is None:
        # The same answer for an unknown list and another bank's: a bank cannot probe.
        raise TradeListNotFound(f"no trade list {invt_no} for this bank")
    return trade, mandate


# ---------------------------------------------------------------- the ledger


def _insert(session: Session, table: Table) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _insert_missing(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> Any:
    """INSERT … ON CONFLICT DO NOTHING; on PostgreSQL it waits for a racing insert's commit."""
    return session.execute(
        _insert(session, table).values(rows).on_conflict_do_nothing(index_elements=keys)
    )


def _new_ledger(session: Session, trade: TradeListRead) -> int | None:
    """Create the list's ledger (and its lines) unless it exists; the new id, or None."""
    table = cast(Table, Ledger.__table__)
    created = session.execute(
        _insert(session, table)
        .values(
            inventory_id=trade.id,
            invt_no=trade.invt_no,
            direction=trade.direction,
            ebc_code=trade.ebc_code,
            currency=rules.list_currency(trade),
            value=rules.list_value(trade),
            allocated=ZERO,
        )
        .on_conflict_do_nothing(index_elements=["inventory_id"])
        .returning(table.c.id)
    ).scalar()
    ledger_id = None if created is None else int(created)
    if ledger_id is not None and trade.lines:
        _insert_missing(
            session,
            cast(Table, LedgerLine.__table__),
            [
                {
                    "ledger_id": ledger_id,
                    "gnum": line.gnum,
                    "currency": line.currency,
                    "value": line.total_price,
                    "allocated": ZERO,
                }
                for line in trade.lines
            ],
            ["ledger_id", "gnum"],
        )
    return ledger_id


def _ledger_lines(session: Session, ledger_ids: Iterable[int]) -> dict[int, dict[int, Decimal]]:
    found: dict[int, dict[int, Decimal]] = {}
    rows = session.execute(
        select(LedgerLine.ledger_id, LedgerLine.gnum, LedgerLine.allocated).where(
            LedgerLine.ledger_id.in_(list(ledger_ids))
        )
    )
    for ledger_id, gnum, allocated in rows:
        found.setdefault(ledger_id, {})[gnum] = allocated
    return found


def _locked_ledger(session: Session, trade: TradeListRead, *, lines: bool) -> _LedgerState:
    """The list's ledger, locked until commit (a new one is locked by being uncommitted)."""
    created = _new_ledger(session, trade)
    if created is not None:
        return _LedgerState(created, ZERO, {}, None)
    row = session.execute(
        select(Ledger.id, Ledger.allocated, Ledger.returned_kind)
        .where(Ledger.inventory_id == trade.id)
        .with_for_update()
    ).one()
    taken = _ledger_lines(session, [row.id]).get(row.id, {}) if lines else {}
    return _LedgerState(row.id, row.allocated, taken, row.returned_kind)


def _ledger_states(session: Session, inventory_ids: Sequence[int]) -> dict[int, _LedgerState]:
    rows = session.execute(
        select(Ledger.id, Ledger.inventory_id, Ledger.allocated, Ledger.returned_kind).where(
            Ledger.inventory_id.in_(inventory_ids)
        )
    ).all()
    lines = _ledger_lines(session, [r.id for r in rows])
    return {
        r.inventory_id: _LedgerState(r.id, r.allocated, lines.get(r.id, {}), r.returned_kind)
        for r in rows
    }


def _take(
    session: Session, model: type[Ledger] | type[LedgerLine], where: list[Any], amount: Decimal
) -> None:
    # The row is locked already; the condition is the database's own guard against overdraw.
    result = session.execute(
        update(model)
        .where(*where, model.allocated + amount <= model.value, model.allocated + amount >= 0)
        .values(allocated=model.allocated + amount)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise LedgerRace("the list's ledger changed under this settlement; retry")


# ---------------------------------------------------------------- trade lists for banks


def _view(trade: TradeListRead, state: _LedgerState) -> TradeListView:
    currency = rules.list_currency(trade)
    value = rules.list_value(trade)
    by_currency: dict[str, Decimal] = {currency: trade.freight + trade.insured_fee}
    for line in trade.lines:
        by_currency[line.currency] = by_currency.get(line.currency, ZERO) + line.total_price
    return TradeListView(
        invt_no=trade.invt_no or "",
        direction=trade.direction,
        status=trade.status,
        ebc_code=trade.ebc_code,
        ebp_code=trade.ebp_code,
        order_no=trade.order_no,
        customs_code=trade.customs_code,
        released_at=trade.released_at,
        currency=currency,
        value=value,
        values=[CurrencyValue(currency=c, amount=a) for c, a in sorted(by_currency.items())],
        allocated=state.allocated,
        unallocated=value - state.allocated,
        returned=state.returned,
        buyer_id_number=mask_id(trade.buyer_id_number),
        lines=[
            TradeListLineView(
                gnum=line.gnum,
                gcode=line.gcode,
                gname=line.gname,
                currency=line.currency,
                value=line.total_price,
                unallocated=line.total_price - state.lines.get(line.gnum, ZERO),
            )
            for line in trade.lines
        ],
        order=masked_head(trade.order, ORDER_FIELDS) if trade.order else None,
        money_documents=[masked_head(p, MONEY_FIELDS) for p in trade.payments],
    )


def _china_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


def trade_lists(
    session: Session,
    *,
    bank_code: str,
    ebc_code: str | None,
    direction: str | None,
    released_from: date | None,
    released_to: date | None,
    after: int,
    limit: int,
) -> TradeListPage:
    """Released lists of the enterprises that mandated the bank; another's are not found."""
    mandated = sorted(
        {
            m.enterprise_code
            for m in registry_service.mandating_enterprises(session, bank_code=bank_code)
        }
    )
    if ebc_code is not None:
        if ebc_code not in mandated:
            raise TradeListNotFound(f"no enterprise {ebc_code} has mandated this bank")
        mandated = [ebc_code]
    if not mandated:
        return TradeListPage(trade_lists=[], next_after=None)
    trades = customs_service.released_trade_lists(
        session,
        ebc_codes=mandated,
        direction=direction,
        released_from=_china_day_start(released_from) if released_from else None,
        released_to=_china_day_start(released_to + timedelta(days=1)) if released_to else None,
        limit=limit + 1,
        after_id=after,
    )
    page = trades[:limit]
    states = _ledger_states(session, [t.id for t in page])
    return TradeListPage(
        trade_lists=[_view(t, states.get(t.id, _NO_LEDGER)) for t in page],
        next_after=page[-1].id if len(trades) > limit else None,
    )


def trade_list(session: Session, *, bank_code: str, invt_no: str) -> TradeListView:
    """One released list of a mandating enterprise, with what is still unallocated."""
    trade, _ = _visible(session, bank_code=bank_code, invt_no=invt_no)
    if trade.status not in rules.USABLE:
        raise TradeListNotFound(f"no trade list {invt_no} for this bank")
    return _view(trade, _ledger_states(session, [trade.id]).get(trade.id, _NO_LEDGER))


# ---------------------------------------------------------------- checks and settlements


def current_policy(session: Session) -> PolicyRead:
    """The check settings in force (the newest version; built-in defaults before any)."""
    row = session.execute(
        select(Policy.version, Policy.tolerance).order_by(Policy.version.desc()).limit(1)
    ).first()
    if row is None:
        return PolicyRead(version=0, tolerance=DEFAULT_TOLERANCE)
    return PolicyRead(version=row.version, tolerance=row.tolerance)


def replace_policy(session: Session, *, body: PolicyBody, actor: str) -> PolicyRead:
    """Put a new version of the check settings in force; earlier checks keep their version."""
    version = current_policy(session).version + 1
    session.add(Policy(version=version, tolerance=body.tolerance, created_by=actor))
    try:
        session.flush()
    except IntegrityError as exc:
        raise PolicyConflict("the policy changed meanwhile; reload and retry") from exc
    audit.record(
        session,
        actor=actor,
        action="forex.policy.replaced",
        subject_type="forex_policy",
        subject_id=str(version),
        detail=body.model_dump(mode="json"),
    )
    return PolicyRead(version=version, tolerance=body.tolerance)


def _rates(session: Session, currencies: set[str], on: date) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for currency in sorted(currencies - {rules.CNY}):
        rate = session.scalar(
            select(ExchangeRate.rate)
            .where(ExchangeRate.currency == currency, ExchangeRate.effective_date <= on)
            .order_by(ExchangeRate.effective_date.desc())
            .limit(1)
        )
        if rate is not None:
            found[currency] = rate
    return found


def _currencies(data: CheckRequest, trade: TradeListRead) -> set[str]:
    return {
        rules.USD,
        rules.list_currency(trade),
        data.currency,
        *(n.currency for n in data.netting),
        *(line.currency for line in trade.lines),
        *(p["currency"] for p in trade.payments if p.get("currency")),
    }


def _year_to_date(session: Session, *, code: str, year: int, direction: str, lock: bool) -> Decimal:
    if lock:
        # One round trip: create the row if missing, lock it, read it (DO UPDATE locks).
        table = cast(Table, EnterpriseTotal.__table__)
        total = session.execute(
            _insert(session, table)
            .values(enterprise_code=code, year=year, direction=direction, usd_total=ZERO)
            .on_conflict_do_update(
                index_elements=["enterprise_code", "year", "direction"],
                set_={"usd_total": table.c.usd_total},
            )
            .returning(table.c.usd_total)
        ).scalar()
        return cast(Decimal, total)
    found = session.scalar(
        select(EnterpriseTotal.usd_total).where(
            EnterpriseTotal.enterprise_code == code,
            EnterpriseTotal.year == year,
            EnterpriseTotal.direction == direction,
        )
    )
    return found or ZERO


def _evaluate(
    session: Session,
    *,
    data: CheckRequest,
    trade: TradeListRead,
    mandate: _Mandate,
    state: _LedgerState,
    value_date: date,
    enterprise: _Enterprise,
    ytd_usd: Decimal | None,
    policy: PolicyRead,
) -> tuple[rules.Facts, rules.Evaluation]:
    facts = rules.Facts(
        request=data,
        trade=trade,
        value_date=value_date,
        rates=_rates(session, _currencies(data, trade), value_date),
        mandate_exception=mandate.exception_kind,
        collecting_entity=mandate.collecting_entity,
        fx_directory_status=enterprise.directory_status,
        fx_class=enterprise.fx_class,
        allocated=state.allocated,
        line_allocated=state.lines,
        returned=state.returned,
        ytd_usd=ytd_usd,
        tolerance=policy.tolerance,
    )
    return facts, rules.evaluate(facts)


def _record(
    session: Session,
    *,
    bank_code: str,
    kind: str,
    bank_ref: str | None,
    facts: rules.Facts,
    evaluation: rules.Evaluation,
    policy: PolicyRead,
    at: datetime,
) -> CheckRecord:
    trade = facts.trade
    values: dict[str, Any] = {
        "bank_code": bank_code,
        "kind": kind,
        "invt_no": trade.invt_no or "",
        "bank_ref": bank_ref,
        "outcome": evaluation.outcome.value,
        "rules": [r.model_dump(mode="json") for r in evaluation.results],
        "inputs": {
            "request": facts.request.model_dump(mode="json"),
            "list": {
                "id": trade.id,
                "status": trade.status,
                "direction": trade.direction,
                "ebc_code": trade.ebc_code,
                "currency": rules.list_currency(trade),
                "value": str(rules.list_value(trade)),
                "allocated": str(facts.allocated),
                "returned": facts.returned,
            },
            "value_date": facts.value_date.isoformat(),
            "rates": {c: str(r) for c, r in sorted(facts.rates.items())},
            "mandate_exception": facts.mandate_exception,
            "fx_directory_status": facts.fx_directory_status,
            "fx_class": facts.fx_class,
            "year_to_date_usd": None if facts.ytd_usd is None else str(facts.ytd_usd),
            "tolerance": str(facts.tolerance),
        },
        "policy_version": policy.version,
        "checked_at": at,
    }
    # Core, not the unit of work: one INSERT … RETURNING on the settlement's hot path.
    record_id = session.execute(
        insert(CheckRecord).values(values).returning(CheckRecord.id)
    ).scalar_one()
    return CheckRecord(id=record_id, **values)


def _value_date(data: CheckRequest, at: datetime) -> date:
    return data.value_date or at.astimezone(CHINA).date()


def check(session: Session, *, bank_code: str, data: CheckRequest, at: datetime) -> CheckResult:
    """Dry run: every rule against the list as it stands; recorded, nothing allocated."""
    trade, mandate = _visible(session, bank_code=bank_code, invt_no=data.invt_no)
    value_date = _value_date(data, at)
    policy = current_policy(session)
    facts, evaluation = _evaluate(
        session,
        data=data,
        trade=trade,
        mandate=mandate,
        state=_ledger_states(session, [trade.id]).get(trade.id, _NO_LEDGER),
        value_date=value_date,
        enterprise=_enterprise(session, trade.ebc_code),
        ytd_usd=_year_to_date(
            session,
            code=trade.ebc_code,
            year=value_date.year,
            direction=trade.direction,
            lock=False,
        ),
        policy=policy,
    )
    record = _record(
        session,
        bank_code=bank_code,
        kind="check",
        bank_ref=None,
        facts=facts,
        evaluation=evaluation,
        policy=policy,
        at=at,
    )
    return CheckResult(
        check_id=record.id,
        invt_no=record.invt_no,
        outcome=evaluation.outcome,
        rules=evaluation.results,
        allocatable=evaluation.allocation,
        list_currency=evaluation.list_currency,
        amount_usd=evaluation.amount_usd,
        policy_version=policy.version,
        checked_at=at,
    )


def _canonical(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def request_hash(data: SettlementCreate) -> str:
    """Two requests are the same when they differ at most in how their amounts are written."""
    body = json.dumps(data.model_dump(), sort_keys=True, default=_canonical)
    return hashlib.sha256(body.encode()).hexdigest()


def _read(settlement: Settlement, record: CheckRecord | None) -> SettlementRead:
    return SettlementRead(
        id=settlement.id,
        bank_ref=settlement.bank_ref,
        kind=settlement.kind,
        invt_no=settlement.invt_no,
        enterprise_code=settlement.enterprise_code,
        account_holder=settlement.account_holder,
        amount=settlement.amount,
        currency=settlement.currency,
        value_date=settlement.value_date,
        status=settlement.status,
        outcome=settlement.outcome,
        allocated=settlement.allocated,
        list_currency=settlement.list_currency,
        amount_usd=settlement.amount_usd,
        flagged=settlement.flagged,
        rules=[RuleResult.model_validate(r) for r in record.rules] if record else [],
        created_at=settlement.created_at,
        reversed_at=settlement.reversed_at,
        reversal_reason=settlement.reversal_reason,
    )


def _by_ref(session: Session, bank_code: str, bank_ref: str) -> Settlement | None:
    return session.scalars(
        select(Settlement).where(Settlement.bank_code == bank_code, Settlement.bank_ref == bank_ref)
    ).first()


def _replay(session: Session, settlement: Settlement, digest: str) -> SettlementRead:
    if settlement.request_hash != digest:
        raise BankRefReused(
            f"bankRef {settlement.bank_ref} was used for a different request (settlement "
            f"{settlement.id})"
        )
    record = session.get(CheckRecord, settlement.check_id) if settlement.check_id else None
    return _read(settlement, record)


def settle(
    session: Session, *, bank_code: str, data: SettlementCreate, actor: str, at: datetime
) -> tuple[SettlementRead, bool]:
    """Check and, on PASS or WARN, allocate in one transaction; idempotent by bankRef.

    Returns the settlement and whether it is the replay of an earlier identical request
    (replays too need the list to be visible to the bank). A bankRef already used for a
    different request is a conflict.
    """
    digest = request_hash(data)
    trade, mandate = _visible(session, bank_code=bank_code, invt_no=data.invt_no)
    value_date = _value_date(data, at)
    claim: dict[str, Any] = {
        "id": uuid4(),
        "bank_code": bank_code,
        "bank_ref": data.bank_ref,
        "request_hash": digest,
        "kind": data.kind.value,
        "invt_no": data.invt_no,
        "enterprise_code": trade.ebc_code,
        "account_holder": data.account_holder,
        "amount": _q(data.amount),
        "currency": data.currency,
        "value_date": value_date,
        "status": SettlementStatus.PENDING.value,
        "flagged": False,
        "created_at": at,
    }
    # Claim the bankRef first: a retry finds it taken (a concurrent one waits for the
    # claimant's commit on the unique key) and replays the stored answer.
    table = cast(Table, Settlement.__table__)
    claimed = session.execute(
        _insert(session, table)
        .values(claim)
        .on_conflict_do_nothing(index_elements=["bank_code", "bank_ref"])
        .returning(table.c.id)
    ).scalar()
    if claimed is None:
        existing = _by_ref(session, bank_code, data.bank_ref)
        if existing is None:  # pragma: no cover - the winner rolled back between the two
            raise LedgerRace("a concurrent request with this bankRef failed; retry")
        return _replay(session, existing, digest), True
    enterprise = _enterprise(session, trade.ebc_code)
    state = _locked_ledger(session, trade, lines=bool(data.lines))
    # The year's total matters only below the directory threshold: an unregistered
    # enterprise's total is locked for the check, a registered one's only added to at the end.
    ytd = (
        None
        if enterprise.registered
        else _year_to_date(
            session,
            code=trade.ebc_code,
            year=value_date.year,
            direction=trade.direction,
            lock=True,
        )
    )
    policy = current_policy(session)
    facts, evaluation = _evaluate(
        session,
        data=data,
        trade=trade,
        mandate=mandate,
        state=state,
        value_date=value_date,
        enterprise=enterprise,
        ytd_usd=ytd,
        policy=policy,
    )
    record = _record(
        session,
        bank_code=bank_code,
        kind="settlement",
        bank_ref=data.bank_ref,
        facts=facts,
        evaluation=evaluation,
        policy=policy,
        at=at,
    )
    usd = None if evaluation.amount_usd is None else _q(evaluation.amount_usd)
    outcome: dict[str, Any] = {
        "check_id": record.id,
        "outcome": evaluation.outcome.value,
        "ledger_id": state.id,
        "list_currency": evaluation.list_currency,
        "amount_usd": usd,
        "flagged": evaluation.flagged,
        "status": SettlementStatus.REJECTED.value,
    }
    if evaluation.outcome is Outcome.HOLD:
        outcome["status"] = SettlementStatus.HELD.value
    if evaluation.allocation is not None and state.id is not None:
        outcome["allocated"] = _allocate(session, claim["id"], state.id, evaluation, at)
        outcome["status"] = SettlementStatus.SETTLED.value
        if usd is not None:
            _add_to_year(session, trade, value_date.year, usd)
            outcome["ytd_year"] = value_date.year
    session.execute(
        update(Settlement)
        .where(Settlement.id == claim["id"])
        .values(outcome)
        .execution_options(synchronize_session=False)
    )
    settlement = Settlement(**claim | outcome)
    audit.record(
        session,
        actor=actor,
        action="forex.settlement",
        subject_type="forex_settlement",
        subject_id=str(settlement.id),
        detail={
            "bank_ref": data.bank_ref,
            "invt_no": data.invt_no,
            "outcome": settlement.outcome,
            "status": settlement.status,
            "allocated": settlement.allocated,
            "rules": [f"{r.id}:{r.outcome.value}" for r in evaluation.results],
            "check_id": record.id,
        },
        at=at,
    )
    return _read(settlement, record), False


def _allocate(
    session: Session,
    settlement_id: UUID,
    ledger_id: int,
    evaluation: rules.Evaluation,
    at: datetime,
) -> Decimal:
    amount = _q(evaluation.allocation or ZERO)
    _take(session, Ledger, [Ledger.id == ledger_id], amount)
    journal: list[dict[str, Any]] = [{"gnum": None, "amount": amount}]
    for gnum, share in sorted(evaluation.line_allocations.items()):
        where = [LedgerLine.ledger_id == ledger_id, LedgerLine.gnum == gnum]
        _take(session, LedgerLine, where, share)
        journal.append({"gnum": gnum, "amount": _q(share)})
    rows = [
        {"settlement_id": settlement_id, "ledger_id": ledger_id, "at": at, **j} for j in journal
    ]
    if len(rows) == 1:
        session.execute(insert(Allocation).values(rows[0]))
    else:
        session.execute(insert(Allocation), rows)
    return amount


def _add_to_year(session: Session, trade: TradeListRead, year: int, usd: Decimal) -> None:
    table = cast(Table, EnterpriseTotal.__table__)
    session.execute(
        _insert(session, table)
        .values(enterprise_code=trade.ebc_code, year=year, direction=trade.direction, usd_total=usd)
        .on_conflict_do_update(
            index_elements=["enterprise_code", "year", "direction"],
            set_={"usd_total": table.c.usd_total + usd},
        )
    )


def get_settlement(session: Session, *, bank_code: str, settlement_id: UUID) -> SettlementRead:
    """One of the bank's own settlements with the rules that decided it."""
    settlement = session.scalars(
        select(Settlement).where(Settlement.id == settlement_id, Settlement.bank_code == bank_code)
    ).first()
    if settlement is None:
        raise SettlementNotFound(f"no settlement {settlement_id}")
    record = session.get(CheckRecord, settlement.check_id) if settlement.check_id else None
    return _read(settlement, record)


def reverse(
    session: Session,
    *,
    bank_code: str,
    settlement_id: UUID,
    reason: str,
    actor: str,
    at: datetime,
) -> SettlementRead:
    """Give a settled amount back to the list (line) and the enterprise's year; once."""
    settlement = session.scalars(
        select(Settlement)
        .where(Settlement.id == settlement_id, Settlement.bank_code == bank_code)
        .with_for_update()
    ).first()
    if settlement is None:
        raise SettlementNotFound(f"no settlement {settlement_id}")
    record = session.get(CheckRecord, settlement.check_id) if settlement.check_id else None
    if settlement.status == SettlementStatus.REVERSED.value:
        return _read(settlement, record)
    if settlement.status != SettlementStatus.SETTLED.value or settlement.ledger_id is None:
        raise NotReversible(
            f"settlement {settlement_id} is {settlement.status}: nothing to reverse"
        )
    ledger_id = settlement.ledger_id
    session.execute(select(Ledger.id).where(Ledger.id == ledger_id).with_for_update())
    taken = session.execute(
        select(Allocation.gnum, func.sum(Allocation.amount))
        .where(Allocation.settlement_id == settlement.id)
        .group_by(Allocation.gnum)
    ).all()
    for gnum, amount in sorted(taken, key=lambda row: (row[0] is not None, row[0] or 0)):
        if not amount:
            continue
        if gnum is None:
            _take(session, Ledger, [Ledger.id == ledger_id], -amount)
        else:
            _take(
                session,
                LedgerLine,
                [LedgerLine.ledger_id == ledger_id, LedgerLine.gnum == gnum],
                -amount,
            )
        session.add(
            Allocation(
                settlement_id=settlement.id, ledger_id=ledger_id, gnum=gnum, amount=-amount, at=at
            )
        )
    if settlement.ytd_year is not None and settlement.amount_usd is not None:
        session.execute(
            update(EnterpriseTotal)
            .where(
                EnterpriseTotal.enterprise_code == settlement.enterprise_code,
                EnterpriseTotal.year == settlement.ytd_year,
                EnterpriseTotal.direction == ("E" if settlement.kind == "collection" else "I"),
            )
            .values(usd_total=EnterpriseTotal.usd_total - settlement.amount_usd)
            .execution_options(synchronize_session=False)
        )
    settlement.status = SettlementStatus.REVERSED.value
    settlement.reversed_at = at
    settlement.reversal_reason = reason
    audit.record(
        session,
        actor=actor,
        action="forex.settlement.reversed",
        subject_type="forex_settlement",
        subject_id=str(settlement.id),
        detail={"bank_ref": settlement.bank_ref, "invt_no": settlement.invt_no, "reason": reason},
        at=at,
    )
    return _read(settlement, record)


# ---------------------------------------------------------------- returns after allocation


def record_return(
    session: Session,
    *,
    inventory_id: int,
    invt_no: str | None,
    kind: str,
    event_id: UUID,
    at: datetime,
) -> int:
    """Mark a list returned, cancelled or refunded; alert each bank it backs. Returns alerts.

    A refund leaves the list released, so it is recorded even before any allocation: later
    checks HOLD on it (FX-RETURNED). Returns and cancels end the list's status instead.
    """
    ledger = session.scalars(
        select(Ledger).where(Ledger.inventory_id == inventory_id).with_for_update()
    ).first()
    if ledger is None and kind == "refunded" and invt_no:
        trade = customs_service.trade_list(session, invt_no=invt_no)
        if trade is not None:
            _new_ledger(session, trade)
            ledger = session.scalars(
                select(Ledger).where(Ledger.inventory_id == inventory_id).with_for_update()
            ).first()
    if ledger is None:
        return 0
    ledger.returned_kind = kind
    ledger.returned_at = at
    backed = session.execute(
        select(Settlement.bank_code, Settlement.id, Settlement.allocated)
        .where(
            Settlement.ledger_id == ledger.id,
            Settlement.status == SettlementStatus.SETTLED.value,
        )
        .order_by(Settlement.bank_code, Settlement.created_at)
    ).all()
    by_bank: dict[str, list[tuple[UUID, Decimal]]] = {}
    for bank_code, settlement_id, allocated in backed:
        by_bank.setdefault(bank_code, []).append((settlement_id, allocated or ZERO))
    raised = 0
    for bank_code, settlements in by_bank.items():
        seen = session.scalar(
            select(Alert.id).where(Alert.source_event_id == event_id, Alert.bank_code == bank_code)
        )
        if seen is not None:
            continue
        alert = Alert(
            bank_code=bank_code,
            invt_no=ledger.invt_no,
            ebc_code=ledger.ebc_code,
            kind=kind,
            allocated=sum((a for _, a in settlements), ZERO),
            currency=ledger.currency,
            settlement_ids=[str(s) for s, _ in settlements],
            source_event_id=event_id,
            raised_at=at,
        )
        session.add(alert)
        session.flush()
        outbox.publish(
            session,
            TradeListAlertRaised(
                alert_id=alert.id,
                bank_code=bank_code,
                invt_no=alert.invt_no,
                ebc_code=alert.ebc_code,
                kind=kind,
                allocated=alert.allocated,
                currency=alert.currency,
                raised_at=at,
            ),
        )
        raised += 1
    return raised


def alerts(session: Session, *, bank_code: str | None, after: int, limit: int) -> AlertPage:
    """Alerts after a position, in the order they committed, publishing what committed
    (app.feeds); a bank sees its own, an administrator every bank's."""
    ALERT_FEED.publish(session)
    query = select(Alert).where(Alert.position > after).order_by(Alert.position).limit(limit + 1)
    if bank_code is not None:
        query = query.where(Alert.bank_code == bank_code)
    rows = session.scalars(query).all()
    page = rows[:limit]
    return AlertPage(
        alerts=[AlertRead.model_validate(a) for a in page],
        next_after=page[-1].position if len(rows) > limit else None,
    )


# ---------------------------------------------------------------- exchange rates


def load_rates(session: Session, *, rates: Sequence[RateItem], actor: str) -> int:
    """Store rates (CNY per unit) by currency and effective date; a reload replaces a day's."""
    latest = {(r.currency, r.effective_date): r.rate for r in rates}
    for (currency, day), rate in latest.items():
        row = session.get(ExchangeRate, (currency, day))
        if row is None:
            session.add(
                ExchangeRate(currency=currency, effective_date=day, rate=rate, loaded_by=actor)
            )
        else:
            row.rate, row.loaded_by, row.loaded_at = rate, actor, utcnow()
    span: dict[str, list[str]] = {}
    for currency, day in sorted(latest):
        span.setdefault(currency, [day.isoformat(), day.isoformat()])[1] = day.isoformat()
    digest = hashlib.sha256(
        json.dumps([[c, d.isoformat(), str(r)] for (c, d), r in sorted(latest.items())]).encode()
    ).hexdigest()
    audit.record(
        session,
        actor=actor,
        action="forex.rates.loaded",
        subject_type="forex_rate",
        subject_id=digest[:16],
        detail={"count": len(latest), "span": span, "sha256": digest},
    )
    return len(latest)


def list_rates(
    session: Session, *, currency: str | None, on: date | None
) -> Sequence[ExchangeRate]:
    """Stored rates; with ``on``, the one in force that day for each currency."""
    query = select(ExchangeRate).order_by(ExchangeRate.currency, ExchangeRate.effective_date.desc())
    if currency:
        query = query.where(ExchangeRate.currency == currency)
    if on is not None:
        in_force = (
            select(ExchangeRate.currency, func.max(ExchangeRate.effective_date).label("day"))
            .where(ExchangeRate.effective_date <= on)
            .group_by(ExchangeRate.currency)
            .subquery()
        )
        query = query.join(
            in_force,
            (in_force.c.currency == ExchangeRate.currency)
            & (in_force.c.day == ExchangeRate.effective_date),
        )
    return session.scalars(query.limit(5000)).all()
