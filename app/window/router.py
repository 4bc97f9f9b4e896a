from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from lxml import etree
from starlette.concurrency import run_in_threadpool

from app import clock
from app.ceb.catalogue import INBOUND, RECEIPTS
from app.config import Settings
from app.deps import CallerDep, CredentialsDep, SessionDep, SettingsDep, api_key_of, caller_of
from app.errors import PayloadTooLarge
from app.receipts import render
from app.receipts import service as receipts_service
from app.receipts.schemas import ReceiptContent
from app.responses import error_responses
from app.schemas import MAX_ROW_ID
from app.window import service
from app.window.json_mirror import from_xml

router = APIRouter(tags=["window"])

XML = "application/xml"
BATCH_NS = "urn:singlewindow:receipts"
# Entities and lines are arrays in the JSON mirror even when there is only one.
JSON_LISTS = frozenset(
    {shape.entity for shape in RECEIPTS.values()}
    | {spec.entity for spec in INBOUND.values()}
    | {spec.lines for spec in INBOUND.values() if spec.lines}
)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the message is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the message is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    if "json" in accept:
        return True
    if "xml" in accept:
        return False
    return "json" in request.headers.get("content-type", "").lower()


def _reply_body(receipts: Sequence[ReceiptContent], as_json: bool) -> Response:
    """The receipts of one submission: one standard message (a submission has ≤ 100 entities)."""
    messages = render.messages(receipts)
    if len(messages) != 1:
        return _batch_body(receipts, as_json, None)
    if as_json:
        return JSONResponse(from_xml(messages[0], lists=JSON_LISTS))
    return Response(render.to_bytes(messages[0]), media_type=XML)


def _batch_body(
    receipts: Sequence[ReceiptContent], as_json: bool, next_after: int | None
) -> Response:
    """Receipts of several types: a batch of standard messages and the next-page cursor."""
    messages = render.messages(receipts)
    if as_json:
        body: dict[str, Any] = {
            "messages": [from_xml(m, lists=JSON_LISTS) for m in messages],
            "next_after": next_after,
        }
        return JSONResponse(body)
    batch = etree.Element(f"{{{BATCH_NS}}}ReceiptBatch", nsmap={"sw": BATCH_NS})
    if next_after is not None:
        batch.set("next", str(next_after))
    batch.extend(messages)
    return Response(render.to_bytes(batch), media_type=XML)


@router.post(
    "/messages",
    status_code=status.HTTP_200_OK,
    responses={
        200: {
            "description": "Accepted: the receipts (回执) of every entity",
            "content": {XML: {}, "application/json": {}},
        },
        400: {
            "description": "Malformed or schema-invalid: a CEB900 listing every error",
            "content": {XML: {}, "application/json": {}},
        },
        **error_responses(401, 403, 409, 413, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                XML: {"schema": {"type": "string"}, "example": "<ceb:CEB303Message …/>"},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def submit_message(
    request: Request, settings: SettingsDep, credentials: CredentialsDep
) -> Response:
    """Submit one CEB message (XML, a DxpMsg, or its JSON mirror) and get its receipts."""
    api_key_of(credentials)
    body = await _read_limited(request, settings.max_message_bytes)
    reply = await run_in_threadpool(_submit, request, settings, credentials, body)
    if reply.error is not None:
        name, detail = reply.error
        return JSONResponse({"error": name, "detail": detail}, status_code=reply.status_code)
    response = _reply_body(reply.receipts, wants_json(request))
    response.status_code = reply.status_code
    if reply.replayed:
        response.headers["X-Replayed"] = "true"
    return response


def _submit(
    request: Request,
    settings: Settings,
    credentials: HTTPAuthorizationCredentials | None,
    body: bytes,
) -> service.Reply:
    # The window's hot path: caller, intake and commit in one worker thread, where the
    # dependencies would take four thread hand-offs (bench/README.md, "Window intake").
    with request.app.state.sessionmaker.begin() as session:
        return service.submit(
            session,
            body=body,
            content_type=request.headers.get("content-type"),
            caller=caller_of(session, settings, credentials),
            remote_addr=request.client.host if request.client else None,
            schemas=request.app.state.schemas,
            settings=settings,
            now=clock.now(),
        )


@router.get(
    "/receipts",
    responses={
        200: {
            "description": "Receipts in issue order",
            "content": {XML: {}, "application/json": {}},
        },
        **error_responses(401, 403),
    },
)
def list_receipts(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[
        int,
        Query(ge=0, le=MAX_ROW_ID, description="cursor: the position of the last receipt seen"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The caller's receipts after a cursor, oldest first.

    The cursor is a receipt's ``position`` (its place in the caller's feed, in the order
    receipts committed), not its ``id``: a receipt that commits late comes after the ones
    already read, never behind the cursor. JSON (default): one object per receipt with its
    ``id`` and ``position``, and ``next_after``, the position to continue from while there
    are more. XML (``Accept: application/xml``): a ``ReceiptBatch`` of standard receipt
    messages whose ``next`` attribute is that position.
    """
    code = caller.require_enterprise()
    page = receipts_service.page(session, recipient_code=code, after=after, limit=limit)
    if "xml" in request.headers.get("accept", "").lower():
        return _batch_body(list(page.receipts), False, page.next_after)
    return JSONResponse(
        {"receipts": [render.as_json(r) for r in page.receipts], "next_after": page.next_after}
    )
