from typing import Annotated

from fastapi import APIRouter, Query, status

from app import clock
from app.audit import actor_of
from app.auth import Agency, PrincipalKind
from app.customs import service
from app.customs.models import Inventory
from app.customs.risk import RuleSetBody
from app.customs.schemas import (
    BacktestRequest,
    BacktestResult,
    BuyerDetail,
    DecisionCreate,
    InventoryDetail,
    InventoryRead,
    RulesRead,
)
from app.deps import CallerDep, SessionDep, SettingsDep
from app.errors import RuleViolation
from app.responses import error_responses
from app.schemas import MAX_ROW_ID

router = APIRouter(tags=["customs"])


class BadPeriod(RuleViolation):
    pass


# CEB status codes have three digits.
StatusFilter = Annotated[int | None, Query(alias="status", ge=0, le=999)]


def _with_clock(inventory: Inventory) -> InventoryDetail:
    detail = InventoryDetail.model_validate(inventory)
    if inventory.sla_deadline is not None and inventory.status not in (800, 899):
        detail.sla_remaining_s = int((inventory.sla_deadline - clock.now()).total_seconds())
    return detail


def _detail(session: SessionDep, inventory: Inventory, caller: CallerDep) -> InventoryDetail:
    detail = _with_clock(inventory)
    detail.timeline = service.timeline(session, inventory=inventory, caller=caller)
    if caller.kind is PrincipalKind.ENTERPRISE:
        # The lane and who works the list are customs' internal matters.
        detail.lane = None
        detail.claimed_by = None
    return detail


@router.get("/inventories", response_model=list[InventoryRead], responses=error_responses(401, 403))
def list_inventories(
    session: SessionDep,
    caller: CallerDep,
    status_: StatusFilter = None,
    before_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="page: ids below this")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """An enterprise's own lists, or an officer's district's, newest first."""
    return service.list_inventories(
        session, caller=caller, status=status_, after_id=before_id, limit=limit
    )


@router.get(
    "/inventories/{key}", response_model=InventoryDetail, responses=error_responses(401, 404)
)
def get_inventory(key: str, session: SessionDep, caller: CallerDep) -> object:
    """One list by invtNo, preNo or copNo: status, timeline of receipts and decisions.

    A customs officer's view of one import list also shows the buyer's personal data, and
    that look is audited; lists of lists never carry it.
    """
    inventory = service.visible_inventory(session, key=key, caller=caller)
    detail = _detail(session, inventory, caller)
    if caller.kind is PrincipalKind.OFFICER and inventory.direction == "I":
        detail.buyer = BuyerDetail.model_validate(
            service.buyer_detail(session, inventory=inventory, officer=caller)
        )
    return detail


@router.get(
    "/customs/queue", response_model=list[InventoryDetail], responses=error_responses(401, 403)
)
def customs_queue(
    session: SessionDep,
    caller: CallerDep,
    lane: Annotated[str | None, Query(pattern="^(GREEN|BLUE|YELLOW|RED)$")] = None,
    customs_code: Annotated[str | None, Query(alias="customsCode", pattern=r"^\d{4}$")] = None,
    status_: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """Lists waiting for review, inspection or a detention decision, earliest deadline first."""
    lists = service.queue(
        session, officer=caller, lane=lane, customs_code=customs_code, status=status_, limit=limit
    )
    return [_with_clock(inv) for inv in lists]


@router.post(
    "/customs/inventories/{key}/claim",
    response_model=InventoryDetail,
    responses=error_responses(401, 403, 404, 409),
)
def claim(key: str, session: SessionDep, caller: CallerDep, settings: SettingsDep) -> object:
    """Take a list from the queue; another officer's decision is refused while it lasts."""
    inventory = service.claim(
        session, key=key, officer=caller, minutes=settings.customs.claim_minutes, at=clock.now()
    )
    return InventoryDetail.model_validate(inventory)


@router.delete(
    "/customs/inventories/{key}/claim",
    response_model=InventoryDetail,
    responses=error_responses(401, 403, 404, 409),
)
def unclaim(key: str, session: SessionDep, caller: CallerDep) -> object:
    """Put a claimed list back in the queue."""
    return InventoryDetail.model_validate(service.unclaim(session, key=key, officer=caller))


@router.post(
    "/customs/inventories/{key}/decisions",
    response_model=InventoryDetail,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def decide(
    key: str,
    data: DecisionCreate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> object:
    """release / reject / review / inspect / detain / return / reroute, with a reason."""
    inventory = service.decide(
        session,
        key=key,
        officer=caller,
        data=data,
        claim_minutes=settings.customs.claim_minutes,
        at=clock.now(),
    )
    return _detail(session, inventory, caller)


def _rule_reader(caller: CallerDep) -> None:
    if not caller.is_admin:
        caller.require_officer(Agency.CUSTOMS)


@router.get("/customs/rules", response_model=RulesRead, responses=error_responses(401, 403))
def get_rules(session: SessionDep, caller: CallerDep) -> object:
    """The risk rules in force (customs officers and administrators)."""
    _rule_reader(caller)
    version, rules = service.current_rules(session)
    return RulesRead(version=version, rules=rules)


@router.put("/customs/rules", response_model=RulesRead, responses=error_responses(401, 403, 422))
def put_rules(body: RuleSetBody, session: SessionDep, caller: CallerDep) -> object:
    """Replace the risk rules with a new version (administrators)."""
    caller.require_admin()
    version = service.replace_rules(session, body=body, actor=actor_of(caller))
    return RulesRead(version=version, rules=body)


@router.post(
    "/customs/rules/backtest",
    response_model=BacktestResult,
    responses=error_responses(401, 403, 422),
)
def backtest(data: BacktestRequest, session: SessionDep, caller: CallerDep) -> object:
    """What candidate rules would have held among the lists of a period; changes nothing."""
    _rule_reader(caller)
    if data.end <= data.start:
        raise BadPeriod("end must be after start")
    return service.backtest(session, body=data.rules, start=data.start, end=data.end)
