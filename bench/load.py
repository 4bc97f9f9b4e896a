"""Mixed load (issue 10): a day at the single window, at 50 % and 100 % of saturation.

Reproduce (the figures in bench/README.md, "Mixed load"), from a clean tree of the commit to
measure (the shared work tree may hold others' unfinished edits; the tree's own app/ is used,
ahead of any editable install):

    git worktree add --detach /tmp/sw-load HEAD && cd /tmp/sw-load
    uptime
    /work/venv/bin/python bench/load.py --workers 2 --json /tmp/load-w2.json
    /work/venv/bin/python bench/load.py --workers 1 --json /tmp/load-w1.json
    cd - && git worktree remove /tmp/sw-load
    # quick check of the script itself, about two minutes:
    /work/venv/bin/python bench/load.py --warmup 3 --step 4 --duration 6

Options: --workers N API processes (``singlewindow serve --workers N``), --relays M worker
processes (``singlewindow worker``, default 1), --duration s of each open-loop phase (30),
--step s per concurrency level of the saturation search (15), --warmup s (10), --seed of the
mix (1), --saturation R to skip the search and take R requests/s as 100 %, --json out.json,
--db-url (the PostgreSQL server; default 127.0.0.1:5432, user postgres), --keep-db, --logs DIR
to keep the server and worker logs.

What runs, as in production (docs/operations.md): a throwaway database sw_load_<random>,
migrated, dropped at the end; ``singlewindow serve --workers N --no-relay`` (uvicorn, its
access log to a file) and ``singlewindow worker`` processes (outbox relays and periodic
jobs); XML signatures required (SW_REQUIRE_SIGNATURES=true, the default), every signing
party with an SM2 certificate on file. Set up through the API: the export and import parties
of tests/samples/README.md (the e-commerce enterprises in SAFE's FX directory, class A), two
customs officers and an inspection officer of 4900, a bank both enterprises mandated, USD
rates, the enterprises' and goods' inspection filings (approved), and the built-in risk rules
(random selection at the 2019 rates by credit class: ~3.4 % of lists go to an officer).
The load generator is this process: asyncio and one httpx client; its own CPU is reported.

The mix (MIX below: weight per request slot; the share of requests is weight / sum):

- CEB messages, ~2/3 of the requests: an enterprise's traffic is documents, four per parcel
  (order, payment, waybill, list), each sent when the previous one was answered, as the
  platform, the payment company, the logistics company and the agent do in turn, so lists
  match at once (三单对碰) as they mostly do in practice. Exports twice as many as imports (an
  assumption: our data has no split; cross-border e-commerce exports exceed imports). Most
  messages carry one entity; one parcel in ~3 travels in 10-entity messages (a big
  platform's or agent's batches; bench/window_intake.py measures 100). Every ~20 export lists
  an arrival (507) at the supervision site, which starts their 24-hour clock, and later a
  departure (509), which closes the released ones (899); ~1 % of lists are cancelled
  (605/623) soon after acceptance.
- Enterprises polling their receipts (GET /receipts, cursor per enterprise), about one poll
  per four messages, and agents looking up a list now and then: later statuses (lane, 399,
  800, tax bills) reach enterprises this way when they have no callback URL.
- Customs officers refreshing their queue, claiming a list and deciding (mostly release);
  how many decisions there are follows from the lists the risk rules select.
- Banks reading new trade lists with a cursor, looking at one, and settling it (收结汇 for
  exports, 购付汇 for imports) for the unallocated amount.
- Officers reading the SLA overview (the 24-hour picture).

An operation with nothing to act on does the step that feeds it instead (a decision without
a claimed list claims one, a claim without a queued list reads the queue, a settlement
without a viewed list views one, an arrival without accepted lists declares one), so every
slot sends a request; the table shows what was sent.

Phases: warm-up (closed loop, 4 clients, --warmup s, not reported); saturation search
(closed loop at 1, 2, 4, 8, … clients, --step s each, until throughput rises less than 5 %
twice in a row; the best throughput is the saturation rate); then open loop at 50 % and at
100 % of it for --duration s each: requests at a constant rate whatever the answers, latency
counted from the scheduled send time (so queueing in the client counts too: no coordinated
omission). Before each phase the outbox backlog is drained (at most --drain s), and the load
average is printed. Per phase and endpoint (method + route template; messages by type and
entities per message): count, rate, p50/p95/p99/max latency, errors by status; CPU per
request of the API processes, the workers, the PostgreSQL backends and this client; the
outbox backlog the phase left. Afterwards: lists by status, receipt statuses per message
type, settlement outcomes, parked events and tracebacks in the logs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
from harness import (
    AGENT,
    API,
    EBC,
    EBP,
    LOGISTICS,
    PAYMENT,
    PRODUCTS,
    ROOT,
    SINGLEWINDOW,
    C,
    CpuMeter,
    Database,
    ListFacts,
    Server,
    Templates,
    app_env,
    list_facts,
    machine,
    message_with,
    new_guid,
    register,
    revision,
    set_text,
    tree_cpu,
)
from lxml import etree
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.ceb.catalogue import INBOUND, Signing
from app.outbox import parked_count, pending_count
from app.window.signature import Algorithm, sign
from tests.support.identities import Identity, make_sm2_identity

GOLDEN = ROOT / "tests" / "samples"
CUSTOMS_CODE = "4900"
BANK = "BENCHBANK"

# The export story's operator, and the import story's parties (tests/samples/README.md).
OPERATOR = "4301990006"
I_EBP, I_EBC, I_AGENT, I_LOGISTICS, I_PAYMENT, I_GUARANTOR = (
    "4301990011",
    "4301990012",
    "4301990013",
    "4301990014",
    "4301990015",
    "4301990016",
)
PARTIES: dict[str, str] = {
    EBP: "ebp",
    EBC: "ebc",
    AGENT: "agent",
    LOGISTICS: "logistics",
    PAYMENT: "payment",
    OPERATOR: "operator",
    I_EBP: "ebp",
    I_EBC: "ebc",
    I_AGENT: "agent",
    I_LOGISTICS: "logistics",
    I_PAYMENT: "payment",
    I_GUARANTOR: "guarantor",
}
IN_FX_DIRECTORY = {"fx_directory_status": "registered", "fx_class": "A"}
# Who reads receipts: every party that sends documents.
POLLERS = (EBP, PAYMENT, LOGISTICS, AGENT, OPERATOR, I_EBP, I_PAYMENT, I_LOGISTICS, I_AGENT)
IMPORT_GOODS = (
    ("XG-SK-0001", "3304990099", "保湿修护面霜"),
    ("XG-HC-0002", "3305100090", "氨基酸洗发水"),
)
# The golden import story's keys, replaced per parcel.
GOLDEN_IMPORT = {
    "order": "IMP-ORDER-0001",
    "waybill": "IMPWB0000000001",
    "cop": "IMP-COP-0001",
    "pay": "XHPAY202611050001",
    "buyer": "430102199001011234",
    "cancel": "IMP-CCL-0001",
    "invt": "49002026I000000001",
}

BATCH = 10  # entities per message of the batched parcels
ARRIVAL_SIZE = 20  # waybills per arrival (507) and departure (509)
DEPART_AFTER_S = 5.0  # goods leave a while after they arrived
QUEUE_PAGE = 20
TRADE_PAGE = 50
REJECT_SHARE = 0.05  # of officers' decisions; the rest release

# Weight per request slot (see the module docstring for why). E1/I1: parcels of one entity
# per message, E10/I10: of ten; each parcel is order → payment → waybill → list.
MIX: dict[str, float] = {
    "E1.order": 8,
    "E1.payment": 8,
    "E1.waybill": 8,
    "E1.list": 8,
    "I1.order": 4,
    "I1.payment": 4,
    "I1.waybill": 4,
    "I1.list": 4,
    "E10.order": 0.5,
    "E10.payment": 0.5,
    "E10.waybill": 0.5,
    "E10.list": 0.5,
    "I10.order": 0.25,
    "I10.payment": 0.25,
    "I10.waybill": 0.25,
    "I10.list": 0.25,
    "arrival": 0.7,
    "departure": 0.7,
    "E.cancel": 0.15,
    "I.cancel": 0.1,
    "receipts": 14,
    "inventory": 3,
    "queue": 2,
    "claim": 0.7,
    "decide": 0.7,
    "trade-lists": 1,
    "trade-list": 1,
    "settle": 1.5,
    "sla": 0.5,
}
STEPS = ("order", "payment", "waybill", "list")


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class ImportFacts:
    """One import parcel's keys; the goods and amounts are the golden story's."""

    order_no: str
    logistics_no: str
    cop_no: str
    pay_id: str
    buyer: str

    def renames(self) -> dict[str, str]:
        return {
            GOLDEN_IMPORT["order"]: self.order_no,
            GOLDEN_IMPORT["waybill"]: self.logistics_no,
            GOLDEN_IMPORT["cop"]: self.cop_no,
            GOLDEN_IMPORT["pay"]: self.pay_id,
            # One buyer per parcel: the annual ¥26,000 limit never refuses a list.
            GOLDEN_IMPORT["buyer"]: self.buyer,
        }


def import_facts(index: int) -> ImportFacts:
    return ImportFacts(
        order_no=f"LIO-{index:08d}",
        logistics_no=f"LIW{index:010d}",
        cop_no=f"LIC-{index:08d}",
        pay_id=f"LIP{index:010d}",
        buyer=f"43010219{index:010d}",
    )


def _golden(direction: str, n: int) -> etree._Element:
    folder = "export" if direction == "E" else "import"
    return etree.parse(str(GOLDEN / folder / f"CEB{n}Message.xml")).getroot()


def _rekeyed(entity: etree._Element, renames: dict[str, str]) -> etree._Element:
    """A copy with a new guid and every element whose text is a golden key renamed."""
    copy_ = etree.fromstring(etree.tostring(entity))
    for element in copy_.iter():
        if element.tag == C + "guid":
            element.text = new_guid()
        elif element.text in renames:
            element.text = renames[element.text]
    return copy_


class Messages:
    """Every CEB message of the mix: the golden samples re-keyed, signed where required."""

    def __init__(self, signers: dict[str, Identity]) -> None:
        self.signers = signers
        self.export = Templates()
        wanted = [("E", n) for n in (507, 509, 605)] + [("I", n) for n in (311, 411, 511, 621, 623)]
        self.docs = {(d, n): _golden(d, n) for d, n in wanted}

    def finish(self, root: etree._Element, sender: str) -> bytes:
        """The message as its sender sends it: signed (SM2) if the standard requires it."""
        spec = INBOUND[etree.QName(root).localname.removesuffix("Message")]
        if spec.signing is not Signing.NEVER:
            identity = self.signers[sender]
            sign(
                root,
                private_key=identity.key_pem,
                certificate=identity.cert_pem,
                algorithm=Algorithm.SM2_SM3,
            )
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def export_document(self, step: int, facts: list[ListFacts]) -> bytes:
        build = (
            self.export.orders,
            self.export.collections,
            self.export.waybills,
            self.export.inventories,
        )[step]
        body = build(facts)
        if step < 3:
            return body
        return self.finish(etree.fromstring(body), AGENT)

    def import_document(self, step: int, facts: list[ImportFacts]) -> bytes:
        n, entity = ((311, "Order"), (411, "Payment"), (511, "Logistics"), (621, "Inventory"))[step]
        template = self.docs["I", n]
        first = template.find(C + entity)
        assert first is not None
        root = message_with(template, entity, [_rekeyed(first, f.renames()) for f in facts])
        return self.finish(root, IMPORT_SENDERS[step])

    def _movement(
        self, n: int, entity: str, lines: str, cop_no: str, logistics_nos: list[str]
    ) -> etree._Element:
        """An arrival (507) or departure (509) of these waybills."""
        template = self.docs["E", n]
        golden = template.find(C + entity)
        assert golden is not None
        movement = _rekeyed(golden, {})
        line_template = movement.find(C + lines)
        assert line_template is not None
        movement.remove(line_template)
        head = movement[0]
        set_text(head, "copNo", cop_no)
        for gnum, logistics_no in enumerate(logistics_nos, start=1):
            line = _rekeyed(line_template, {})
            set_text(line, "gnum", str(gnum))
            set_text(line, "logisticsNo", logistics_no)
            movement.append(line)
        return message_with(template, entity, [movement])

    def arrival(self, cop_no: str, logistics_nos: list[str]) -> bytes:
        root = self._movement(507, "Arrival", "ArrivalList", cop_no, logistics_nos)
        return self.finish(root, OPERATOR)

    def departure(self, cop_no: str, logistics_nos: list[str]) -> bytes:
        root = self._movement(509, "Departure", "DepartureList", cop_no, logistics_nos)
        return self.finish(root, LOGISTICS)

    def export_cancel(self, cop_no: str, invt_no: str) -> bytes:
        template = self.docs["E", 605]
        golden = template.find(C + "InvtCancel")
        assert golden is not None
        cancel = _rekeyed(golden, {"EXP-CCL-0001": cop_no, "49002026E000000001": invt_no})
        return self.finish(message_with(template, "InvtCancel", [cancel]), AGENT)

    def import_cancel(self, cop_no: str, facts: ImportFacts, invt_no: str) -> bytes:
        template = self.docs["I", 623]
        golden = template.find(C + "InvtCancel")
        assert golden is not None
        renames = facts.renames() | {
            GOLDEN_IMPORT["cancel"]: cop_no,
            GOLDEN_IMPORT["invt"]: invt_no,
        }
        cancel = _rekeyed(golden, renames)
        return self.finish(message_with(template, "InvtCancel", [cancel]), I_AGENT)


EXPORT_SENDERS = (EBP, PAYMENT, LOGISTICS, AGENT)
IMPORT_SENDERS = (I_EBP, I_PAYMENT, I_LOGISTICS, I_AGENT)
MESSAGE_TYPES = {
    "E": ("CEB303", "CEB403", "CEB505", "CEB603"),
    "I": ("CEB311", "CEB411", "CEB511", "CEB621"),
}


def returns(body: bytes) -> list[dict[str, str]]:
    """The receipt entities of a synchronous answer: their fields by local name, and the
    type of the receipt message that carries them as ``type``."""
    entities = []
    for status in etree.fromstring(body).iter(C + "returnStatus"):
        entity = status.getparent()
        fields = {etree.QName(child).localname: child.text or "" for child in entity}
        message = etree.QName(entity.getparent()).localname
        entities.append(fields | {"type": message.removesuffix("Message")})
    return entities


# ---------------------------------------------------------------- the day's traffic


@dataclass
class Call:
    """One request of the mix, and what its answer changes in the day's state."""

    endpoint: str  # method, route template, and for messages their type and size
    method: str
    url: str
    key: str
    content: bytes | None = None
    json: Any = None
    on_reply: Callable[[httpx.Response], None] | None = None


