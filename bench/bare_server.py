"""The bare path of the window benchmark, and the same work behind HTTP.

The bare path: the window's hardened parse, XSD validation, and COPY of the lists' heads and
lines, one transaction per message; no authentication, registry, numbering, 三单对碰,
receipts, audit or events. ``bench/window_intake.py`` runs it in its own process (``bare``)
and, with ``--bare-http``, behind the API's server stack (uvicorn, FastAPI, a worker thread
per request), to show how much of the full path's cost is receiving a message over HTTP:

    SW_DATABASE_URL=postgresql+psycopg://… uvicorn --app-dir bench bare_server:create_app --factory
"""

from __future__ import annotations

import json
import os
import threading

import psycopg
from fastapi import FastAPI, Request, Response
from sqlalchemy import make_url
from starlette.concurrency import run_in_threadpool

from app.ceb.catalogue import INBOUND
from app.config import Settings
from app.window import ceb
from app.window.xmlsafe import parse_xml
from app.window.xsd import Schemas, SchemaSet, load_schemas

BARE_DDL = """
CREATE TABLE bench_head (
    guid text, agent_code text, cop_no text, order_no text, logistics_no text,
    ebc_code text, gross_weight numeric(19, 5), head jsonb
);
CREATE TABLE bench_line (
    head_guid text, gnum int, gcode text, gname text,
    qty numeric(19, 5), price numeric(19, 5), total_price numeric(19, 5)
)
"""
_LIST = INBOUND["CEB603"]


def store(conn: psycopg.Connection, schemas: Schemas, body: bytes) -> int:
    """Parse, validate and COPY one CEB603 message in one transaction; returns its lists."""
    root = parse_xml(body, max_depth=64)
    issues = schemas.validate(root, SchemaSet.EXPORT, body)
    if issues:
        raise ValueError(f"not a valid CEB603: {issues[0].message}")
    entities = ceb.entities(root, _LIST)
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(
            "COPY bench_head (guid, agent_code, cop_no, order_no, logistics_no, "
            "ebc_code, gross_weight, head) FROM STDIN"
        ) as out:
            for e in entities:
                h = e.head
                out.write_row(
                    (
                        h["guid"],
                        h["agentCode"],
                        h["copNo"],
                        h["orderNo"],
                        h["logisticsNo"],
                        h["ebcCode"],
                        h["grossWeight"],
                        json.dumps(h, ensure_ascii=False),
                    )
                )
        with cur.copy(
            "COPY bench_line (head_guid, gnum, gcode, gname, qty, price, total_price) FROM STDIN"
        ) as out:
            for e in entities:
                for line in e.lines:
                    out.write_row(
                        (
                            e.head["guid"],
                            line["gnum"],
                            line["gcode"],
                            line["gname"],
                            line["qty"],
                            line["price"],
                            line["totalPrice"],
                        )
                    )
    return len(entities)


def create_app() -> FastAPI:
    """``POST /bare`` stores a CEB603 message the bare way; ``GET /healthz`` for start-up."""
    url = make_url(os.environ["SW_DATABASE_URL"]).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    schemas = load_schemas(Settings().xsd_dir)
    local = threading.local()  # one connection per worker thread, as the API's pool gives

    def stored(body: bytes) -> int:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(dsn, autocommit=True)
        return store(local.conn, schemas, body)

    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/bare")
    async def bare(request: Request) -> Response:
        lists = await run_in_threadpool(stored, await request.body())
        return Response(f'{{"lists": {lists}}}', media_type="application/json")

    return app
