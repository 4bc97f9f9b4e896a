"""The SLA at-risk query over 10 million lists, 1 % of them running, on PostgreSQL.

Target (issue 8): the at-risk list answers within 50 ms, thanks to the partial index on the
open clocks (ix_sla_clock_open). The script:

1. creates a throwaway database on the server of --url and migrates it to 0006_sla (the
   real table and indexes, nothing of the other modules' branches);
2. fills sla_clock with --rows lists by generate_series: 1 % running (deadlines spread from
   2 h ago to 24 h ahead, the past-due and at-risk ones already alerted, as in steady
   state), the rest released (clearance 0-30 h, 3 % late) or ended, stopped over the last
   30 days; 20 customs codes (4900-4919);
3. VACUUM ANALYZE, then times the service functions officers and workers call, through
   SQLAlchemy and psycopg exactly as the API runs them, each --repeats times after two
   warm-up calls, and prints EXPLAIN ANALYZE of the at-risk query;
4. drops the database (also on failure or Ctrl-C).

Usage:  /work/venv/bin/python bench/sla_at_risk.py [--rows 10000000] [--repeats 50]
            [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text

from app import migrate
from app.auth import Agency, Caller, PrincipalKind
from app.config import SlaSettings
from app.db import make_engine, make_sessionmaker
from app.sla import service
from app.sla.schemas import ListState

CODES = 20
NOW = datetime.now(UTC).replace(microsecond=0)

# One INSERT per chunk keeps the transaction (and its WAL) bounded; row i gets its fate from
# i % 100 (0: running, 1-2: ended, else released) and its customs code from (i / 100) % 20.
FILL = """
INSERT INTO sla_clock (
    inventory_id, invt_no, customs_code, direction, trade_mode, logistics_code, logistics_no,
    state, accepted_at, arrived_at, started_at, deadline, stopped_at, end_status, clearance_s,
    review_since, enterprise_wait_s, at_risk_alerted_at, breached_alerted_at, created_at,
    updated_at)
SELECT i, c.code || '2026E' || lpad(i::text, 11, '0'), c.code, 'E', '9610', '4301990004',
       'WB' || i, f.state, s.started - interval '1 hour', s.started, s.started,
       s.started + interval '24 hours',
       CASE WHEN f.state = 'running' THEN NULL ELSE s.started + f.took END,
       CASE f.state WHEN 'released' THEN 800 WHEN 'ended' THEN 100 END,
       CASE WHEN f.state = 'released' THEN extract(epoch FROM f.took)::int END,
       NULL, (i % 7) * 600,
       CASE WHEN f.state = 'running' AND s.started + interval '24 hours' < :now + interval '4 hours'
            THEN :now END,
       CASE WHEN f.state = 'running' AND s.started + interval '24 hours' < :now THEN :now END,
       s.started, s.started
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
CROSS JOIN LATERAL (SELECT (4900 + (i / 100) % 20)::text AS code) AS c
CROSS JOIN LATERAL (SELECT
    CASE WHEN i % 100 = 0 THEN 'running' WHEN i % 100 < 3 THEN 'ended' ELSE 'released' END
        AS state,
    -- 3 % of releases take longer than 24 h
    CASE WHEN i % 100 = 99 THEN interval '1 second' * (86400 + (i * 7919) % 21600)
         ELSE interval '1 second' * ((i * 104729) % 86400) END AS took) AS f
CROSS JOIN LATERAL (SELECT
    CASE WHEN f.state = 'running'
         -- deadlines from 2 h ago to 24 h ahead
         THEN :now - interval '26 hours' + interval '1 second' * ((i * 7919) % 93600)
         ELSE :now - interval '30 days' + interval '1 second' * ((i * 15485863) % 2592000)
              - f.took END AS started) AS s
"""


def captured(engine: Engine, call: Callable[[], object]) -> tuple[str, Any]:
    """The SQL and parameters a service call sends (its last statement)."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen[-1]


