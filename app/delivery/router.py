from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from app import clock
from app.audit import actor_of
from app.delivery import service
from app.delivery.schemas import (
    ChannelRead,
    DeliveryLog,
    ItemRead,
    Redriven,
    SecretIssued,
    SecretRequest,
)
from app.deps import CallerDep, SessionDep, SettingsDep
from app.responses import error_responses

router = APIRouter(prefix="/deliveries", tags=["delivery"])


@router.post(
    "/secret",
    response_model=SecretIssued,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403),
)
def rotate_secret(
    session: SessionDep,
    caller: CallerDep,
    data: Annotated[SecretRequest | None, Body()] = None,
) -> object:
    """Open the push channel or rotate its signing secret; the secret is in this response only."""
    code = caller.require_enterprise()
    return service.rotate_secret(
        session,
        enterprise_code=code,
        body_format=(data or SecretRequest()).format,
        actor=actor_of(caller),
        now=clock.now(),
    )


@router.get("", response_model=DeliveryLog, responses=error_responses(401, 403, 404))
def delivery_log(
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, description="page: items with ids below this")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryLog:
    """The caller's pushed receipts, newest first, with attempts and the last error."""
    code = caller.require_enterprise()
    channel = service.get_channel(session, enterprise_code=code)
    items, next_after = service.log(session, enterprise_code=code, after=after, limit=limit)
    return DeliveryLog(
        channel=ChannelRead.model_validate(channel),
        items=[ItemRead.model_validate(item) for item in items],
        next=next_after,
    )


@router.post("/redrive", response_model=Redriven, responses=error_responses(401, 403, 404, 409))
def redrive(session: SessionDep, caller: CallerDep, settings: SettingsDep) -> Redriven:
    """Re-activate a failed channel and retry its undelivered receipts now."""
    code = caller.require_enterprise()
    count = service.redrive(
        session,
        enterprise_code=code,
        actor=actor_of(caller),
        now=clock.now(),
        policy=settings.delivery,
    )
    channel = service.get_channel(session, enterprise_code=code)
    return Redriven(channel=ChannelRead.model_validate(channel), redriven=count)
