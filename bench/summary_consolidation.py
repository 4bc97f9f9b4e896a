"""汇总申报 at scale: one 701 consolidating 1,000,000 list lines on PostgreSQL.

Target (issue 5): 200,000 released B lists × 5 lines consolidated within 60 s and 1 GiB of
resident memory. The script:

1. creates a throwaway database on the server of --url and migrates it to 0007_summaries
   (customs' tables and the summary tables, nothing of the other modules' branches);
2. fills customs_inventory and customs_inventory_line by generate_series: --lists released
   export lists of one agent and ebc at customs 4900, statisticsFlag B, released during
   October 2026, --lines lines each; 20 owners, 2 transport modes, 10 arrival countries,
   2 exit ports; lines over 10 destination countries, 200 HS codes, 2 currencies, 3 units;
   then VACUUM ANALYZE;
3. times the service exactly as the window calls it for a declared 701 (apply_summary in a
   transaction, commit included), three times: by ebc over the month's window; then a delete
   (appType 3) that frees the lists; then by ebc + owner + item name, naming nothing
   (window). After each, it checks the result against SQL totals of the source data;
4. reports the peak resident memory of this process (ru_maxrss) and of the PostgreSQL backend
   that served it (VmHWM), and drops the database (also on failure or Ctrl-C).

Usage:  /work/venv/bin/python bench/summary_consolidation.py [--lists 200000] [--lines 5]
            [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from app import migrate
from app.customs import summaries
from app.customs.models import Summary, SummaryDeclaration, SummaryLine
from app.db import make_engine, make_sessionmaker

AGENT, EBC = "4301990003", "4301990002"
AT = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
CHUNK = 50_000
COUNTRIES = ["132", "502", "303", "304", "116", "133", "112", "122", "129", "344"]

LISTS = """
INSERT INTO customs_inventory (
    direction, guid, agent_code, cop_no, pre_no, invt_no, ebp_code, ebc_code, order_no,
    logistics_code, logistics_no, customs_code, port_code, trade_mode, statistics_flag,
    owner_code, country, currency, goods_value, freight, insured_fee, gross_weight, net_weight,
    pack_no, app_type, app_time, app_status, status, status_at, sender_code, message_id, head,
    inspection_state, full_tax, released_at, created_at, updated_at)
SELECT 'E', upper(gen_random_uuid()::text), :agent, 'COP' || i,
       'B20261001' || lpad(i::text, 9, '0'), '49002026E' || lpad(i::text, 9, '0'),
       '4301990001', :ebc, 'ORDER' || i, '4301990004', 'WB' || i, '4900',
       (ARRAY['4900', '4901'])[1 + (i / 50) % 2], '9610', 'B',
       '43019900' || (10 + (i / 5) % 20)::text, (CAST(:countries AS text[]))[1 + i % 10],
       '142', 100, 0, 0, 1.25 + (i % 7) * 0.5, 1.0 + (i % 7) * 0.4, 1, '1', r.at, '2',
       CASE WHEN i % 3 = 0 THEN 899 ELSE 800 END, r.at, :agent, gen_random_uuid(),
       jsonb_build_object('trafMode', (ARRAY['5', '4'])[1 + (i / 3) % 2], 'copNo', 'COP' || i),
       'cleared', false, r.at, r.at, r.at
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
CROSS JOIN LATERAL (SELECT timestamptz '2026-10-01 00:00:00+08'
                           + interval '1 second' * ((i * 7919) % 2678400) AS at) AS r
"""
LINES = """
INSERT INTO customs_inventory_line (
    inventory_id, gnum, item_no, item_name, gcode, gname, country, currency, unit, qty, unit1,
    qty1, price, total_price)
SELECT inv.id, g, 'ITEM' || k.code, '商品' || k.code, k.gcode, '品名' || k.code,
       (CAST(:countries AS text[]))[1 + (inv.id + g) % 10],
       (ARRAY['142', '502'])[1 + (inv.id * g) % 2], (ARRAY['006', '015', '035'])[1 + k.code % 3],
       1 + g, '035', 0.5 * (1 + g), 20 + g, (1 + g) * (20 + g)