@dataclass
class Batch:
    """The parcels that travel together in one message at each step."""

    direction: str
    facts: list[Any]
    step: int = 0


class Pipeline:
    """Parcels of one direction, ``size`` to a message: order → payment → waybill → list,
    each document sent once the previous one was answered."""

    def __init__(self, day: Day, direction: str, size: int) -> None:
        self.day, self.direction, self.size = day, direction, size
        self.ready: list[deque[Batch]] = [deque() for _ in STEPS]

    def call(self, step: int) -> Call:
        while step and not self.ready[step]:
            step -= 1  # nothing waits for this document yet: send the one that feeds it
        batch = (
            self.ready[step].popleft() if step else self.day.new_batch(self.direction, self.size)
        )
        batch.step = step
        return self.day.document(self, batch)

    def answered(self, batch: Batch) -> None:
        if batch.step + 1 < len(STEPS):
            self.ready[batch.step + 1].append(batch)


@dataclass
class Officers:
    keys: list[str]
    to_claim: deque[str] = field(default_factory=deque)
    to_decide: deque[tuple[str, str]] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    turn: Iterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self.turn = itertools.cycle(self.keys)

    def next_key(self) -> str:
        return next(self.turn)


@dataclass
class Bank:
    key: str
    after: int = 0
    to_view: deque[str] = field(default_factory=deque)
    to_settle: deque[dict[str, Any]] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    refs: itertools.count[int] = field(default_factory=itertools.count)


