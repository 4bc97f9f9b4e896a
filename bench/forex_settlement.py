"""Settlement latency with concurrent banks on PostgreSQL: p50 / p99 (target p99 ≤ 20 ms).

Each bank is a thread with its own session that settles against the released lists of the
enterprises that mandated it, one transaction per settlement (check + row locks + allocation
+ check record + audit + commit), exactly what POST /api/v1/forex/settlements runs below
HTTP. ``--http`` also measures through a uvicorn server (JSON, auth, FastAPI) with one
client thread per bank.

Scenarios:
  spread  every bank has its own 5 enterprises, not in the FX directory (each settlement
          locks its enterprise's year total for the USD 200,000 check)
  hot     every bank settles for one registered enterprise (shared lists, shared year total)

Load: ``--rates 0`` is a closed loop (each bank sends its next settlement when the last one
is answered: the saturation throughput, and latency = queueing at saturation); a rate R > 0
is an open loop (each bank sends R settlements a second on a fixed schedule; latency is
counted from the scheduled time, so a stall is not hidden).

Usage:
  /work/venv/bin/python bench/forex_settlement.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
      [--banks 20] [--per-bank 100] [--rates 0 1 2] [--scenario spread hot] [--http]
      [--workers 2]

A fresh database is created, migrated, seeded (lists written with customs' models) and
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, insert, make_url, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app import migrate  # noqa: E402
from app.customs.models import Document, Inventory, InventoryLine  # noqa: E402
from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.forex import service  # noqa: E402
from app.forex.schemas import RateItem, SettlementCreate  # noqa: E402
from app.registry import service as registry_service  # noqa: E402
from app.registry.schemas import (  # noqa: E402
    BankMandateItem,
    EnterpriseCreate,
    FxDirectoryStatus,
    PrincipalCreate,
    Role,
)

ADMIN_KEY = "bench-admin-key-0123456789abcdef0123456789"
LISTS_PER_ENTERPRISE = 40
ENTERPRISES_PER_BANK = 5


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bank_code(i: int) -> str:
    return f"BENCHBANK{i:02d}"


def ebc_code(i: int) -> str:
    return f"4399{i:06d}"


def seed(factory: sessionmaker[Session], banks: int, scenario: str) -> dict[str, list[str]]:
    """Enterprises, banks, mandates, rates and released lists; returns bank → invtNos."""
    hot = scenario == "hot"
    enterprises = 1 if hot else banks * ENTERPRISES_PER_BANK
    lists_per_ebc = LISTS_PER_ENTERPRISE * (banks * ENTERPRISES_PER_BANK if hot else 1)
    owned: dict[str, list[str]] = {bank_code(b): [] for b in range(banks)}
    keys: dict[str, str] = {}
    now = datetime.now(UTC)
    with factory.begin() as session:
        for e in range(enterprises):
            registry_service.create_enterprise(
                session,
                data=EnterpriseCreate(
                    code=ebc_code(e),
                    name=f"bench ebc {e}",
                    roles=[Role.EBC],
                    fx_directory_status=(
                        FxDirectoryStatus.REGISTERED if hot else FxDirectoryStatus.NOT_REGISTERED
                    ),
                ),
                actor="bench",
            )
        for b in range(banks):
            _, issued = registry_service.create_principal(
                session,
                data=PrincipalCreate(kind="bank", name=f"bench bank {b}", bank_code=bank_code(b)),
                actor="bench",
            )
            keys[bank_code(b)] = issued.key
        for e in range(enterprises):
            mandated = range(banks) if hot else [e // ENTERPRISES_PER_BANK]
            registry_service.replace_bank_mandates(
                session,
                code=ebc_code(e),
                mandates=[BankMandateItem(bank_code=bank_code(b)) for b in mandated],
                actor="bench",
            )
        service.load_rates(
            session,
            rates=[RateItem(currency="502", effective_date=date(2000, 1, 1), rate=Decimal("7.1"))],
            actor="bench",
        )
    serial = 0
    with factory.begin() as session:
        for e in range(enterprises):
            inventories, documents = [], []
            for _ in range(lists_per_ebc):
                serial += 1
                invt_no = f"49002026E{serial:09d}"
                order_no = f"BENCH-{serial}"
                inventories.append(
                    {
                        "direction": "E",
                        "guid": str(uuid.uuid4()),
                        "agent_code": "4301990003",
                        "cop_no": f"COP-{serial}",
                        "pre_no": f"B{serial:017d}",
                        "invt_no": invt_no,
                        "ebp_code": "4301990001",
                        "ebc_code": ebc_code(e),
                        "order_no": order_no,
                        "logistics_code": "4301990004",
                        "logistics_no": f"WB{serial}",
                        "customs_code": "4900",
                        "port_code": "4900",
                        "trade_mode": "9610",
                        "statistics_flag": "A",
                        "country": "132",
                        "currency": "142",
                        "goods_value": Decimal(1010),
                        "freight": Decimal(35),
                        "insured_fee": Decimal(5),
                        "gross_weight": Decimal(3),
                        "net_weight": Decimal(2),
                        "pack_no": 1,
                        "app_type": "1",
                        "app_time": now,
                        "app_status": "2",
                        "status": 800,
                        "status_at": now,
                        "sender_code": "4301990003",
                        "message_id": uuid.uuid4(),
                        "head": {},
                        "inspection_state": "cleared",
                        "released_at": now,
                        "full_tax": False,
                    }
                )
                key = f"4301990001|{order_no}"
                for kind, ref, head in (
                    ("order", None, {"orderNo": order_no, "ebcCode": ebc_code(e)}),
                    (
                        "payment",
                        key,
                        {
                            "payNo": f"P{serial}",
                            "ebcCode": ebc_code(e),
                            "charge": "1045",
                            "currency": "142",
                        },
                    ),
                ):
                    documents.append(
                        {
                            "kind": kind,
                            "direction": "E",
                            "business_key": key if ref is None else f"{key}|pay",
                            "ref_key": ref,
                            "guid": str(uuid.uuid4()),
                            "app_type": "1",
                            "app_time": now,
                            "app_status": "2",
                            "status": 120,
                            "sender_code": "4301990005",
                            "message_id": uuid.uuid4(),
                            "head": head,
                            "lines": [],
                        }
                    )
                banks_of_list = range(banks) if hot else [e // ENTERPRISES_PER_BANK]
                for b in banks_of_list:
                    owned[bank_code(b)].append(invt_no)
            ids = session.scalars(insert(Inventory).returning(Inventory.id), inventories).all()
            session.execute(
                insert(InventoryLine),
                [
                    {
                        "inventory_id": i,
                        "gnum": g,
                        "gcode": "6911101900",
                        "gname": "瓷器",
                        "country": "132",
                        "currency": "142",
                        "unit": "006",
                        "qty": Decimal(1),
                        "unit1": "006",
                        "qty1": Decimal(1),
                        "price": price,
                        "total_price": price,
                    }
                    for i in ids
                    for g, price in ((1, Decimal(536)), (2, Decimal(474)))
                ],
            )
            session.execute(insert(Document), documents)
    owned["_keys"] = [f"{b}={k}" for b, k in keys.items()]
    return owned


def request(invt_no: str, ebc: str, ref: str) -> SettlementCreate:
    return SettlementCreate.model_validate(
        {
            "kind": "collection",
            "invt_no": invt_no,
            "amount": "10",
            "currency": "142",
            "account_holder": ebc,
            "bank_ref": ref,
        }
    )


def run_service(
    factory: sessionmaker[Session],
    owned: dict[str, list[str]],
    ebc_of: dict[str, str],
    banks: int,
    per_bank: int,
    prefix: str = "s",
    rate: float = 0,
) -> tuple[list[float], float, dict[str, int]]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(banks)

    def bank(b: int) -> None:
        code = bank_code(b)
        lists = owned[code]
        mine: list[float] = []
        seen: dict[str, int] = {}
        start.wait()
        began = time.perf_counter() + b / banks / rate if rate else 0.0
        for k in range(per_bank):
            invt_no = lists[(k * 7 + b * 13) % len(lists)]
            data = request(invt_no, ebc_of[invt_no], f"{code}-{prefix}{k}")
            t0 = _when(began, k, rate)
            with factory.begin() as session:
                result, _ = service.settle(
                    session,
                    bank_code=code,
                    data=data,
                    actor=f"bank:{code}",
                    at=datetime.now(UTC),
                )
            mine.append(time.perf_counter() - t0)
            seen[result.status] = seen.get(result.status, 0) + 1
        with lock:
            latencies.extend(mine)
            for s, n in seen.items():
                statuses[s] = statuses.get(s, 0) + n

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=banks) as pool:
        list(pool.map(bank, range(banks)))
    return latencies, time.perf_counter() - t0, statuses


def _when(began: float, k: int, rate: float) -> float:
    """Closed loop: now. Open loop: the k-th scheduled time, after sleeping until it."""
    if not rate:
        return time.perf_counter()
    due = began + k / rate
    pause = due - time.perf_counter()
    if pause > 0:
        time.sleep(pause)
    return due


def run_http(
    url: str,
    owned: dict[str, list[str]],
    ebc_of: dict[str, str],
    banks: int,
    per_bank: int,
    workers: int,
    prefix: str = "h",
    rate: float = 0,
    port: int = 8765,
) -> tuple[list[float], float, dict[str, int]]:
    keys = dict(item.split("=", 1) for item in owned["_keys"])
    env = {
        **os.environ,
        "SW_DATABASE_URL": url,
        "SW_ADMIN_KEY": ADMIN_KEY,
        "SW_OUTBOX__IN_PROCESS": "false",
        "SW_DB_POOL_SIZE": str(banks),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        lock = threading.Lock()
        start = threading.Barrier(banks)

        def bank(b: int) -> None:
            code = bank_code(b)
            lists = owned[code]
            mine: list[float] = []
            seen: dict[str, int] = {}
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {keys[code]}"}, timeout=30
            ) as client:
                client.get("/api/v1/forex/policy")  # warm the connection
                start.wait()
                began = time.perf_counter() + b / banks / rate if rate else 0.0
                for k in range(per_bank):
                    invt_no = lists[(k * 7 + b * 13) % len(lists)]
                    body = request(invt_no, ebc_of[invt_no], f"{code}-{prefix}{k}").model_dump(
                        mode="json", exclude_none=True
                    )
                    t0 = _when(began, k, rate)
                    response = client.post("/api/v1/forex/settlements", json=body)
                    mine.append(time.perf_counter() - t0)
                    status = response.json().get("status", str(response.status_code))
                    seen[status] = seen.get(status, 0) + 1
            with lock:
                latencies.extend(mine)
                for s, n in seen.items():
                    statuses[s] = statuses.get(s, 0) + n

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=banks) as pool:
            list(pool.map(bank, range(banks)))
        return latencies, time.perf_counter() - t0, statuses
    finally:
        server.terminate()
        server.wait(timeout=30)


def report(label: str, latencies: list[float], wall: float, statuses: dict[str, int]) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"| {label} | {len(ms)} | {percentile(ms, 50):.1f} | {percentile(ms, 90):.1f} | "
        f"{percentile(ms, 99):.1f} | {max(ms):.1f} | {len(ms) / wall:.0f} | "
        f"{', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--banks", type=int, default=20)
    parser.add_argument("--per-bank", type=int, default=100)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[0, 1, 2],
        help="settlements/s per bank; 0 = closed loop",
    )
    parser.add_argument("--scenario", nargs="+", default=["spread", "hot"])
    parser.add_argument("--http", action="store_true", help="also measure through HTTP")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes for --http")
    args = parser.parse_args()

    server = make_url(args.url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        pg_version = conn.execute(text("SHOW server_version")).scalar()
    print(
        f"python {platform.python_version()}, PostgreSQL {pg_version}, nproc {os.cpu_count()}, "
        f"{args.banks} banks × {args.per_bank} settlements, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("| scenario | n | p50 ms | p90 ms | p99 ms | max ms | settlements/s | outcomes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for scenario in args.scenario:
        name = f"sw_bench_forex_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            migrate.upgrade(url)
            engine = make_engine(url, pool_size=args.banks)
            factory = make_sessionmaker(engine)
            owned = seed(factory, args.banks, scenario)
            with factory() as session:
                ebc_of = dict(
                    session.execute(text("SELECT invt_no, ebc_code FROM customs_inventory")).all()
                )
            # warm-up: one settlement per bank outside the measurement
            run_service(factory, owned, ebc_of, args.banks, 1, prefix="warm")
            for rate in args.rates:
                load = f"{rate:g}/s per bank" if rate else "closed loop"
                report(
                    f"{scenario}, service, {load}",
                    *run_service(
                        factory,
                        owned,
                        ebc_of,
                        args.banks,
                        args.per_bank,
                        prefix=f"s{rate:g}-",
                        rate=rate,
                    ),
                )
            engine.dispose()
            for rate in args.rates if args.http else []:
                load = f"{rate:g}/s per bank" if rate else "closed loop"
                report(
                    f"{scenario}, HTTP ({args.workers} uvicorn workers), {load}",
                    *run_http(
                        url,
                        owned,
                        ebc_of,
                        args.banks,
                        args.per_bank,
                        args.workers,
                        prefix=f"h{rate:g}-",
                        rate=rate,
                    ),
                )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