FROM customs_inventory inv
CROSS JOIN generate_series(1, CAST(:lines AS int)) AS g
CROSS JOIN LATERAL (SELECT (inv.id * 31 + g * 17) % 200 AS code) AS c
CROSS JOIN LATERAL (SELECT c.code, (6911101900 + c.code * 1000)::text AS gcode) AS k
WHERE inv.id BETWEEN CAST(:first AS bigint) AND CAST(:last AS bigint)
"""


def head(**fields: str) -> dict[str, str]:
    return {
        "guid": str(uuid.uuid4()).upper(),
        "appType": "1",
        "appTime": "20261110100000",
        "appStatus": "2",
        "customsCode": "4900",
        "copNo": "BENCH-SUM-0001",
        "agentCode": AGENT,
        "agentName": "长沙报关行",
        "ebcCode": EBC,
        "ebcName": "长沙星沙贸易有限公司",
        "declAgentCode": AGENT,
        "declAgentName": "长沙报关行",
        "startTime": "20261001000000",
        "endTime": "20261031235959",
        "summaryFlag": "1",
        "itemNameFlag": "0",
        "msgCount": "1",
        "msgSeqNo": "1",
        **fields,
    }


def peak_kib_of(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def fill(engine: Engine, lists: int, lines: int) -> float:
    started = time.perf_counter()
    for first in range(1, lists + 1, CHUNK):
        last = min(first + CHUNK - 1, lists)
        with engine.begin() as conn:
            values = {"first": first, "last": last, "countries": COUNTRIES}
            conn.execute(text(LISTS), {**values, "agent": AGENT, "ebc": EBC})
            conn.execute(text(LINES), {**values, "lines": lines})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE customs_inventory, customs_inventory_line"))
    return time.perf_counter() - started


def run(engine: Engine, label: str, fields: dict[str, str]) -> dict[str, Any]:
    factory = make_sessionmaker(engine)
    timings: dict[str, float] = {}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    # The two halves of a consolidation: claim and group in SQL, then stream out the 792s.
    original = (summaries._consolidate, summaries._issue_results)
    summaries._consolidate = timed("claim + group (SQL)", original[0])  # type: ignore[assignment]
    summaries._issue_results = timed("792 messages", original[1])  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        with factory.begin() as session:
            backend = session.scalar(text("SELECT pg_backend_pid()"))
            answer = summaries.apply_summary(session, head=head(**fields), lines=[], at=AT)
            timings["commit"] = -time.perf_counter()
        timings["commit"] += time.perf_counter()
        total = time.perf_counter() - started
    finally:
        summaries._consolidate, summaries._issue_results = original  # type: ignore[assignment]
    with factory() as session:
        facts = check(session, answer.get("sumNo"))
    return {
        "label": label,
        "seconds": total,
        "timings": timings,
        "backend_peak_kib": peak_kib_of(int(backend or 0)),
        **facts,
    }


def check(session: Session, sum_no: str | None) -> dict[str, Any]:
    """The result agrees with the source: every list line in one item, totals preserved."""
    if sum_no is None:
        return {}
    summary = session.scalars(
        select(Summary).where(Summary.sum_no == sum_no).order_by(Summary.version.desc())
    ).first()
    assert summary is not None
    if summary.status != "live":
        return {"status": summary.status}
    declarations = session.scalar(
        select(func.count()).where(SummaryDeclaration.summary_id == summary.id)
    )
    items, lines, value = session.execute(
        select(func.count(), func.sum(SummaryLine.line_count), func.sum(SummaryLine.total_price))
        .join(SummaryDeclaration, SummaryDeclaration.id == SummaryLine.declaration_id)
        .where(SummaryDeclaration.summary_id == summary.id)
    ).one()
    source_lines, source_value = session.execute(
        text("SELECT count(*), sum(total_price) FROM customs_inventory_line")
    ).one()
    assert lines == source_lines, (lines, source_lines)
    assert Decimal(value) == Decimal(source_value), (value, source_value)
    messages, mapped = session.execute(
        text(
            "SELECT count(DISTINCT receipt.id), sum(jsonb_array_length(r -> 'lines')) "
            "FROM receipt, jsonb_array_elements(fields -> 'results') AS r "
            "WHERE message_type = 'CEB792' AND recipient_code = :agent "
            "AND r -> 'head' ->> 'sumNo' = :sum_no"
        ),
        {"agent": AGENT, "sum_no": sum_no},
    ).one()
    assert mapped == lines, (mapped, lines)
    return {
        "status": summary.status,
        "lists": summary.list_count,
        "declarations": declarations,
        "items": items,
        "list_lines": lines,
        "792_messages": messages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lists", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    server = make_url(args.url)
    name = f"sw_bench_summary_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        version = conn.scalar(text("SHOW server_version"))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url, "0007_summaries")
        engine = make_engine(url)
        seconds = fill(engine, args.lists, args.lines)
        print(
            f"machine: {platform.node()} python {platform.python_version()} postgresql {version}; "
            f"{args.lists} lists x {args.lines} lines filled in {seconds:.1f} s"
        )
        runs = [
            run(engine, "701 by ebc, October window", {}),
            run(engine, "701 delete (appType 3) frees the lists", {"appType": "3"}),
            run(
                engine,
                "701 by ebc + owner + item name, window",
                {"copNo": "BENCH-SUM-0002", "summaryFlag": "2", "itemNameFlag": "1"},
            ),
        ]
        for result in runs:
            timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.pop("timings").items())
            label, total = result.pop("label"), result.pop("seconds")
            print(f"{label}: {total:.1f} s ({timings}); {result}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS of this process: {peak / 1024:.0f} MiB")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