@dataclass
class Tally:
    """What the answers said, beyond the HTTP status: for the validation section."""

    receipts: Counter[str] = field(default_factory=Counter)  # "CEB604 120"
    settlements: Counter[str] = field(default_factory=Counter)  # "E settled PASS"
    decisions: Counter[str] = field(default_factory=Counter)
    bad_replies: Counter[str] = field(default_factory=Counter)


class Day:
    """The request stream: draws each slot from MIX and turns it into a concrete call."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.names = list(MIX)
        self.weights = [MIX[n] for n in self.names]
        self.serial = itertools.count(1)
        self.pipelines = {
            f"{d}{size}": Pipeline(self, d, size) for d in ("E", "I") for size in (1, BATCH)
        }
        self.awaiting_arrival: deque[tuple[str, str]] = deque()  # (logisticsNo, invtNo)
        self.arrived: deque[tuple[float, list[str]]] = deque()
        self.import_accepted: deque[tuple[ImportFacts, str]] = deque(maxlen=5000)
        self.recent_lists: deque[tuple[str, str]] = deque(maxlen=1000)  # (agent, copNo)
        self.cursors = dict.fromkeys(POLLERS, 0)
        self.pollers = itertools.cycle(POLLERS)
        self.officers = Officers(world.officer_keys)
        self.bank = Bank(world.bank_key)
        self.tally = Tally()
        self.ops: dict[str, Callable[[], Call]] = {
            **{
                f"{name}.{step}": (lambda p=pipeline, i=i: p.call(i))
                for name, pipeline in self.pipelines.items()
                for i, step in enumerate(STEPS)
            },
            "arrival": self.arrival,
            "departure": self.departure,
            "E.cancel": self.export_cancel,
            "I.cancel": self.import_cancel,
            "receipts": self.receipts,
            "inventory": self.inventory,
            "queue": self.queue,
            "claim": self.claim,
            "decide": self.decide,
            "trade-lists": self.trade_lists,
            "trade-list": self.trade_list,
            "settle": self.settle,
            "sla": self.sla_overview,
        }

    def next_call(self) -> Call:
        return self.ops[self.rng.choices(self.names, self.weights)[0]]()

    # -- documents

    def new_batch(self, direction: str, size: int) -> Batch:
        numbers = [next(self.serial) for _ in range(size)]
        if direction == "E":
            return Batch("E", [list_facts("L", n) for n in numbers])
        return Batch("I", [import_facts(n) for n in numbers])

    def document(self, pipeline: Pipeline, batch: Batch) -> Call:
        messages = self.world.messages
        if batch.direction == "E":
            body = messages.export_document(batch.step, batch.facts)
            sender = EXPORT_SENDERS[batch.step]
        else:
            body = messages.import_document(batch.step, batch.facts)
            sender = IMPORT_SENDERS[batch.step]
        kind = MESSAGE_TYPES[batch.direction][batch.step]
        return self._message(
            kind, len(batch.facts), sender, body, lambda r: self._documented(pipeline, batch, r)
        )

    def _message(
        self,
        kind: str,
        entities: int,
        sender: str,
        body: bytes,
        then: Callable[[httpx.Response], None] | None = None,
    ) -> Call:
        size = f" ×{entities}" if entities > 1 else ""
        return Call(
            f"POST {API}/messages {kind}{size}",
            "POST",
            f"{API}/messages",
            self.world.keys[sender],
            content=body,
            on_reply=then,
        )

    def _counted(self, response: httpx.Response) -> list[dict[str, str]]:
        entities = returns(response.content)
        for entity in entities:
            self.tally.receipts[f"{entity['type']} {entity['returnStatus']}"] += 1
        return entities

    def _documented(self, pipeline: Pipeline, batch: Batch, response: httpx.Response) -> None:
        entities = self._counted(response)
        if any(int(e["returnStatus"]) < 0 for e in entities):
            return  # refused: the parcel goes no further (counted in the receipts)
        if batch.step == len(STEPS) - 1:
            self._listed(batch, entities)
        pipeline.answered(batch)

    def _listed(self, batch: Batch, entities: list[dict[str, str]]) -> None:
        by_cop = {f.cop_no: f for f in batch.facts}
        agent = AGENT if batch.direction == "E" else I_AGENT
        for entity in entities:
            facts = by_cop.get(entity.get("copNo", ""))
            invt_no = entity.get("invtNo", "")
            if facts is None or not invt_no:
                continue
            self.recent_lists.append((agent, facts.cop_no))
            if batch.direction == "E":
                self.awaiting_arrival.append((facts.logistics_no, invt_no))
            else:
                self.import_accepted.append((facts, invt_no))

    def arrival(self) -> Call:
        if not self.awaiting_arrival:
            return self.pipelines["E1"].call(3)
        count = min(ARRIVAL_SIZE, len(self.awaiting_arrival))
        parcels = [self.awaiting_arrival.popleft()[0] for _ in range(count)]
        body = self.world.messages.arrival(f"LARR-{next(self.serial)}", parcels)

        def arrived(response: httpx.Response) -> None:
            self._counted(response)
            self.arrived.append((time.monotonic(), parcels))

        return self._message("CEB507", 1, OPERATOR, body, arrived)

    def departure(self) -> Call:
        if not self.arrived or time.monotonic() - self.arrived[0][0] < DEPART_AFTER_S:
            return self.arrival()
        _, parcels = self.arrived.popleft()
        body = self.world.messages.departure(f"LDEP-{next(self.serial)}", parcels)
        return self._message("CEB509", 1, LOGISTICS, body, self._counted)

    def export_cancel(self) -> Call:
        if not self.awaiting_arrival:
            return self.pipelines["E1"].call(3)
        _, invt_no = self.awaiting_arrival.pop()  # the newest: its goods have not arrived
        body = self.world.messages.export_cancel(f"LCCL-{next(self.serial)}", invt_no)
        return self._message("CEB605", 1, AGENT, body, self._counted)

    def import_cancel(self) -> Call:
        if not self.import_accepted:
            return self.pipelines["I1"].call(3)
        facts, invt_no = self.import_accepted.pop()
        body = self.world.messages.import_cancel(f"LICL-{next(self.serial)}", facts, invt_no)
        return self._message("CEB623", 1, I_AGENT, body, self._counted)

    # -- enterprises reading

    def receipts(self) -> Call:
        code = next(self.pollers)

        def advance(response: httpx.Response) -> None:
            rows = response.json()["receipts"]
            if rows:
                # The cursor is a receipt's publication position, not its id.
                self.cursors[code] = rows[-1]["position"]

        return Call(
            f"GET {API}/receipts",
            "GET",
            f"{API}/receipts?after={self.cursors[code]}&limit=100",
            self.world.keys[code],
            on_reply=advance,
        )

    def inventory(self) -> Call:
        if not self.recent_lists:
            return self.receipts()
        agent, cop_no = self.rng.choice(self.recent_lists)
        return Call(
            f"GET {API}/inventories/{{key}}",
            "GET",
            f"{API}/inventories/{cop_no}",
            self.world.keys[agent],
        )

    # -- customs officers

    def queue(self) -> Call:
        officers = self.officers

        def queued(response: httpx.Response) -> None:
            for item in response.json():
                if item["invt_no"] not in officers.seen:
                    officers.seen.add(item["invt_no"])
                    officers.to_claim.append(item["invt_no"])

        return Call(
            f"GET {API}/customs/queue",
            "GET",
            f"{API}/customs/queue?limit={QUEUE_PAGE}",
            officers.next_key(),
            on_reply=queued,
        )

    def claim(self) -> Call:
        officers = self.officers
        if not officers.to_claim:
            return self.queue()
        invt_no, key = officers.to_claim.popleft(), officers.next_key()
        return Call(
            f"POST {API}/customs/inventories/{{key}}/claim",
            "POST",
            f"{API}/customs/inventories/{invt_no}/claim",
            key,
            on_reply=lambda _: officers.to_decide.append((invt_no, key)),
        )

    def decide(self) -> Call:
        officers = self.officers
        if not officers.to_decide:
            return self.claim()
        invt_no, key = officers.to_decide.popleft()
        if self.rng.random() < REJECT_SHARE:
            decision = {"action": "reject", "reason": "随附单证与申报不符，退单"}
        else:
            decision = {"action": "release", "reason": "单证审核无误，放行"}
        self.tally.decisions[decision["action"]] += 1
        return Call(
            f"POST {API}/customs/inventories/{{key}}/decisions",
            "POST",
            f"{API}/customs/inventories/{invt_no}/decisions",
            key,
            json=decision,
        )

    def sla_overview(self) -> Call:
        return Call(
            f"GET {API}/sla/overview", "GET", f"{API}/sla/overview", self.officers.next_key()
        )

    # -- banks

    def trade_lists(self) -> Call:
        bank = self.bank

        def listed(response: httpx.Response) -> None:
            page = response.json()
            for view in page["trade_lists"]:
                if view["invt_no"] not in bank.seen and float(view["unallocated"]) > 0:
                    bank.seen.add(view["invt_no"])
                    bank.to_view.append(view["invt_no"])
            if page["next_after"] is not None:
                bank.after = page["next_after"]

        return Call(
            f"GET {API}/forex/trade-lists",
            "GET",
            f"{API}/forex/trade-lists?after={bank.after}&limit={TRADE_PAGE}",
            bank.key,
            on_reply=listed,
        )

    def trade_list(self) -> Call:
        bank = self.bank
        if not bank.to_view:
            return self.trade_lists()
        invt_no = bank.to_view.popleft()
        return Call(
            f"GET {API}/forex/trade-lists/{{invt_no}}",
            "GET",
            f"{API}/forex/trade-lists/{invt_no}",
            bank.key,
            on_reply=lambda r: bank.to_settle.append(r.json()),
        )

    def settle(self) -> Call:
        bank = self.bank
        if not bank.to_settle:
            return self.trade_list()
        view = bank.to_settle.popleft()
        body = {
            "kind": "collection" if view["direction"] == "E" else "payment",
            "invt_no": view["invt_no"],
            "amount": str(settleable(view)),
            "currency": view["currency"],
            "account_holder": view["ebc_code"],
            "bank_ref": f"LOAD-{next(bank.refs):09d}",
        }

        def settled(response: httpx.Response) -> None:
            result = response.json()
            flagged = ",".join(r["id"] for r in result["rules"] if r["outcome"] != "PASS")
            outcome = f"{view['direction']} {result['status']} {result['outcome']} {flagged}"
            self.tally.settlements[outcome.strip()] += 1

        return Call(
            f"POST {API}/forex/settlements",
            "POST",
            f"{API}/forex/settlements",
            bank.key,
            json=body,
            on_reply=settled,
        )


def settleable(view: dict[str, Any]) -> Decimal:
    """What the bank received or pays for the list: its money documents (403 charge, 411
    amountPaid), at most what is still unallocated (the list's value includes insurance)."""
    money = sum(
        (Decimal(d.get("charge") or d.get("amountPaid") or 0) for d in view["money_documents"]),
        Decimal(0),
    )
    return min(money, Decimal(view["unallocated"]))


# ---------------------------------------------------------------- the world (setup)


@dataclass
class World:
    keys: dict[str, str]  # enterprise code → API key
    officer_keys: list[str]
    bank_key: str
    messages: Messages


async def principal(client: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> str:
    created = await client.post(f"{API}/principals", json=body, headers=admin)
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]["key"]
    return key


async def file_goods(
    client: httpx.AsyncClient,
    ebc_key: str,
    inspector_key: str,
    goods: Sequence[tuple[str, str, str]],
) -> None:
    """The enterprise's inspection filing and its goods', approved by the inspector."""
    ebc, inspector = _bearer(ebc_key), _bearer(inspector_key)
    approve = {"decision": "approve", "reason": "资料齐全"}
    filing = await client.post(
        f"{API}/inspection/enterprise-filings",
        headers=ebc,
        json={
            "customs_code": CUSTOMS_CODE,
            "name": "bench ebc",
            "address": "长沙",
            "contact": "王五",
            "phone": "0731-80000000",
        },
    )
    assert filing.status_code == 201, filing.text
    filing_id = filing.json()["id"]
    reviewed = await client.post(
        f"{API}/inspection/enterprise-filings/{filing_id}/review", headers=inspector, json=approve
    )
    assert reviewed.status_code == 200, reviewed.text
    for item_no, gcode, name in goods:
        created = await client.post(
            f"{API}/inspection/goods-filings",
            headers=ebc,
            json={
                "item_no": item_no,
                "hs_code": gcode,
                "name": name,
                "brand": "湘品",
                "model": "标准款",
                "origin_country": "142",
                "manufacturer": "bench manufacturer",
                "supplier": "bench supplier",
                "ingredients": "见说明",
                "conformity_statement": "符合GB标准",
                "customs_code": CUSTOMS_CODE,
            },
        )
        assert created.status_code == 201, created.text
        reviewed = await client.post(
            f"{API}/inspection/goods-filings/{created.json()['id']}/review",
            headers=inspector,
            json=approve,
        )
        assert reviewed.status_code == 200, reviewed.text


async def file_certificates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> dict[str, Identity]:
    """An SM2 signing certificate on file for every party that sends signed messages."""
    signers = {}
    for serial, code in enumerate((AGENT, LOGISTICS, OPERATOR, I_AGENT), start=0x5A00):
        identity = make_sm2_identity(serial, f"bench signer {code}")
        filed = await client.post(
            f"{API}/enterprises/{code}/certificates",
            json={"certificate": identity.cert_pem.decode()},
            headers=admin,
        )
        assert filed.status_code == 201, filed.text
        signers[code] = identity
    return signers


async def set_up(client: httpx.AsyncClient, admin_key: str) -> World:
    """Everyone the mix needs, filed and keyed through the API as an operator would."""
    admin = _bearer(admin_key)
    filing = {EBC: IN_FX_DIRECTORY, I_EBC: IN_FX_DIRECTORY}
    keys = await register(client, admin_key, PARTIES, filing)
    signers = await file_certificates(client, admin)
    officer_keys = [
        await principal(
            client,
            admin,
            kind="officer",
            name=f"bench customs officer {i}",
            agency="customs",
            customs_codes=[CUSTOMS_CODE],
        )
        for i in (1, 2)
    ]
    inspector_key = await principal(
        client,
        admin,
        kind="officer",
        name="bench inspection officer",
        agency="inspection",
        customs_codes=[CUSTOMS_CODE],
    )
    bank_key = await principal(client, admin, kind="bank", name="bench bank", bank_code=BANK)
    for ebc in (EBC, I_EBC):
        mandated = await client.put(
            f"{API}/enterprises/{ebc}/bank-mandates", json=[{"bank_code": BANK}], headers=admin
        )
        assert mandated.status_code == 200, mandated.text
    rates = {"rates": [{"currency": "502", "effective_date": "2026-01-01", "rate": "7.10"}]}
    loaded = await client.put(f"{API}/forex/rates", json=rates, headers=admin)
    assert loaded.status_code == 200, loaded.text
    export_goods = [(p.item_no, p.gcode, p.name) for p in PRODUCTS]
    await file_goods(client, keys[EBC], inspector_key, export_goods)
    await file_goods(client, keys[I_EBC], inspector_key, IMPORT_GOODS)
    return World(keys, officer_keys, bank_key, Messages(signers))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------- sending and timing


@dataclass(frozen=True)
class Sample:
    endpoint: str
    scheduled: float  # open loop: when it was due; closed loop: when it was sent
    sent: float
    done: float
    status: int  # 0: no HTTP answer (connection error, timeout: see ``error``)
    error: str = ""


@dataclass
class Recorder:
    tally: Tally
    samples: list[Sample] = field(default_factory=list)
    in_flight: int = 0
    queued: int = 0  # open loop: due, waiting for a free connection
    errors: int = 0
    lags: list[float] = field(default_factory=list)  # open loop: how late the generator was

    async def send(self, client: httpx.AsyncClient, call: Call, scheduled: float) -> None:
        self.in_flight += 1
        sent = time.perf_counter()
        headers = {"Authorization": f"Bearer {call.key}"}
        if call.content is not None:
            headers["Content-Type"] = "application/xml"
        error = ""
        try:
            response = await client.request(
                call.method, call.url, headers=headers, content=call.content, json=call.json
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            status, error = 0, type(exc).__name__
        done = time.perf_counter()
        self.in_flight -= 1
        self.samples.append(Sample(call.endpoint, scheduled, sent, done, status, error))
        if not 200 <= status < 300:
            self.errors += 1
        elif call.on_reply is not None:
            self._react(call, response)

    def _react(self, call: Call, response: httpx.Response) -> None:
        try:
            call.on_reply(response)  # type: ignore[misc]
        except (ValueError, KeyError, TypeError, etree.XMLSyntaxError) as exc:
            # An answer the client cannot read is a finding, not a reason to stop the load.
            self.tally.bad_replies[f"{call.endpoint}: {type(exc).__name__}"] += 1


async def closed_loop(
    client: httpx.AsyncClient, day: Day, clients: int, seconds: float, bar: Bar, label: str
) -> Recorder:
    """``clients`` senders, each sending its next request when the last one is answered."""
    recorder = Recorder(day.tally)
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        while time.perf_counter() < deadline:
            await recorder.send(client, day.next_call(), time.perf_counter())

    async with bar.phase(label, seconds, recorder, timed=True):
        await asyncio.gather(*(sender() for _ in range(clients)))
    return recorder


async def open_loop(
    client: httpx.AsyncClient, day: Day, rate: float, seconds: float, bar: Bar, connections: int
) -> Recorder:
    """Requests at a constant rate whatever the answers; latency from the scheduled time.

    Due requests wait in a queue for one of ``connections`` connections, as behind a proxy
    with a connection limit; the wait counts in their latency.
    """
    recorder = Recorder(day.tally)
    total = max(1, round(rate * seconds))
    due_calls: asyncio.Queue[tuple[Call, float] | None] = asyncio.Queue()

    async def connection() -> None:
        while (item := await due_calls.get()) is not None:
            recorder.queued -= 1
            await recorder.send(client, *item)

    async with bar.phase(f"open loop, {rate:.1f}/s", total, recorder, timed=False):
        senders = [asyncio.create_task(connection()) for _ in range(connections)]
        start = time.perf_counter() + 0.1
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.lags.append(time.perf_counter() - due)
            recorder.queued += 1
            due_calls.put_nowait((day.next_call(), due))
        for _ in senders:
            due_calls.put_nowait(None)
        await asyncio.gather(*senders)
    return recorder


class Bar:
    """The progress bar on stderr: one line per phase, with rate, in-flight and errors."""

    def __init__(self) -> None:
        # Not a terminal (a log file): wide enough that the status fits on the line.
        self.console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=2,  # the bar shares the client's event loop and cores
        )

    def phase(self, label: str, total: float, recorder: Recorder, *, timed: bool) -> _PhaseBar:
        return _PhaseBar(self.progress, label, total, recorder, timed)

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False)


