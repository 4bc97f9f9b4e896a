from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from app import clock
from app.audit import actor_of
from app.delivery import service
from app.delivery.schemas import (
    ChannelRead,
    CopyRead,
    CopyRequest,
    DeliveryLog,
    ItemRead,
    Redriven,
    SecretIssued,
    SecretRequest,
    SubscriptionIssued,
    SubscriptionRead,
    SubscriptionRequest,
)
from app.deps import CallerDep, SessionDep, SettingsDep
from app.responses import error_responses
from app.schemas import MAX_ROW_ID

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
    after: Annotated[
        int, Query(ge=0, le=MAX_ROW_ID, description="page: items with ids below this")
    ] = 0,
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


@router.post(
    "/copies",
    response_model=CopyRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 422),
)
def register_copy(session: SessionDep, caller: CallerDep, data: CopyRequest) -> object:
    """Let another enterprise receive copies of the caller's receipts (BaseSubscribe)."""
    code = caller.require_enterprise(data.enterprise_code)
    return service.register_copy(
        session,
        enterprise_code=code,
        subscriber_code=data.subscriber_code,
        statuses=data.statuses,
        actor=actor_of(caller),
        now=clock.now(),
    )


@router.get("/copies", response_model=list[CopyRead], responses=error_responses(401, 403))
def list_copies(session: SessionDep, caller: CallerDep) -> object:
    """Who receives copies of the caller's receipts."""
    return service.copies(session, enterprise_code=caller.require_enterprise())


@router.delete(
    "/copies/{subscriber_code}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
def remove_copy(session: SessionDep, caller: CallerDep, subscriber_code: str) -> Response:
    """Stop copying the caller's receipts to that enterprise."""
    service.remove_copy(
        session,
        enterprise_code=caller.require_enterprise(),
        subscriber_code=subscriber_code,
        actor=actor_of(caller),
        now=clock.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _subscription(view: service.SubscriptionView) -> dict[str, object]:
    s = view.subscription
    return {
        "id": s.id,
        "name": s.name,
        "callback_url": s.callback_url,
        "customs_codes": view.customs_codes,
        "format": s.body_format,
        "active": s.active,
        "created_at": s.created_at,
        "deactivated_at": s.deactivated_at,
    }


@router.post(
    "/subscriptions",
    response_model=SubscriptionIssued,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422),
)
def subscribe(session: SessionDep, caller: CallerDep, data: SubscriptionRequest) -> object:
    """Register a subscriber to customs codes' SLA alerts; its secret is in this response only."""
    caller.require_admin()
    view = service.subscribe(
        session,
        name=data.name,
        callback_url=str(data.callback_url),
        customs_codes=data.customs_codes,
        body_format=data.format,
        actor=actor_of(caller),
        now=clock.now(),
    )
    return {**_subscription(view), "secret": view.subscription.secret}


@router.get(
    "/subscriptions", response_model=list[SubscriptionRead], responses=error_responses(401, 403)
)
def list_subscriptions(session: SessionDep, caller: CallerDep) -> object:
    """Every SLA alert subscription, deactivated ones included."""
    caller.require_admin()
    return [_subscription(view) for view in service.subscriptions(session)]


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=error_responses(401, 403, 404),
)
def unsubscribe(
    session: SessionDep,
    caller: CallerDep,
    subscription_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
) -> object:
    """Deactivate a subscription: no more alerts are sent to it."""
    caller.require_admin()
    view = service.unsubscribe(
        session, subscription_id=subscription_id, actor=actor_of(caller), now=clock.now()
    )
    return _subscription(view)
