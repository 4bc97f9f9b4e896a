"""The composition root: the only place that knows every module's router and handlers."""

import functools
import http
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.admin_router import router as admin_router
from app.config import Settings, get_settings
from app.customs import handlers as customs_handlers
from app.customs.router import router as customs_router
from app.customs.summary_router import router as summary_router
from app.db import make_engine, make_sessionmaker
from app.delivery.router import router as delivery_router
from app.errors import AppError
from app.forex import handlers as forex_handlers
from app.forex.router import router as forex_router
from app.inspection import handlers as inspection_handlers
from app.inspection.router import router as inspection_router
from app.jobs import DEFAULT_JOBS, JobRunner
from app.metrics import HTTP_LATENCY, HTTP_REQUESTS, OUTBOX_PARKED, OUTBOX_PENDING
from app.outbox import Dispatcher, Relay, parked_count, pending_count
from app.registry import handlers as registry_handlers
from app.registry.router import router as registry_router
from app.schemas import contains_nul
from app.sla import handlers as sla_handlers
from app.sla.router import router as sla_router
from app.window.router import router as window_router
from app.window.xsd import Schemas, load_schemas

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
RETRY_AFTER_S = 5


@functools.cache
def cached_schemas(xsd_dir: Path) -> Schemas:
    """Schemas compile once per process: every app built in it (tests build many) shares them."""
    return load_schemas(xsd_dir)


def build_dispatcher() -> Dispatcher:
    """Every module's reactions to every other module's events, registered in one place."""
    dispatcher = Dispatcher()
    customs_handlers.register(dispatcher)
    forex_handlers.register(dispatcher)
    inspection_handlers.register(dispatcher)
    registry_handlers.register(dispatcher)
    sla_handlers.register(dispatcher)
    return dispatcher


def _error(status: int, name: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": name, "detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def app_error(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, AppError):  # pragma: no cover - registered for AppError only
            raise exc
        headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status_code == 503 else None
        return _error(exc.status_code, type(exc).__name__, exc.detail, headers)

    async def validation_error(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover
            raise exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return _error(422, "ValidationError", problems)

    async def http_error(_: Request, exc: Exception) -> Response:
        # Starlette's own refusals (no such route, method not allowed, a body that is not
        # text) in the house error shape too.
        if not isinstance(exc, HTTPException):  # pragma: no cover
            raise exc
        name = http.HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        return _error(exc.status_code, name, exc.detail, dict(exc.headers or {}))

    async def database_unavailable(_: Request, exc: Exception) -> Response:
        # A lost or refused connection (or a SQLite lock held past its timeout) is an outage
        # the client should ride out, not a bug to report as 500.
        log.warning("database unavailable: %s", exc)
        return _error(
            503,
            "Unavailable",
            "the database is unavailable; retry later",
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    async def client_gone(_: Request, exc: Exception) -> Response:
        # The client hung up while sending its body: nothing was stored and nobody listens.
        # An answer (the server discards it) instead of an "Exception in ASGI application".
        log.info("client disconnected before its request was read")
        return Response(status_code=400)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    # Every pooled connection busy past the pool timeout: overloaded, not broken.
    app.add_exception_handler(PoolTimeout, database_unavailable)


async def _storable_url(request: Request) -> None:
    """Path and query text must be storable like body text (see app.schemas.contains_nul).

    async, like every dependency that does not block: each request passes here, and a plain
    def would cost it a hand-off to a worker thread and back.
    """
    if contains_nul(request.scope["path"]) or contains_nul(request.query_params.multi_items()):
        raise RequestValidationError(
            [{"loc": ("url",), "msg": "text cannot contain NUL (U+0000)", "type": "value_error"}]
        )


def _document_error_bodies(app: FastAPI) -> None:
    """The schema shows the error bodies the handlers above send.

    FastAPI documents its own 422 body (a list of problems) where ours is ErrorBody, and does
    not document the 400 it answers to a JSON body that is not even text.
    """
    generate = app.openapi
    error_body = {"$ref": "#/components/schemas/ErrorBody"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                responses = operation["responses"]
                if "422" in responses:
                    responses["422"]["content"] = {"application/json": {"schema": error_body}}
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    responses.setdefault(
                        "400",
                        {
                            "description": "The body is not JSON text",
                            "content": {"application/json": {"schema": error_body}},
                        },
                    )
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class _RequestMetrics:
    """Counts and times every request by route template.

    Plain ASGI rather than ``@app.middleware``: the latter runs each request through extra
    tasks and streams: 4.6 % of the samples of a single-list message's profile.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: what the server answers an escaped error

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, observed_send)
        finally:
            # The router put the matched route into the scope on the way in.
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; engines and relays are made in the lifespan, not at import."""
    settings = settings or get_settings()
    dispatcher = build_dispatcher()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.schemas = cached_schemas(settings.xsd_dir)
        stop = threading.Event()
        threads: list[threading.Thread] = []
        if settings.outbox.in_process:
            relay = Relay(app.state.sessionmaker, dispatcher, settings.outbox)
            jobs = JobRunner(app.state.sessionmaker, DEFAULT_JOBS)
            threads = [
                threading.Thread(
                    target=relay.run_forever, args=(stop,), name="outbox-relay", daemon=True
                ),
                threading.Thread(target=jobs.run_forever, args=(stop,), name="jobs", daemon=True),
            ]
            for thread in threads:
                thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            engine.dispose()

    app = FastAPI(
        title="Cross-border e-commerce single window",
        version="0.1.0",
        description="CEB messages in, receipts out; customs, inspection, forex and the 24 h SLA.",
        lifespan=lifespan,
        dependencies=[Depends(_storable_url)],
    )
    app.state.settings = settings
    app.state.dispatcher = dispatcher
    _install_error_handlers(app)
    _document_error_bodies(app)
    app.add_middleware(_RequestMetrics)
    app.include_router(registry_router, prefix=API_PREFIX)
    app.include_router(admin_router, prefix=API_PREFIX)
    app.include_router(window_router, prefix=API_PREFIX)
    app.include_router(customs_router, prefix=API_PREFIX)
    app.include_router(summary_router, prefix=API_PREFIX)
    app.include_router(forex_router, prefix=API_PREFIX)
    app.include_router(inspection_router, prefix=API_PREFIX)
    app.include_router(sla_router, prefix=API_PREFIX)
    app.include_router(delivery_router, prefix=API_PREFIX)

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request) -> Response:
        """Liveness and database reachability."""
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError:
            return _error(
                503, "Unavailable", "database unreachable", {"Retry-After": str(RETRY_AFTER_S)}
            )
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this process, and the outbox backlog of the database."""
        try:
            with request.app.state.sessionmaker() as session:
                OUTBOX_PENDING.set(pending_count(session))
                OUTBOX_PARKED.set(parked_count(session))
        except DBAPIError:
            log.warning("metrics: database unreachable, outbox gauges not refreshed")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