class _PhaseBar:
    def __init__(
        self, progress: Progress, label: str, total: float, recorder: Recorder, timed: bool
    ) -> None:
        self.progress, self.label, self.total = progress, label, total
        self.recorder, self.timed = recorder, timed
        self.ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        self.task = self.progress.add_task(self.label, total=self.total, status="")
        self.started = time.perf_counter()
        self.ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            self._show()
            await asyncio.sleep(0.5)

    def _show(self) -> None:
        elapsed = time.perf_counter() - self.started
        done = len(self.recorder.samples)
        completed = min(elapsed, self.total) if self.timed else done
        status = (
            f"{done / elapsed if elapsed else 0:6.1f} answers/s  in flight "
            f"{self.recorder.in_flight:3d}  queued {self.recorder.queued:4d}  "
            f"errors {self.recorder.errors}"
        )
        self.progress.update(self.task, completed=completed, status=status)

    async def __aexit__(self, *exc: object) -> None:
        assert self.ticker is not None
        self.ticker.cancel()
        self._show()
        if self.timed:
            self.progress.update(self.task, completed=self.total)


# ---------------------------------------------------------------- phases and their report


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


@dataclass
class EndpointStats:
    endpoint: str
    count: int
    per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]


def endpoint_stats(samples: Sequence[Sample], seconds: float) -> list[EndpointStats]:
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.endpoint, []).append(sample)
    rows = [_stats(name, group, seconds) for name, group in groups.items()]
    rows.sort(key=lambda r: -r.count)
    return [*rows, _stats("all", list(samples), seconds)]