def timed(call: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    result = call()
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def report(name: str, samples: list[float], note: str) -> None:
    samples = sorted(samples)
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    print(f"| {name} | {statistics.median(samples):.2f} | {p95:.2f} | {samples[-1]:.2f} | {note} |")


def run(url: str, rows: int, repeats: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    policy = SlaSettings()
    one = Caller(
        uuid.uuid4(),
        PrincipalKind.OFFICER,
        "bench",
        agency=Agency.CUSTOMS,
        customs_codes=frozenset({"4900"}),
    )
    every = Caller(
        uuid.uuid4(),
        PrincipalKind.OFFICER,
        "bench",
        agency=Agency.CUSTOMS,
        customs_codes=frozenset(str(4900 + n) for n in range(CODES)),
    )

    started = time.perf_counter()
    chunk = 1_000_000
    with engine.connect() as conn:
        conn.execute(text("SET synchronous_commit = off"))
        for first in range(1, rows + 1, chunk):
            conn.execute(
                text(FILL), {"first": first, "last": min(first + chunk - 1, rows), "now": NOW}
            )
            conn.commit()
    filled = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE sla_clock"))
        size = conn.scalar(text("SELECT pg_size_pretty(pg_total_relation_size('sla_clock'))"))
        open_index = conn.scalar(
            text("SELECT pg_size_pretty(pg_relation_size('ix_sla_clock_open'))")
        )
        counts = dict(
            conn.execute(text("SELECT state, count(*) FROM sla_clock GROUP BY state")).all()
        )
    vacuumed = time.perf_counter() - started - filled
    print(
        f"filled {rows:,} rows in {filled:.0f} s (+ VACUUM ANALYZE {vacuumed:.0f} s); "
        f"table with indexes {size}, ix_sla_clock_open {open_index}; states {counts}"
    )

    with factory() as session:

        def at_risk(caller: Caller) -> Callable[[], object]:
            return lambda: service.inventories(
                session,
                caller=caller,
                state=ListState.AT_RISK,
                customs_code=None,
                now=NOW,
                policy=policy,
                limit=100,
            )

        def scan() -> object:
            result = service.scan(session, now=NOW, policy=policy)
            session.rollback()
            return result

        print("\n| query | median ms | p95 ms | max ms | rows / result |")
        print("|---|---:|---:|---:|---|")
        samples, result = timed(at_risk(one), repeats)
        report(
            "at-risk lists, one customs code (GET /sla/inventories?state=at_risk)",
            samples,
            f"{len(result)} rows",
        )  # type: ignore[arg-type]
        samples, result = timed(at_risk(every), repeats)
        report("at-risk lists, 20 customs codes", samples, f"{len(result)} rows")  # type: ignore[arg-type]
        samples, result = timed(
            lambda: service.inventories(
                session,
                caller=one,
                state=ListState.BREACHED,
                customs_code=None,
                now=NOW,
                policy=policy,
                limit=100,
            ),
            repeats,
        )
        report("breached lists, one customs code", samples, f"{len(result)} rows")  # type: ignore[arg-type]
        samples, result = timed(scan, repeats)
        report("scan(): due alerts (none left) + gauges of all codes", samples, str(result))
        samples, result = timed(
            lambda: service.overview(
                session, caller=one, customs_code=None, now=NOW, policy=policy
            ),
            max(5, repeats // 10),
        )
        report(
            "overview, one customs code (live counts + 24 h/7 d percentiles)",
            samples,
            f"running {result.running}, 7 d released "  # type: ignore[attr-defined]
            f"{result.last_7d.released_in_time + result.last_7d.released_late}",
        )  # type: ignore[attr-defined]

        statement, parameters = captured(engine, at_risk(one))
        plan = session.connection().exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
        )
        print(
            "\nEXPLAIN ANALYZE of the at-risk query (one customs code), as the service sends it:\n"
        )
        print("\n".join(f"    {line}" for (line,) in plan))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database to explore it")
    args = parser.parse_args()

    server = make_url(args.url)
    name = f"sw_bench_sla_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    print(
        f"python {platform.python_version()}, PostgreSQL {version}, {platform.machine()}, "
        f"run {NOW:%Y-%m-%d %H:%M} UTC; database {name}"
    )
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url, "0006_sla")
        run(url, args.rows, args.repeats)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            print(f"dropped {name}")
        admin.dispose()


if __name__ == "__main__":
    main()
