"""Window intake (issue 3): CEB603 lists through the ASGI app on PostgreSQL, and the bare path.

Usage:  /work/venv/bin/python bench/window_intake.py [--lists 3000] [--clients 4]
            [--mode single|hundred|both] [--server inprocess|uvicorn] [--workers 1]
            [--db-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
            [--profile-lists 2000] [--profile-mode hundred|single]

What it does, in one run against a throwaway PostgreSQL database (sw_bench_<random>, migrated
with app.migrate.upgrade, dropped at the end):

1. Files the golden export parties (tests/samples/README.md) through the API as the
   bootstrap admin (SW_ADMIN_KEY), one API key each.
2. Generates CEB603 messages from tests/samples/export/CEB603Message.xml, re-keyed per list
   (guid, copNo, orderNo, logisticsNo), 3 lines each with qty x price = totalPrice and the
   waybill's gross weight; and their partner documents (303 order, 403 收款单, 505 waybill,
   100 per message) from the golden 303/403/505. The partners are sent first and untimed, so
   every timed list is matched at once and goes the whole way to 120 (三单对碰); the run
   checks that every list ended at 120.
3. Bare path, single client, per message: app.window.xmlsafe.parse_xml + XSD validation
   (app.window.xsd) + psycopg COPY of heads and lines into two scratch tables, one
   transaction per message.
4. Full path: POST /api/v1/messages with C concurrent httpx.AsyncClient clients, in-process
   (httpx.ASGITransport) or against a `uvicorn app.main:create_app --factory` subprocess.
   Signatures are not required and the outbox relay does not run: its events are written
   (part of the cost) but not handled during the timing. 1-list and 100-list messages, each
   after an untimed warm-up, during which (in-process) the SQL statements are counted.
5. Profiles the full path in-process with py-spy (`pip install py-spy`), in two views over
   half of the profiled messages each: the thread holding the GIL (where the Python CPU
   goes) and every busy thread (close to where a request thread's wall time goes).

Per phase it prints messages/s, lists/s, p50/p99 latency per message, and the CPU the
phase cost per list: this process (client + in-process server, or the client alone), the
uvicorn server, and the PostgreSQL backends of the benchmark database (from /proc), plus how
busy the whole machine was (other work on a shared machine shows up there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bare_server import BARE_DDL, store
from harness import (
    AGENT,
    API,
    EBP,
    LOGISTICS,
    PAYMENT,
    ROOT,
    CpuMeter,
    Database,
    ListFacts,
    RawHttp,
    Server,
    Templates,
    chunks,
    list_facts,
    machine,
    register,
    revision,
)
from sqlalchemy import Engine, event

from app import migrate
from app.config import Settings
from app.window.xsd import load_schemas

PER_MESSAGE = 100  # the standard's maxOccurs for entities in one message


@dataclass
class Job:
    body: bytes
    sender: str
    lists: int  # entities in the message


class Progress:
    """One status line on stderr, refreshed at most every few seconds."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else 10.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.shown >= self.every or self.done >= self.total:
            self.shown = now
            end = "\n" if self.done >= self.total or not self.tty else ""
            lead = "\r" if self.tty else ""
            elapsed = now - self.started
            print(
                f"{lead}  {self.label}: {self.done}/{self.total} in {elapsed:.1f} s",
                end=end,
                file=sys.stderr,
                flush=True,
            )


@dataclass
class Result:
    mode: str
    path: str
    clients: int
    messages: int
    lists: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def lists_per_s(self) -> float:
        return self.lists / self.seconds

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# ---------------------------------------------------------------- the bare path


def bare(pg_url: str, jobs: list[Job], mode: str, meter: CpuMeter) -> Result:
    """parse + XSD + COPY of heads and lines, one transaction per message, one client."""
    schemas = load_schemas(Settings().xsd_dir)
    latencies = []
    progress = Progress(f"bare {mode}", sum(j.lists for j in jobs))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        start_cpu = meter.snapshot()
        started = time.perf_counter()
        for job in jobs:
            t0 = time.perf_counter()
            store(conn, schemas, job.body)
            latencies.append(time.perf_counter() - t0)
            progress.add(job.lists)
        seconds = time.perf_counter() - started
        cpu = meter.since(start_cpu)
    return Result(mode, "bare", 1, len(jobs), sum(j.lists for j in jobs), seconds, latencies, cpu)