def _stats(name: str, samples: Sequence[Sample], seconds: float) -> EndpointStats:
    latencies = sorted(1000 * (s.done - s.scheduled) for s in samples)
    errors = Counter(s.error or str(s.status) for s in samples if not 200 <= s.status < 300)
    return EndpointStats(
        name,
        len(samples),
        len(samples) / seconds,
        percentile(latencies, 0.50),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        latencies[-1] if latencies else float("nan"),
        dict(errors),
    )


@dataclass
class PhaseResult:
    name: str
    kind: str  # "closed" or "open"
    clients: int | None
    offered_per_s: float | None
    seconds: float  # first send to last answer
    requests: int
    per_s: float
    load_before: str
    cpu_ms_per_request: dict[str, float]
    machine_busy: float
    outbox_backlog_after: int
    drained_s: float  # how long the backlog of the phase before took to drain
    generator_late_p99_ms: float | None
    endpoints: list[EndpointStats]


class Meter:
    """CPU of the API processes, the workers, PostgreSQL and this client over a phase."""

    def __init__(self, cpu: CpuMeter, workers: list[asyncio.subprocess.Process]) -> None:
        self.cpu, self.workers = cpu, workers

    def snapshot(self) -> tuple[dict[str, Any], float]:
        return self.cpu.snapshot(), sum(tree_cpu(w.pid) for w in self.workers)

    def since(
        self, start: tuple[dict[str, Any], float], requests: int
    ) -> tuple[dict[str, float], float]:
        cpu = self.cpu.since(start[0])
        worker = sum(tree_cpu(w.pid) for w in self.workers) - start[1]
        per = 1000 / max(requests, 1)
        return {
            "api": per * cpu["server"],
            "worker": per * worker,
            "postgres": per * cpu["pg"],
            "client": per * cpu["self"],
        }, cpu["machine_busy"]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


