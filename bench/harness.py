"""Pieces the benchmarks share: a throwaway PostgreSQL database, the API as a process (or in
this process), the export parties filed through the API, CEB export messages built from the
golden samples, CPU accounting from /proc, and what machine and code a figure was measured on.

Import it from a script in bench/ (``python bench/x.py`` puts bench/ first on sys.path).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import psycopg.sql
from lxml import etree
from pydantic import SecretStr
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import migrate  # noqa: E402
from app.config import OutboxSettings, Settings  # noqa: E402

SAMPLES = ROOT / "tests" / "samples" / "export"
NS = "http://www.chinaport.gov.cn/ceb"
C = f"{{{NS}}}"
API = "/api/v1"

# The export story's parties (tests/samples/README.md).
EBP, EBC, AGENT, LOGISTICS, PAYMENT = (
    "4301990001",
    "4301990002",
    "4301990003",
    "4301990004",
    "4301990005",
)
PARTIES = {EBP: "ebp", EBC: "ebc", AGENT: "agent", LOGISTICS: "logistics", PAYMENT: "payment"}

FREIGHT = Decimal("35.00")


@dataclass(frozen=True)
class Product:
    template: int  # which golden line (0 or 1) carries this product's element layout
    item_no: str
    name: str
    gcode: str
    gmodel: str
    bar_code: str
    unit: str
    price: Decimal
    kg_each: Decimal  # net weight per unit (qty1 in kg for unit1 035; qty2 for line 2)


PRODUCTS = (
    Product(0, "XS-CJ-001", "醴陵釉下五彩瓷茶具", "6911101900", "醴陵釉下五彩|一壶四杯|日用瓷",
            "6921234500017", "006", Decimal("268.00"), Decimal("1.2")),
    Product(1, "XS-XX-002", "湘绣真丝围巾", "6214100000", "湘绣|100%桑蚕丝|180x55cm",
            "6921234500024", "015", Decimal("158.00"), Decimal("0.1")),
    Product(0, "XS-HC-003", "安化黑茶千两茶", "0902301000", "安化黑茶|花卷|1kg",
            "6921234500031", "035", Decimal("120.00"), Decimal("1.0")),
)  # fmt: skip


@dataclass(frozen=True)
class ListFacts:
    """One list and the keys and values its order, 收款单 and waybill must agree on."""

    order_no: str
    cop_no: str
    logistics_no: str
    pay_no: str
    qtys: tuple[int, int, int]

    @property
    def totals(self) -> list[Decimal]:
        return [q * p.price for q, p in zip(self.qtys, PRODUCTS, strict=True)]

    @property
    def goods_value(self) -> Decimal:
        return sum(self.totals, Decimal(0))

    @property
    def net_weight(self) -> Decimal:
        return sum((q * p.kg_each for q, p in zip(self.qtys, PRODUCTS, strict=True)), Decimal(0))

    @property
    def gross_weight(self) -> Decimal:
        return self.net_weight + Decimal("0.50")  # packaging


def list_facts(tag: str, index: int) -> ListFacts:
    return ListFacts(
        order_no=f"BO-{tag}-{index:07d}",
        cop_no=f"BC-{tag}-{index:07d}",
        logistics_no=f"BW{tag}{index:09d}",
        pay_no=f"BP-{tag}-{index:07d}",
        qtys=(1 + index % 3, 1 + (index + 1) % 3, 1 + (index + 2) % 2),
    )


def new_guid() -> str:
    return str(uuid.uuid4()).upper()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def set_text(parent: etree._Element, name: str, value: str) -> None:
    element = parent.find(C + name)
    assert element is not None, name
    element.text = value


def message_with(
    template: etree._Element, entity: str, entities: list[etree._Element]
) -> etree._Element:
    """A copy of a golden message with a new guid and ``entities`` in place of its first one."""
    root = copy.deepcopy(template)
    root.set("guid", new_guid())
    first = root.find(C + entity)
    assert first is not None
    at = root.index(first)
    root.remove(first)
    for offset, element in enumerate(entities):
        root.insert(at + offset, element)
    return root


class Templates:
    """The golden export messages, re-keyed and filled per document."""

    def __init__(self) -> None:
        self.docs = {
            n: etree.parse(str(SAMPLES / f"CEB{n}Message.xml")).getroot()
            for n in ("303", "403", "505", "603")
        }

    def _message(self, n: str, entity: str, entities: list[etree._Element]) -> bytes:
        root = message_with(self.docs[n], entity, entities)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def inventories(self, facts: list[ListFacts]) -> bytes:
        golden = self.docs["603"].find(C + "Inventory")
        assert golden is not None
        line_templates = golden.findall(C + "InventoryList")
        entities = []
        for f in facts:
            inventory = copy.deepcopy(golden)
            head = inventory.find(C + "InventoryHead")
            assert head is not None
            for old in inventory.findall(C + "InventoryList"):
                inventory.remove(old)
            for name, value in (
                ("guid", new_guid()),
                ("orderNo", f.order_no),
                ("logisticsNo", f.logistics_no),
                ("copNo", f.cop_no),
                ("freight", _money(FREIGHT)),
                ("grossWeight", _money(f.gross_weight)),
                ("netWeight", _money(f.net_weight)),
            ):
                set_text(head, name, value)
            for gnum, (product, qty, total) in enumerate(
                zip(PRODUCTS, f.qtys, f.totals, strict=True), start=1
            ):
                line = copy.deepcopy(line_templates[product.template])
                kg = qty * product.kg_each
                for name, value in (
                    ("gnum", str(gnum)),
                    ("itemNo", product.item_no),
                    ("itemName", product.name),
                    ("gcode", product.gcode),
                    ("gname", product.name),
                    ("gmodel", product.gmodel),
                    ("barCode", product.bar_code),
                    ("qty", str(qty)),
                    ("unit", product.unit),
                    ("price", _money(product.price)),
                    ("totalPrice", _money(total)),
                ):
                    set_text(line, name, value)
                if product.template == 0:
                    set_text(line, "qty1", str(kg))
                else:
                    set_text(line, "qty1", str(qty))
                    set_text(line, "qty2", str(kg))
                inventory.append(line)
            entities.append(inventory)
        return self._message("603", "Inventory", entities)

    def orders(self, facts: list[ListFacts]) -> bytes:
        golden = self.docs["303"].find(C + "Order")
        assert golden is not None
        line_templates = golden.findall(C + "OrderList")
        entities = []
        for f in facts:
            order = copy.deepcopy(golden)
            head = order.find(C + "OrderHead")
            assert head is not None
            for old in order.findall(C + "OrderList"):
                order.remove(old)
            set_text(head, "guid", new_guid())
            set_text(head, "orderNo", f.order_no)
            set_text(head, "goodsValue", _money(f.goods_value))
            set_text(head, "freight", _money(FREIGHT))
            for gnum, (product, qty, total) in enumerate(
                zip(PRODUCTS, f.qtys, f.totals, strict=True), start=1
            ):
                line = copy.deepcopy(line_templates[product.template])
                for name, value in (
                    ("gnum", str(gnum)),
                    ("itemNo", product.item_no),
                    ("itemName", product.name),
                    ("itemDescribe", product.gmodel),
                    ("barCode", product.bar_code),
                    ("unit", product.unit),
                    ("qty", str(qty)),
                    ("price", _money(product.price)),
                    ("totalPrice", _money(total)),
                ):
                    set_text(line, name, value)
                order.append(line)
            entities.append(order)
        return self._message("303", "Order", entities)

    def collections(self, facts: list[ListFacts]) -> bytes:
        golden = self.docs["403"].find(C + "Receipts")
        assert golden is not None
        entities = []
        for f in facts:
            receipt = copy.deepcopy(golden)
            set_text(receipt, "guid", new_guid())
            set_text(receipt, "orderNo", f.order_no)
            set_text(receipt, "payNo", f.pay_no)
            set_text(receipt, "charge", _money(f.goods_value + FREIGHT))
            entities.append(receipt)
        return self._message("403", "Receipts", entities)

    def waybills(self, facts: list[ListFacts]) -> bytes:
        golden = self.docs["505"].find(C + "Logistics")
        assert golden is not None
        entities = []
        for f in facts:
            waybill = copy.deepcopy(golden)
            set_text(waybill, "guid", new_guid())
            set_text(waybill, "logisticsNo", f.logistics_no)
            set_text(waybill, "freight", _money(FREIGHT))
            set_text(waybill, "grossWeight", _money(f.gross_weight))
            entities.append(waybill)
        return self._message("505", "Logistics", entities)


def chunks(items: list[ListFacts], size: int) -> Iterator[list[ListFacts]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- CPU accounting from /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn's worker processes)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            children += [int(child) for child in task.read_text().split()]
    return _proc_cpu(pid) + sum(tree_cpu(child) for child in children)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds of this process, the server subprocesses and the benchmark DB's backends."""

    def __init__(self, monitor: psycopg.Connection[Any], dbname: str, server_pids: list[int]):
        self.monitor, self.dbname, self.server_pids = monitor, dbname, server_pids

    def _backends(self) -> dict[int, float]:
        pids = self.monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,)
        ).fetchall()
        return {pid: _proc_cpu(pid) for (pid,) in pids}

    def snapshot(self) -> dict[str, Any]:
        return {
            "self": time.process_time(),
            "server": sum(tree_cpu(pid) for pid in self.server_pids),
            "pg": self._backends(),
            "machine": _machine_ticks(),
        }

    def since(self, start: dict[str, Any]) -> dict[str, float]:
        end = self.snapshot()
        pg = sum(cpu - start["pg"].get(pid, 0.0) for pid, cpu in end["pg"].items())
        busy = end["machine"][0] - start["machine"][0]
        total = end["machine"][1] - start["machine"][1]
        return {
            "self": end["self"] - start["self"],
            "server": end["server"] - start["server"],
            "pg": pg,
            "machine_busy": busy / total if total else 0.0,
        }


