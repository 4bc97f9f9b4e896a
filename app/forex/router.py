from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from app import clock
from app.audit import actor_of
from app.deps import CallerDep, SessionDep
from app.forex import service
from app.forex.schemas import (
    AlertPage,
    CheckRequest,
    CheckResult,
    PolicyBody,
    PolicyRead,
    RateRead,
    RatesLoad,
    RatesLoaded,
    Reversal,
    SettlementCreate,
    SettlementRead,
    TradeListPage,
    TradeListView,
)
from app.responses import error_responses
from app.schemas import MAX_ROW_ID

router = APIRouter(prefix="/forex", tags=["forex"])
REPLAYED_HEADER = "Idempotent-Replayed"


@router.get("/trade-lists", response_model=TradeListPage, responses=error_responses(401, 403, 404))
def list_trade_lists(
    session: SessionDep,
    caller: CallerDep,
    ebc_code: Annotated[str | None, Query(alias="ebcCode", max_length=18)] = None,
    released_from: Annotated[date | None, Query(alias="from", description="China date")] = None,
    released_to: Annotated[date | None, Query(alias="to", description="inclusive")] = None,
    direction: Annotated[str | None, Query(pattern="^[EI]$")] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_ROW_ID, description="cursor: next_after of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """Released lists (800/899) of the enterprises that mandated the calling bank."""
    return service.trade_lists(
        session,
        bank_code=caller.require_bank(),
        ebc_code=ebc_code,
        direction=direction,
        released_from=released_from,
        released_to=released_to,
        after=after,
        limit=limit,
    )


@router.get(
    "/trade-lists/{invt_no}",
    response_model=TradeListView,
    responses=error_responses(401, 403, 404),
)
def get_trade_list(invt_no: str, session: SessionDep, caller: CallerDep) -> object:
    """One released list: value per currency, lines, money documents, what is unallocated."""
    return service.trade_list(session, bank_code=caller.require_bank(), invt_no=invt_no)


@router.post("/checks", response_model=CheckResult, responses=error_responses(401, 403, 404, 422))
def check(data: CheckRequest, session: SessionDep, caller: CallerDep) -> object:
    """Dry run of every rule: PASS / WARN / HOLD / REJECT with rule ids; allocates nothing."""
    return service.check(session, bank_code=caller.require_bank(), data=data, at=clock.now())


@router.post(
    "/settlements",
    response_model=SettlementRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def settle(
    data: SettlementCreate, response: Response, session: SessionDep, caller: CallerDep
) -> object:
    """Check and allocate at once. A retry with the same bankRef gets the same answer (with
    the header ``Idempotent-Replayed: true``); another request under that bankRef is 409."""
    settlement, replayed = service.settle(
        session,
        bank_code=caller.require_bank(),
        data=data,
        actor=actor_of(caller),
        at=clock.now(),
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return settlement


@router.get(
    "/settlements/{settlement_id}",
    response_model=SettlementRead,
    responses=error_responses(401, 403, 404),
)
def get_settlement(settlement_id: UUID, session: SessionDep, caller: CallerDep) -> object:
    """One of the calling bank's settlements, with the rules that decided it."""
    return service.get_settlement(
        session, bank_code=caller.require_bank(), settlement_id=settlement_id
    )


@router.post(
    "/settlements/{settlement_id}/reverse",
    response_model=SettlementRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
def reverse(settlement_id: UUID, data: Reversal, session: SessionDep, caller: CallerDep) -> object:
    """Undo a settlement: its allocation goes back to the list; reversing twice is a no-op."""
    return service.reverse(
        session,
        bank_code=caller.require_bank(),
        settlement_id=settlement_id,
        reason=data.reason,
        actor=actor_of(caller),
        at=clock.now(),
    )


@router.get("/alerts", response_model=AlertPage, responses=error_responses(401, 403))
def list_alerts(
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[
        int,
        Query(ge=0, le=MAX_ROW_ID, description="cursor: next_after of the last page"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """Lists returned or cancelled after they backed settlements: a bank's own; admins all.

    In the order the alerts committed; the cursor is a position (``next_after``, an alert's
    ``position``), not an id, so an alert that commits late is never behind it.
    """
    bank_code = None if caller.is_admin else caller.require_bank()
    return service.alerts(session, bank_code=bank_code, after=after, limit=limit)


@router.put(
    "/rates",
    response_model=RatesLoaded,
    responses=error_responses(401, 403, 422),
)
def load_rates(data: RatesLoad, session: SessionDep, caller: CallerDep) -> object:
    """Load exchange rates (CNY per unit, by effective date); administrators."""
    caller.require_admin()
    loaded = service.load_rates(session, rates=data.rates, actor=actor_of(caller))
    return RatesLoaded(loaded=loaded)


@router.get("/rates", response_model=list[RateRead], responses=error_responses(401, 403))
def list_rates(
    session: SessionDep,
    caller: CallerDep,
    currency: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    on: Annotated[date | None, Query(description="the rates in force that day")] = None,
) -> object:
    """Stored exchange rates; banks and administrators."""
    if not caller.is_admin:
        caller.require_bank()
    return service.list_rates(session, currency=currency, on=on)


@router.get("/policy", response_model=PolicyRead, responses=error_responses(401, 403))
def get_policy(session: SessionDep, caller: CallerDep) -> object:
    """The check settings in force (tolerance); banks and administrators."""
    if not caller.is_admin:
        caller.require_bank()
    return service.current_policy(session)


@router.put("/policy", response_model=PolicyRead, responses=error_responses(401, 403, 409, 422))
def put_policy(body: PolicyBody, session: SessionDep, caller: CallerDep) -> object:
    """A new version of the check settings; administrators."""
    caller.require_admin()
    return service.replace_policy(session, body=body, actor=actor_of(caller))