@dataclass
class Rig:
    """What a phase needs: the client, the traffic, the bar, the meters and the database."""

    client: httpx.AsyncClient
    day: Day
    bar: Bar
    meter: Meter
    engine: Any
    drain_s: float

    def backlog(self) -> int:
        with Session(self.engine) as session:
            return pending_count(session)

    async def drain(self) -> float:
        """Wait for the workers to catch up with the events of the phase before."""
        started = time.perf_counter()
        while time.perf_counter() - started < self.drain_s:
            if not self.backlog():
                break
            await asyncio.sleep(0.5)
        return time.perf_counter() - started

    async def run(
        self,
        name: str,
        drive: Callable[[], Awaitable[Recorder]],
        *,
        clients: int | None = None,
        offered: float | None = None,
    ) -> PhaseResult:
        drained = await self.drain()
        load = load_average()
        self.bar.note(f"{name}: load average {load}; backlog drained in {drained:.1f} s")
        start = self.meter.snapshot()
        recorder = await drive()
        samples = recorder.samples
        cpu, busy = self.meter.since(start, len(samples))
        first = min(s.scheduled for s in samples)
        seconds = max(s.done for s in samples) - first
        lag = sorted(1000 * lag for lag in recorder.lags)
        return PhaseResult(
            name=name,
            kind="open" if offered else "closed",
            clients=clients,
            offered_per_s=offered,
            seconds=seconds,
            requests=len(samples),
            per_s=len(samples) / seconds,
            load_before=load,
            cpu_ms_per_request=cpu,
            machine_busy=busy,
            outbox_backlog_after=self.backlog(),
            drained_s=drained,
            generator_late_p99_ms=percentile(lag, 0.99) if lag else None,
            endpoints=endpoint_stats(samples, seconds),
        )