# ---------------------------------------------------------------- the database


class Database:
    """A throwaway database on a PostgreSQL server, migrated to head; dropped by ``close()``."""

    def __init__(self, server_url: str, prefix: str = "sw_bench") -> None:
        url = make_url(server_url)
        if not url.get_backend_name().startswith("postgresql"):
            raise SystemExit("the benchmark needs PostgreSQL")
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self.url = url.set(database=self.name).render_as_string(hide_password=False)
        self.pg_url = url.set(drivername="postgresql", database=self.name).render_as_string(
            hide_password=False
        )
        self.monitor_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.server_version = ""

    def create(self, *, migrated: bool = True) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.server_version = str(conn.execute(text("SHOW server_version")).scalar())
        if migrated:
            migrate.upgrade(self.url)

    def analyze_as_autovacuum(self) -> list[str]:
        """ANALYZE the tables autovacuum would have analyzed by now; returns their names.

        Its default rule: more rows changed since the last ANALYZE than 50 + 10 % of the
        table. This machine's cluster runs with autovacuum off (CI speed), so without this a
        benchmark measures plans made for tables without statistics, which a district's
        database (autovacuum on, docs/operations.md) does not have: a 100-list message's
        partner query read every document of a kind, 48 ms a call instead of 1 ms.
        """
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                    " WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)"
                    " ORDER BY s.relname"
                )
            ]
            for name in tables:
                conn.execute(psycopg.sql.SQL("ANALYZE {}").format(psycopg.sql.Identifier(name)))
        return tables

    def close(self, *, keep: bool = False) -> None:
        if not keep:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


