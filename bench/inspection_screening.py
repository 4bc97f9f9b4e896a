"""Inspection's screening of accepted lists, with lists of real size, on SQLite and PostgreSQL.

Question: what does screening one accepted list cost once the district has loaded a positive
list of real size (the 2019 list has 1,413 HS codes) and a long negative list, and does
keeping the parsed lists per version pay? The script:

1. creates a throwaway database (a temporary SQLite file, or a database on the server of
   --url) and migrates it;
2. files one e-commerce enterprise (general credit) with --goods approved goods filings,
   and stores a positive list of 1,413 entries, a negative list of 300 and 20 bans;
3. screens --lists import lists of 1-5 lines each through ``service.screen_list`` (one
   transaction per list, as the outbox relay runs it), once with the parsed-list cache and
   once clearing it before every list (every list parses the four lists, the old way);
4. drops the database.

Usage:  /work/venv/bin/python bench/inspection_screening.py [--lists 1000] [--goods 200]
            [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.db import make_engine, make_sessionmaker
from app.inspection import rules, service
from app.inspection.models import EnterpriseFiling, GoodsFiling
from app.inspection.schemas import (
    Ban,
    BanList,
    NegativeEntry,
    NegativeList,
    PositiveEntry,
    PositiveList,
)
from app.registry.models import Enterprise

EBC = "4301990012"
NOW = datetime.now(UTC)


def seed(factory: sessionmaker[Session], goods: int) -> list[tuple[str, str]]:
    """The enterprise, its filings and the lists; returns the goods as (item_no, hs_code)."""
    rng = random.Random(6)
    items = [(f"SKU-{n:05d}", f"3304{rng.randrange(10**6):06d}") for n in range(goods)]
    with factory.begin() as session:
        session.add(
            Enterprise(
                code=EBC,
                name="bench ebc",
                roles=["ebc"],
                credit_class="general",
                fx_directory_status="not_registered",
                active=True,
            )
        )
        session.flush()
        filing = EnterpriseFiling(
            enterprise_code=EBC,
            customs_code="4900",
            name="bench ebc",
            address="长沙",
            contact="bench",
            phone="0731-0000000",
            status="approved",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(filing)
        session.flush()
        session.add_all(
            GoodsFiling(
                enterprise_code=EBC,
                enterprise_filing_id=filing.id,
                customs_code="4900",
                item_no=item_no,
                hs_code=hs_code,
                name=f"goods {item_no}",
                brand="b",
                model="m",
                origin_country="116",
                manufacturer="m",
                supplier="s",
                ingredients="i",
                conformity_statement="c",
                risk_tier=rng.choice(["low", "medium", "high"]),
                quarantine=False,
                status="approved",
                created_at=NOW,
                updated_at=NOW,
            )
            for item_no, hs_code in items
        )
        positive = [
            PositiveEntry(hs_code=f"{n:04d}{rng.randrange(10**6):06d}") for n in range(1412)
        ]
        bodies = {
            service.ListKind.POSITIVE: PositiveList(
                entries=[*positive, PositiveEntry(hs_code="3304", name="护肤品")]
            ),
            service.ListKind.NEGATIVE: NegativeList(
                entries=[
                    NegativeEntry(
                        id=f"n{n}", category=1 + n % 7, hs_prefix=f"{9000 + n:04d}", reason="禁止"
                    )
                    for n in range(300)
                ]
            ),
            service.ListKind.BANS: BanList(
                bans=[
                    Ban(id=f"b{n}", country=f"{300 + n:03d}", reason="疫区", valid_from=NOW)
                    for n in range(20)
                ]
            ),
        }
        for kind, body in bodies.items():
            service.replace_list(session, kind=kind, body=body, actor="bench")
    return items


def screen(
    factory: sessionmaker[Session],
    items: list[tuple[str, str]],
    lists: int,
    first_id: int,
    before_each: Callable[[], None],
) -> list[float]:
    rng = random.Random(first_id)
    timings = []
    for n in range(first_id, first_id + lists):
        picked = rng.sample(items, rng.randint(1, 5))
        lines = [
            rules.Line(gnum, hs_code, f"goods {item_no}", "116", item_no=item_no)
            for gnum, (item_no, hs_code) in enumerate(picked, start=1)
        ]
        before_each()
        started = time.perf_counter()
        with factory.begin() as session:
            service.screen_list(
                session,
                inventory_id=n,
                invt_no=f"49002026I{n:09d}",
                direction="I",
                customs_code="4900",
                trade_mode="9610",
                ebc_code=EBC,
                lines=lines,
                accepted_at=NOW,
                event_id=uuid.uuid4(),
                at=NOW,
            )
        timings.append(time.perf_counter() - started)
    return timings


def report(label: str, timings: list[float]) -> None:
    ms = sorted(t * 1000 for t in timings)
    print(
        f"| {label} | {len(ms)} | {statistics.median(ms):.2f} | {ms[int(len(ms) * 0.95)]:.2f} "
        f"| {len(ms) / sum(timings):.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=1000)
    parser.add_argument("--goods", type=int, default=200)
    parser.add_argument("--url", help="a PostgreSQL server; SQLite in a temporary file if absent")
    args = parser.parse_args()
    admin = None
    name = f"sw_bench_inspection_{uuid.uuid4().hex[:8]}"
    if args.url:
        server = make_url(args.url)
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        items = seed(factory, args.goods)
        print(f"{engine.dialect.name}, Python {platform.python_version()}")
        print("| case | lists | median ms | p95 ms | lists/s |\n|---|---:|---:|---:|---:|")
        screen(factory, items, 20, 10**8, lambda: None)
        report("parsed lists kept per version", screen(factory, items, args.lists, 1, lambda: None))
        report(
            "lists parsed for every list",
            screen(factory, items, args.lists, 10**6, service._PARSED.clear),
        )
        engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