async def saturation_search(
    rig: Rig, step_s: float, max_clients: int
) -> tuple[list[PhaseResult], float]:
    """Closed loop with doubling clients until throughput stops rising; the best rate."""
    steps: list[PhaseResult] = []
    best = 0.0
    flat = 0
    clients = 1
    while clients <= max_clients and flat < 2:
        label = f"saturation, {clients} clients"
        result = await rig.run(
            label,
            lambda c=clients, n=label: closed_loop(rig.client, rig.day, c, step_s, rig.bar, n),
            clients=clients,
        )
        steps.append(result)
        flat = flat + 1 if result.per_s < 1.05 * best else 0
        best = max(best, result.per_s)
        clients *= 2
    return steps, best


# ---------------------------------------------------------------- processes


async def start_workers(
    count: int, db_url: str, admin_key: str, log: IO[bytes]
) -> list[asyncio.subprocess.Process]:
    env = app_env(db_url, admin_key, require_signatures=True)
    return [
        await asyncio.create_subprocess_exec(
            *SINGLEWINDOW, "worker", cwd=ROOT, env=env, stdout=log, stderr=log
        )
        for _ in range(count)
    ]


async def stop(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


# ---------------------------------------------------------------- validation


def validation(pg_url: str, engine: Any, day: Day, logs: Path) -> dict[str, Any]:
    """What the database and the logs say after the run."""
    with psycopg.connect(pg_url) as conn:
        lists = conn.execute(
            "SELECT direction, status, count(*) FROM customs_inventory "
            "GROUP BY direction, status ORDER BY direction, status"
        ).fetchall()
    with Session(engine) as session:
        parked = parked_count(session)
    tracebacks = {
        log.name: log.read_text(errors="replace").count("Traceback") for log in logs.glob("*.log")
    }
    return {
        "lists_by_direction_status": {f"{d} {s}": n for d, s, n in lists},
        "receipt_statuses": dict(sorted(day.tally.receipts.items())),
        "settlements": dict(day.tally.settlements),
        "decisions_sent": dict(day.tally.decisions),
        "unreadable_answers": dict(day.tally.bad_replies),
        "outbox_parked": parked,
        "tracebacks_in_logs": tracebacks,
    }


# ---------------------------------------------------------------- report


def phase_table(phase: PhaseResult) -> str:
    rows = [
        "| endpoint | count | /s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in phase.endpoints:
        errors = ", ".join(f"{n}× {s}" for s, n in sorted(e.errors.items())) or "–"
        name = f"**{e.endpoint}**" if e.endpoint == "all" else f"`{e.endpoint}`"
        rows.append(
            f"| {name} | {e.count} | {e.per_s:.1f} | {e.p50_ms:.0f} | {e.p95_ms:.0f} | "
            f"{e.p99_ms:.0f} | {e.max_ms:.0f} | {errors} |"
        )
    return "\n".join(rows)


def phase_line(phase: PhaseResult) -> str:
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in phase.cpu_ms_per_request.items())
    offered = f"offered {phase.offered_per_s:.1f}/s, " if phase.offered_per_s else ""
    lag = (
        f"; generator late by {phase.generator_late_p99_ms:.0f} ms at p99"
        if phase.generator_late_p99_ms is not None
        else ""
    )
    return (
        f"{offered}answered {phase.per_s:.1f}/s over {phase.seconds:.1f} s "
        f"({phase.requests} requests){lag}; load average before {phase.load_before}; "
        f"CPU ms/request: {cpu}; machine busy {100 * phase.machine_busy:.0f} %, of which "
        f"this benchmark {100 * our_share(phase):.0f} %; "
        f"outbox backlog after {phase.outbox_backlog_after}"
    )


def our_share(phase: PhaseResult) -> float:
    """The share of the machine's CPU the benchmark's processes got (the rest: other work)."""
    cpu_s = phase.per_s * sum(phase.cpu_ms_per_request.values()) / 1000
    return cpu_s / (os.cpu_count() or 1)


def saturation_table(steps: list[PhaseResult]) -> str:
    rows = [
        "| clients | requests | req/s | p50 ms | p99 ms | errors | CPU ms/req API / worker / PG "
        "/ client | machine busy (this benchmark) | load before | backlog after |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for s in steps:
        total = s.endpoints[-1]
        cpu = " / ".join(f"{v:.1f}" for v in s.cpu_ms_per_request.values())
        rows.append(
            f"| {s.clients} | {s.requests} | {s.per_s:.1f} | {total.p50_ms:.0f} | "
            f"{total.p99_ms:.0f} | {sum(total.errors.values())} | {cpu} | "
            f"{100 * s.machine_busy:.0f} % ({100 * our_share(s):.0f} %) | {s.load_before} | "
            f"{s.outbox_backlog_after} |"
        )
    return "\n".join(rows)


def mix_shares() -> str:
    total = sum(MIX.values())
    return ", ".join(f"{name} {100 * w / total:.1f} %" for name, w in MIX.items())


def report(meta: dict[str, Any], steps: list[PhaseResult], phases: list[PhaseResult]) -> str:
    out = [
        f"command: {meta['command']}",
        f"date: {meta['date']}; code: {meta['code']}",
        f"machine: {meta['machine']}, PostgreSQL {meta['postgres']}",
        f"uptime before the run: {meta['uptime']}",
        f"server: {meta['server']}",
        f"mix (share of slots): {mix_shares()}",
        "",
    ]
    if steps:
        out += ["Saturation search (closed loop):", "", saturation_table(steps), ""]
    out += [f"saturation rate: {meta['saturation']:.1f} requests/s", ""]
    for phase in phases:
        out += [f"{phase.name}: {phase_line(phase)}", "", phase_table(phase), ""]
    out += ["Validation:", ""]
    out += [f"- {k}: {v}" for k, v in meta["validation"].items()]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--workers", type=int, default=2, help="API processes (serve --workers)")
    parser.add_argument("--relays", type=int, default=1, help="singlewindow worker processes")
    parser.add_argument("--duration", type=float, default=30, help="s of each open-loop phase")
    parser.add_argument("--step", type=float, default=15, help="s per saturation level")
    parser.add_argument("--warmup", type=float, default=10, help="s of untimed warm-up")
    parser.add_argument("--max-clients", type=int, default=128, help="saturation search cap")
    parser.add_argument(
        "--connections", type=int, default=64, help="open loop: connections to the API at most"
    )
    parser.add_argument("--saturation", type=float, help="requests/s taken as 100 %%: no search")
    parser.add_argument("--drain", type=float, default=120, help="max s to drain the outbox")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mix")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument(
        "--db-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server (its database is only used to create and drop the bench one)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    parser.add_argument("--logs", type=Path, help="keep the server and worker logs here")
    return parser.parse_args()


async def measure(args: argparse.Namespace, db: Database, logs: Path) -> dict[str, Any]:
    admin_key = secrets.token_urlsafe(32)
    bar = Bar()
    engine = create_engine(db.url)
    async with AsyncExitStack() as stack:
        serve_log = stack.enter_context((logs / "serve.log").open("wb"))
        worker_log = stack.enter_context((logs / "worker.log").open("wb"))
        server = Server(
            "serve", db.url, admin_key, args.workers, require_signatures=True, output=serve_log
        )
        admin_client = await stack.enter_async_context(server)
        bar.note(f"database {db.name}; API pid {server.pid}; setting up the parties")
        world = await set_up(admin_client, admin_key)
        workers = await start_workers(args.relays, db.url, admin_key, worker_log)
        stack.push_async_callback(stop, workers)
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=server.base_url,
                timeout=httpx.Timeout(120.0, pool=None),
                limits=httpx.Limits(
                    max_connections=max(args.connections, args.max_clients),
                    # Below uvicorn's 5 s keep-alive timeout: a connection the server is
                    # closing would answer a request with a ReadError (no HTTP status).
                    keepalive_expiry=2.0,
                ),
            )
        )
        monitor = stack.enter_context(psycopg.connect(db.monitor_url, autocommit=True))
        assert server.pid is not None
        day = Day(world, args.seed)
        meter = Meter(CpuMeter(monitor, db.name, [server.pid]), workers)
        rig = Rig(client, day, bar, meter, engine, args.drain)
        with bar.progress:
            await closed_loop(client, day, 4, args.warmup, bar, "warm-up, 4 clients")
            steps: list[PhaseResult] = []
            saturation = args.saturation
            if saturation is None:
                steps, saturation = await saturation_search(rig, args.step, args.max_clients)
            phases = [
                await rig.run(
                    f"open loop at {share} % of saturation",
                    lambda r=saturation * share / 100: open_loop(
                        client, day, r, args.duration, bar, args.connections
                    ),
                    offered=saturation * share / 100,
                )
                for share in (50, 100)
            ]
            await rig.drain()
    checks = validation(db.pg_url, engine, day, logs)
    engine.dispose()
    return {"steps": steps, "phases": phases, "saturation": saturation, "validation": checks}


def main() -> None:
    args = parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    db = Database(args.db_url, prefix="sw_load")
    db.create()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="sw_load_"))
    logs.mkdir(parents=True, exist_ok=True)
    try:
        results = asyncio.run(measure(args, db, logs))
    finally:
        db.close(keep=args.keep_db)
        if args.logs is None:
            shutil.rmtree(logs, ignore_errors=True)
    meta = {
        "command": " ".join(sys.argv),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": revision(),
        "machine": machine(),
        "postgres": db.server_version,
        "uptime": uptime,
        "server": (
            f"singlewindow serve --workers {args.workers} --no-relay, {args.relays} × "
            "singlewindow worker, signatures required (SM2)"
        ),
        "saturation": results["saturation"],
        "validation": results["validation"],
        "mix": MIX,
    }
    print(report(meta, results["steps"], results["phases"]))
    if args.json:
        figures = {
            **meta,
            "saturation_steps": [asdict(s) for s in results["steps"]],
            "phases": [asdict(p) for p in results["phases"]],
        }
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
