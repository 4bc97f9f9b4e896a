from typing import Annotated

from fastapi import APIRouter, Query

from app import clock
from app.deps import CallerDep, SessionDep, SettingsDep
from app.responses import error_responses
from app.schemas import MAX_ROW_ID
from app.sla import service
from app.sla.schemas import AlertRead, ClockRead, ListState, Overview

router = APIRouter(prefix="/sla", tags=["sla"])

CustomsCode = Annotated[str | None, Query(alias="customsCode", pattern=r"^\d{4}$")]


@router.get("/overview", response_model=Overview, responses=error_responses(401, 403))
def overview(
    session: SessionDep, caller: CallerDep, settings: SettingsDep, customs_code: CustomsCode = None
) -> object:
    """Open clocks now (running, at risk, breached) and the last 24 h and 7 days' clearance."""
    return service.overview(
        session, caller=caller, customs_code=customs_code, now=clock.now(), policy=settings.sla
    )


@router.get("/inventories", response_model=list[ClockRead], responses=error_responses(401, 403))
def inventories(
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    state: ListState = ListState.AT_RISK,
    customs_code: CustomsCode = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """Running lists, at risk or breached, earliest deadline first, with the time left."""
    return service.inventories(
        session,
        caller=caller,
        state=state,
        customs_code=customs_code,
        now=clock.now(),
        policy=settings.sla,
        limit=limit,
    )


@router.get("/alerts", response_model=list[AlertRead], responses=error_responses(401, 403))
def alerts(
    session: SessionDep,
    caller: CallerDep,
    customs_code: CustomsCode = None,
    after: Annotated[
        int,
        Query(ge=0, le=MAX_ROW_ID, description="cursor: the position of the last alert seen"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """At-risk and breach alerts of the caller's customs codes, in the order they committed.

    The cursor is an alert's ``position``, not its ``id``: an alert that commits late comes
    after the ones already read, never behind the cursor. Subscriptions get them pushed.
    """
    return service.alerts(
        session, caller=caller, customs_code=customs_code, after=after, limit=limit
    )