async def bare_http(
    servers: list[Server], plans: list[Plan], clients: int, meter: CpuMeter, raw_client: bool
) -> list[Result]:
    """The bare path behind the API's server stack (bare_server.py), ``clients`` at a time."""
    results = []
    async with contextlib.AsyncExitStack() as stack:
        entered = [await stack.enter_async_context(server) for server in servers]
        meter.server_pids = [each.pid for each in servers if each.pid is not None]
        failures: Counter[str] = Counter()
        for p in plans:
            client = RawHttp(*(each.base_url for each in servers)) if raw_client else entered[0]
            await drive(
                client, p.warmup, {}, clients, f"warm-up bare-http {p.mode}", failures, path="/bare"
            )
            results.append(
                await timed(client, p, {}, clients, "bare-http", meter, failures, path="/bare")
            )
        stop_on(failures, "some bare messages were not stored")
    return results


# ---------------------------------------------------------------- the full path


async def drive(
    client: httpx.AsyncClient | RawHttp,
    jobs: list[Job],
    keys: dict[str, str],
    clients: int,
    label: str,
    failures: Counter[str],
    path: str = f"{API}/messages",
) -> list[float]:
    """Send every job with ``clients`` concurrent senders; the latency of each message.

    ``keys``: the API key of each sender (none for the bare path).
    """
    pending = iter(jobs)
    latencies: list[float] = []
    progress = Progress(label, sum(j.lists for j in jobs))

    async def sender() -> None:
        for job in pending:
            headers = {"Content-Type": "application/xml"}
            if job.sender in keys:
                headers["Authorization"] = f"Bearer {keys[job.sender]}"
            t0 = time.perf_counter()
            response = await client.post(path, content=job.body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                failures[f"{response.status_code} {response.text[:200]}"] += 1
            progress.add(job.lists)

    await asyncio.gather(*(sender() for _ in range(clients)))
    return latencies


async def timed(
    client: httpx.AsyncClient | RawHttp,
    p: Plan,
    keys: dict[str, str],
    clients: int,
    path_name: str,
    meter: CpuMeter,
    failures: Counter[str],
    path: str = f"{API}/messages",
) -> Result:
    """Send ``p``'s timed messages: their rate, latencies and CPU; a raw client is closed."""
    start_cpu = meter.snapshot()
    started = time.perf_counter()
    latencies = await drive(
        client, p.timed, keys, clients, f"{path_name} {p.mode}", failures, path=path
    )
    seconds = time.perf_counter() - started
    cpu = meter.since(start_cpu)
    if isinstance(client, RawHttp):
        await client.aclose()
    lists = sum(j.lists for j in p.timed)
    return Result(p.mode, path_name, clients, len(p.timed), lists, seconds, latencies, cpu)


def stop_on(failures: Counter[str], message: str) -> None:
    if failures:
        for what, n in failures.most_common(5):
            print(f"  FAILED x{n}: {what}", file=sys.stderr)
        raise SystemExit(message)


def partner_jobs(templates: Templates, facts: list[ListFacts]) -> list[Job]:
    jobs = []
    for group in chunks(facts, PER_MESSAGE):
        jobs.append(Job(templates.orders(group), EBP, len(group)))
        jobs.append(Job(templates.collections(group), PAYMENT, len(group)))
        jobs.append(Job(templates.waybills(group), LOGISTICS, len(group)))
    return jobs


def list_jobs(templates: Templates, facts: list[ListFacts], per_message: int) -> list[Job]:
    return [
        Job(templates.inventories(group), AGENT, len(group)) for group in chunks(facts, per_message)
    ]


@dataclass
class Plan:
    """The messages of one mode: warm-up and timed lists, and their partner documents."""

    mode: str
    per_message: int
    warmup: list[Job]
    timed: list[Job]
    partners: list[Job]
    cop_prefix: str


def plan(templates: Templates, mode: str, lists: int, clients: int, tag: str) -> Plan:
    per_message = 1 if mode == "single" else PER_MESSAGE
    messages = max(1, -(-lists // per_message))
    warmup_messages = max(2 * clients, 20) if per_message == 1 else max(clients, 2)
    prefix = f"{tag}{mode[0]}"
    facts = [list_facts(prefix, i) for i in range((messages + warmup_messages) * per_message)]
    split = warmup_messages * per_message
    return Plan(
        mode,
        per_message,
        list_jobs(templates, facts[:split], per_message),
        list_jobs(templates, facts[split:], per_message),
        partner_jobs(templates, facts),
        f"BC-{prefix}-",
    )


def statuses(pg_url: str, cop_prefix: str) -> dict[int, int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM customs_inventory WHERE cop_no LIKE %s GROUP BY status",
            (cop_prefix + "%",),
        ).fetchall()
    return dict(rows)


class StatementCensus:
    """Counts the SQL statements every SQLAlchemy engine of this process sends, by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.commits = 0

    def _statement(self, *args: Any) -> None:
        statement: str = args[2]
        words = statement.split(None, 8)
        if words[0] == "SELECT" and " FROM " in statement:
            after = statement.split(" FROM ", 1)[1].split(None, 1)[0]
            kind = f"SELECT {after}"
        elif words[0] in ("INSERT", "DELETE"):
            kind = " ".join(words[:3])
        else:
            kind = " ".join(words[:2])
        self.counts[kind] += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1

    def __enter__(self) -> StatementCensus:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "commit", self._commit)

    def per_list(self, lists: int, messages: int) -> str:
        total = sum(self.counts.values())
        kinds = ", ".join(f"{k} {n / lists:.2f}" for k, n in self.counts.most_common())
        return (
            f"{total / lists:.2f} statements per list ({total / messages:.1f} per message, "
            f"{self.commits / messages:.1f} commits per message): {kinds}"
        )


async def full(
    servers: list[Server],
    keys: dict[str, str],
    plans: list[Plan],
    clients: int,
    meter: CpuMeter,
    db: Database,
    census_lines: list[str],
    raw_client: bool,
    analyze: bool,
) -> list[Result]:
    """Warm up, then time each plan's lists; the statement census is taken in the warm-up.

    ``raw_client``: the timed messages go through ``RawHttp`` instead of httpx, spread over
    the servers (the setup and the warm-up go to the first).
    """
    results = []
    async with contextlib.AsyncExitStack() as stack:
        clients_of = [await stack.enter_async_context(server) for server in servers]
        client, server = clients_of[0], servers[0]
        meter.server_pids = [each.pid for each in servers if each.pid is not None]
        if not keys:
            keys.update(await register(client, server.admin_key))
        failures: Counter[str] = Counter()
        for p in plans:
            await drive(client, p.partners, keys, clients, f"setup {p.mode}: 303/403/505", failures)
        for p in plans:
            with StatementCensus() as census:
                await drive(client, p.warmup, keys, clients, f"warm-up {p.mode}", failures)
            if server.kind == "inprocess":
                lists = sum(j.lists for j in p.warmup)
                census_lines.append(f"- {p.mode}: {census.per_list(lists, len(p.warmup))}")
            if analyze:
                analyzed = ", ".join(db.analyze_as_autovacuum()) or "no table"
                print(f"  {p.mode}: ANALYZE as autovacuum would have: {analyzed}", file=sys.stderr)
            timed_client = RawHttp(*(each.base_url for each in servers)) if raw_client else client
            results.append(await timed(timed_client, p, keys, clients, "full", meter, failures))
            counts = statuses(db.pg_url, p.cop_prefix)
            accepted = counts.get(120, 0)
            expected = sum(j.lists for j in p.timed) + sum(j.lists for j in p.warmup)
            note = "" if accepted == expected else f"  <-- expected {expected} at 120"
            print(f"  {p.mode}: list statuses {counts}{note}", file=sys.stderr)
        stop_on(failures, "some messages were not accepted")
    return results


# ---------------------------------------------------------------- profiling with py-spy


@dataclass
class Profiled:
    kind: str
    raw: Path  # py-spy's collapsed stacks
    complaints: str  # py-spy's stderr
    lists: int
    seconds: float
    cpu_seconds: float  # this process, all threads, during the sampling


# Two views, each over half of the profiled messages. "gil": only the thread holding the GIL,
# i.e. where this process's Python time goes (py-spy counts the last holder while nobody holds
# it, so some waiting leaks in). "busy": every thread py-spy does not see as idle; on this
# machine that includes request threads waiting on PostgreSQL, so it is close to where a
# request thread's wall time goes.
PROFILE_KINDS = {"gil": ["--gil"], "busy": []}


async def profile(
    spy: str,
    db_url: str,
    admin_key: str,
    keys: dict[str, str],
    p: Plan,
    clients: int,
    folder: Path,
) -> list[Profiled]:
    """Sample this process with py-spy while the plan's messages go in, once per view."""
    server = Server("inprocess", db_url, admin_key)
    failures: Counter[str] = Counter()
    done = []
    half = len(p.timed) // 2
    async with server as client:
        await drive(client, p.partners, keys, clients, "setup profile: 303/403/505", failures)
        await drive(client, p.warmup, keys, clients, "warm-up profile", failures)
        for (kind, flags), jobs in zip(
            PROFILE_KINDS.items(), (p.timed[:half], p.timed[half:]), strict=True
        ):
            out = folder / f"{kind}.txt"
            # Sampled by stopping the process (no --nonblocking): consistent stacks.
            spy_process = await asyncio.create_subprocess_exec(
                spy, "record", "--pid", str(os.getpid()), "--rate", str(PROFILE_HZ), *flags,
                "--format", "raw", "--output", str(out),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # py-spy attaches
            cpu, started = time.process_time(), time.perf_counter()
            await drive(client, jobs, keys, clients, f"profiled ({kind}) full {p.mode}", failures)
            cpu, seconds = time.process_time() - cpu, time.perf_counter() - started
            spy_process.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(spy_process.communicate(), 60)
            lists = sum(j.lists for j in jobs)
            done.append(Profiled(kind, out, err.decode(errors="replace"), lists, seconds, cpu))
    if failures:
        raise SystemExit(f"profile: some messages were not accepted: {failures.most_common(3)}")
    return done


PROFILE_HZ = 100
# Leaf frames of threads that wait (py-spy's idle detection lets a few such samples through).
IDLE_LEAVES = frozenset(
    {
        "selectors.py:EpollSelector.select",
        "asyncio/unix_events.py:ThreadedChildWatcher._do_waitpid",
        "threading.py:Condition.wait",
        "threading.py:Thread._wait_for_tstate_lock",
        "threading.py:Event.wait",
        "queue.py:Queue.get",
    }
)


def _frame_key(frame: str) -> str:
    """'submit (app/window/service.py:80)' -> 'app/window/service.py:submit'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


def _component(key: str) -> str:
    path = key.split(":", 1)[0]
    if path.startswith("app/"):
        return "app (" + path.split("/")[1].removesuffix(".py") + ")"
    return path.split("/", 1)[0].removesuffix(".py")


def summarise(profiled: Profiled, top: int) -> str:
    """Where the on-CPU time goes: top functions (inclusive and self), the innermost app
    function of each sample (what the app asked for, libraries included), self by package."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    by_app: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = idle = 0
    for line in profiled.raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_key(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        total += count
        for key in set(frames):
            inclusive[key] += count
        # Generated code (SQLAlchemy's "<string>" functions) is named after its caller.
        named = [f for f in frames if not f.startswith("<")] or frames
        own = frames[-1] if frames[-1] == named[-1] else f"{named[-1]} > {frames[-1]}"
        leaf[own] += count
        by_package[_component(named[-1])] += count
        in_app = [f for f in frames if f.startswith("app/")]
        by_app[in_app[-1] if in_app else f"(no app frame: {_component(named[-1])})"] += count
    if not total:
        return "(no samples)"

    def share(count: int) -> str:
        return f"{100 * count / total:.1f}%"

    sampled_ms = 1000 * total / PROFILE_HZ / profiled.lists
    measured_ms = 1000 * profiled.cpu_seconds / profiled.lists
    flags = " ".join(PROFILE_KINDS[profiled.kind]) or "(every thread not idle)"
    out = [
        f"py-spy {flags}: {profiled.lists} lists in {profiled.seconds:.1f} s; {total} samples "
        f"at {PROFILE_HZ} Hz = {sampled_ms:.2f} ms/list of sampled thread time, against "
        f"{measured_ms:.2f} ms/list of CPU used by the process ({idle} samples of idle threads "
        "left out). C code (lxml, psycopg's C core, libpq) is self time of its Python caller.",
        "",
        "| inclusive | function |",
        "|---:|---|",
    ]
    skip = ("threading.py", "concurrent/", "asyncio/", "anyio/", "<", "contextvars")
    shown = [(k, n) for k, n in inclusive.most_common() if not k.startswith(skip)]
    out += [f"| {share(n)} | `{k}` |" for k, n in shown[:top]]
    out += ["", "| self, by innermost app function | function |", "|---:|---|"]
    out += [f"| {share(n)} | `{k}` |" for k, n in by_app.most_common(top // 2)]
    out += ["", "| self | function |", "|---:|---|"]
    out += [f"| {share(n)} | `{k}` |" for k, n in leaf.most_common(top // 2)]
    out += ["", "| self, by package | share |", "|---|---:|"]
    out += [f"| {k} | {share(n)} |" for k, n in by_package.most_common(10)]
    return "\n".join(out)


# ---------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    rows = [
        "| mode | path | clients | messages | lists | s | messages/s | lists/s | "
        "p50 ms | p99 ms | CPU ms/list: bench process | server | PostgreSQL | machine busy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = 1000 / r.lists
        rows.append(
            f"| {r.mode} | {r.path} | {r.clients} | {r.messages} | {r.lists} | "
            f"{r.seconds:.1f} | {r.messages_per_s:.0f} | {r.lists_per_s:.0f} | "
            f"{1000 * r.quantile(0.5):.1f} | {1000 * r.quantile(0.99):.1f} | "
            f"{per * r.cpu['self']:.2f} | "
            f"{per * r.cpu['server']:.2f} | {per * r.cpu['pg']:.2f} | "
            f"{100 * r.cpu['machine_busy']:.0f}% |"
        )
    return "\n".join(rows)


def verdicts(results: list[Result]) -> str:
    lines = []
    by = {(r.mode, r.path): r for r in results}
    for mode in ("single", "hundred"):
        for base in ("bare", "bare-http"):
            f, b = by.get((mode, "full")), by.get((mode, base))
            if f is None or b is None:
                continue
            ratio = (1 / f.lists_per_s) / (1 / b.lists_per_s)
            lines.append(
                f"- {mode}: full {1000 / f.lists_per_s:.2f} ms/list vs {base} "
                f"{1000 / b.lists_per_s:.2f} ms/list: ratio {ratio:.2f} (target <= 2)"
            )
    if (f := by.get(("single", "full"))) is not None:
        lines.append(
            f"- single: {f.messages_per_s:.0f} messages/s with full processing (target >= 250)"
        )
    if (f := by.get(("hundred", "full"))) is not None:
        lines.append(
            f"- hundred: {f.lists_per_s:.0f} lists/s with full processing (target >= 1000)"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--lists", type=int, default=3000, help="timed lists per mode")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (full path)")
    parser.add_argument("--mode", choices=("single", "hundred", "both"), default="both")
    parser.add_argument(
        "--db-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server (its database is only used to create and drop the bench one)",
    )
    parser.add_argument(
        "--server",
        choices=("inprocess", "uvicorn", "balanced"),
        default="inprocess",
        help="uvicorn: one server with --workers processes sharing its socket (they share "
        "connections, not requests); balanced: --workers single-process servers on ports of "
        "their own, the timed clients' connections spread over them in turn (needs --client raw)",
    )
    parser.add_argument("--workers", type=int, default=1, help="API processes")
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator of the timed phase: httpx, or raw HTTP/1.1 to server processes "
        "(a fraction of httpx's CPU on the cores the server runs on)",
    )
    parser.add_argument(
        "--profile-lists",
        type=int,
        default=2000,
        help="lists to profile (half per py-spy view); 0: no profile",
    )
    parser.add_argument(
        "--profile-mode",
        choices=("hundred", "single"),
        default="hundred",
        help="messages to profile: of 100 lists or of 1",
    )
    parser.add_argument("--top", type=int, default=16, help="functions shown in the profile")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="time on tables without statistics (by default the tables autovacuum would have "
        "analyzed by then are analyzed after the warm-up: this cluster runs it off)",
    )
    parser.add_argument(
        "--bare-http",
        action="store_true",
        help="also time the bare path behind the API's server stack (bench/bare_server.py), "
        "with the full path's clients and server processes",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.client == "raw" and args.server == "inprocess":
        raise SystemExit("--client raw needs a server process")
    if args.server == "balanced" and args.client != "raw":
        raise SystemExit("--server balanced needs --client raw (httpx would use one server)")
    db = Database(args.db_url)
    dbname, db_url, pg_url = db.name, db.url, db.pg_url
    admin_key = secrets.token_urlsafe(32)
    tag = secrets.token_hex(2).upper()
    modes = ["single", "hundred"] if args.mode == "both" else [args.mode]

    db.create(migrated=False)
    pg_version = db.server_version
    print(f"database {dbname}; {machine()}, PostgreSQL {pg_version}", file=sys.stderr)
    try:
        t0 = time.perf_counter()
        migrate.upgrade(db_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(BARE_DDL)
        print(
            f"  migrated in {time.perf_counter() - t0:.1f} s; generating messages", file=sys.stderr
        )
        templates = Templates()
        plans = [plan(templates, mode, args.lists, args.clients, tag) for mode in modes]
        profile_plan = (
            plan(templates, args.profile_mode, args.profile_lists, args.clients, tag + "P")
            if args.profile_lists
            else None
        )
        with psycopg.connect(db.monitor_url, autocommit=True) as monitor:
            meter = CpuMeter(monitor, dbname, [])
            results = [bare(pg_url, p.timed, p.mode, meter) for p in plans]
            if args.bare_http:
                bare_servers = (
                    [Server("bare", db_url, admin_key) for _ in range(args.workers)]
                    if args.server == "balanced"
                    else [Server("bare", db_url, admin_key, args.workers)]
                )
                raw = args.client == "raw"
                results += asyncio.run(bare_http(bare_servers, plans, args.clients, meter, raw))
            keys: dict[str, str] = {}
            servers = (
                [Server("uvicorn", db_url, admin_key) for _ in range(args.workers)]
                if args.server == "balanced"
                else [Server(args.server, db_url, admin_key, args.workers)]
            )
            census_lines: list[str] = []
            results += asyncio.run(
                full(
                    servers,
                    keys,
                    plans,
                    args.clients,
                    meter,
                    db,
                    census_lines,
                    raw_client=args.client == "raw",
                    analyze=not args.no_analyze,
                )
            )
        summary = None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if profile_plan is not None and not Path(spy).exists():
            print("  py-spy is not installed (pip install py-spy): no profile", file=sys.stderr)
        elif profile_plan is not None:
            with tempfile.TemporaryDirectory(prefix="sw_bench_") as folder:
                profiles = asyncio.run(
                    profile(spy, db_url, admin_key, keys, profile_plan, args.clients, Path(folder))
                )
                summaries = []
                for profiled in profiles:
                    if profiled.raw.exists():
                        summaries.append(summarise(profiled, args.top))
                    else:
                        print(f"  py-spy: {profiled.complaints[-500:]}", file=sys.stderr)
                summary = "\n\n".join(summaries)
    finally:
        if args.keep_db:
            print(f"kept database {dbname}", file=sys.stderr)
        db.close(keep=args.keep_db)

    print()
    print(f"command: {' '.join(sys.argv)}")
    workers = f" with {args.workers} process(es)" if args.server != "inprocess" else ""
    print(
        f"machine: {machine()}, PostgreSQL {pg_version}; server {args.server}{workers}; "
        f"timed client {args.client}"
    )
    print(f"code: {revision()}")
    print()
    print(table(results))
    print()
    print(verdicts(results))
    if census_lines:
        print()
        print("SQL statements sent by the app (in-process warm-up, SQLAlchemy events):")
        print()
        print("\n".join(census_lines))
    if summary:
        print()
        size = "100-list" if args.profile_mode == "hundred" else "1-list"
        print(f"Profile: full path, {size} messages, in-process, {args.clients} clients")
        print()
        print(summary)


if __name__ == "__main__":
    main()