# ---------------------------------------------------------------- the API


async def register(
    client: httpx.AsyncClient,
    admin_key: str,
    parties: Mapping[str, str | list[str]] = PARTIES,
    filing: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """File the parties (code → role or roles) as the bootstrap admin; an API key each.

    ``filing`` adds fields to an enterprise's filing (credit class, FX directory status).
    """
    admin = {"Authorization": f"Bearer {admin_key}"}
    keys = {}
    for code, roles in parties.items():
        role_list = [roles] if isinstance(roles, str) else list(roles)
        created = await client.post(
            f"{API}/enterprises",
            json={
                "code": code,
                "name": f"bench {'/'.join(role_list)} {code}",
                "roles": role_list,
                **(filing or {}).get(code, {}),
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        issued = await client.post(f"{API}/enterprises/{code}/keys", headers=admin)
        assert issued.status_code == 201, issued.text
        keys[code] = issued.json()["key"]
    return keys


def app_settings(db_url: str, admin_key: str) -> Settings:
    return Settings(
        database_url=db_url,
        admin_key=SecretStr(admin_key),
        outbox=OutboxSettings(in_process=False),
        require_signatures=False,
    )


# ``singlewindow`` (app.cli:main, the console script) run by this interpreter from this tree.
SINGLEWINDOW = (sys.executable, "-c", "from app.cli import main; main()")


def app_env(db_url: str, admin_key: str, *, require_signatures: bool = False) -> dict[str, str]:
    """The environment of an API or worker process of the benchmark; no relay in the API.

    PYTHONPATH puts this tree's app first, ahead of an editable install of another tree.
    """
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SW_DATABASE_URL": db_url,
        "SW_ADMIN_KEY": admin_key,
        "SW_REQUIRE_SIGNATURES": "true" if require_signatures else "false",
        "SW_OUTBOX__IN_PROCESS": "false",
    }


class Server:
    """The app to talk to: in this process through ASGITransport, a uvicorn subprocess, or
    ``singlewindow serve --no-relay`` (``serve``, the production command); ``bare``: the
    bare path's server (bench/bare_server.py)."""

    def __init__(
        self,
        kind: str,
        db_url: str,
        admin_key: str,
        workers: int = 1,
        *,
        require_signatures: bool = False,
        output: IO[bytes] | None = None,
    ) -> None:
        self.kind, self.db_url, self.admin_key, self.workers = kind, db_url, admin_key, workers
        self.require_signatures = require_signatures
        self.output = output  # the subprocess's stdout and stderr; None: inherited
        self.process: asyncio.subprocess.Process | None = None
        self._lifespan: Any = None
        self.base_url = "http://bench"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _command(self, port: int) -> list[str]:
        if self.kind == "bare":  # bench/bare_server.py: the bare path behind the same stack
            return [
                sys.executable, "-m", "uvicorn", "--app-dir", "bench",
                "bare_server:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "--no-access-log", "--workers", str(self.workers),
            ]  # fmt: skip
        if self.kind == "serve":
            return [
                *SINGLEWINDOW, "serve", "--no-relay",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers),
            ]  # fmt: skip
        return [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--workers", str(self.workers),
        ]  # fmt: skip

    async def __aenter__(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(300.0)
        if self.kind == "inprocess":
            from app.main import create_app

            app = create_app(app_settings(self.db_url, self.admin_key))
            # ASGITransport sends no lifespan events; the app's engine is made in its lifespan.
            self._lifespan = app.router.lifespan_context(app)
            await self._lifespan.__aenter__()
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=self.base_url, timeout=timeout
            )
            return self.client
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = app_env(self.db_url, self.admin_key, require_signatures=self.require_signatures)
        self.process = await asyncio.create_subprocess_exec(
            *self._command(port), cwd=ROOT, env=env, stdout=self.output, stderr=self.output
        )
        self.base_url = f"http://127.0.0.1:{port}"
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        for _ in range(300):
            try:
                if (await self.client.get("/healthz")).status_code == 200:
                    return self.client
            except httpx.TransportError:
                pass
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.kind} exited during start-up")
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not become healthy in 30 s")

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class RawResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class RawHttp:
    """A lean HTTP/1.1 load generator: keep-alive connections, each request written as bytes,
    each response read by its Content-Length.

    The load generator shares the machine's two cores with the server it measures; httpx
    spends 1.3–1.5 ms of CPU per request there, this 0.1–0.16 ms (bench/README.md). Only for a
    server that answers with Content-Length (uvicorn does for every response of the API).
    """

    def __init__(self, *base_urls: str) -> None:
        # New connections go to the servers in turn: with one sender per connection, each
        # server gets an equal share of the requests, as behind a request-level balancer.
        self._servers = itertools.cycle(
            [(url.host, url.port or 80) for url in map(httpx.URL, base_urls)]
        )
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, *, content: bytes, headers: Mapping[str, str]) -> RawResponse:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(*next(self._servers))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\n"
            f"Content-Length: {len(content)}\r\n{head}\r\n".encode("latin-1")
            + content
        )
        try:
            status = int((await reader.readline()).split()[1])
            length, keep = 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection":
                    keep = "close" not in value.lower()
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return RawResponse(status, body)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


# ---------------------------------------------------------------- what was measured


def revision() -> str:
    """The commit measured, and whether the work tree had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "app"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git work tree)"
    return f"{head}{' + uncommitted changes in app/' if dirty else ''}"


def machine() -> str:
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}"
