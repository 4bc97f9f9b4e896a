"""Operators' view of the outbox: events that failed for good, and putting them back in line."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel

from app import outbox
from app.audit import actor_of, record
from app.deps import CallerDep, SessionDep
from app.errors import NotFound
from app.responses import error_responses
from app.schemas import MAX_ROW_ID

router = APIRouter(prefix="/admin/outbox", tags=["operations"])


class ParkedEvent(BaseModel):
    id: int
    event_type: str
    attempts: int
    last_error: str | None
    occurred_at: datetime
    failed_at: datetime | None


class ParkedEventNotFound(NotFound):
    pass


@router.get("/failed", response_model=list[ParkedEvent], responses=error_responses(401, 403))
def failed_events(
    session: SessionDep, caller: CallerDep, limit: int = Query(100, ge=1, le=1000)
) -> object:
    """Events whose handlers kept failing (administrators)."""
    caller.require_admin()
    return [
        ParkedEvent.model_validate(row, from_attributes=True)
        for row in outbox.failed_messages(session, limit=limit)
    ]


@router.post(
    "/{message_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
def retry_event(
    message_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], session: SessionDep, caller: CallerDep
) -> None:
    """Run a parked event again once its cause is fixed (administrators; audited)."""
    caller.require_admin()
    if not outbox.retry_failed(session, message_id=message_id):
        raise ParkedEventNotFound(f"no parked event {message_id}")
    record(
        session,
        actor=actor_of(caller),
        action="outbox.retried",
        subject_type="outbox",
        subject_id=str(message_id),
    )
