"""Concurrent clients of mixed single-window traffic that ride out database outages.

Each client loops over weighted actions until its deadline: an export parcel (order, 收款单,
waybill, list: 303/403/505/603), an import parcel (311/411/511/621) of a buyer drawn from a
few that the load pushes against the import limits, a customs officer's decision on a list
of the review queue, a bank's settlement against a released list, and an agent's 701 over
recently released export lists. Settlements and 701s aim at the few most recent lists, so
clients race each other for the same ledger and the same summary membership.

A request answered 503, or whose connection broke, is sent again unchanged (the same
message guid, the same bankRef) until it gets another answer, so a client learns the fate
of everything it sent; every answer is recorded with its time for the test to judge.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from lxml import etree

from tests.conftest import ADMIN_KEY
from tests.customs.conftest import (
    EXPORT_PARTIES,
    IMPORT_PARTIES,
    IMPORT_SENDERS,
    NS,
    SENDERS,
    ExportStory,
    ImportStory,
    import_amounts,
)
from tests.inspection.conftest import EXPORT_GOODS, IMPORT_GOODS, goods_body
from tests.summaries.messages import summary_apply
from tests.support.identities import Identity, make_rsa_identity

EXPORT_EBC, EXPORT_AGENT = "4301990002", "4301990003"
IMPORT_EBC = "4301990012"
BANKS = ("BANKA001", "BANKB002")
CUSTOMS_CODE = "4900"
# Eight buyers share the import traffic: each can take six ¥3,910 baskets in a year, not a
# seventh, and a ¥5,510 basket of two goods is over the ¥5,000 a transaction.
BUYERS = tuple(f"43010219900101{n:04d}" for n in range(1, 9))
BASKETS = (
    {1: ("2", "1200.00"), 2: ("1", "1500.00")},
    {1: ("2", "2000.00"), 2: ("1", "1500.00")},
)
ACTIONS = {"export": 3, "import": 3, "decision": 2, "settlement": 2, "summary": 1}
RACE_WINDOW = 12  # settlements and 701s pick among this many most recent released lists
RETRY_PAUSE_S = 0.2
XML = {"Content-Type": "application/xml"}


@dataclass
class Answer:
    """One HTTP exchange: when it ended, what it was for, and its status (None: no answer)."""

    at: float
    what: str
    status: int | None
    retry_after: str | None = None


@dataclass
class Message:
    """A CEB message as its sender saw it: the body (its guid) and the receipts of its 200."""

    sender: str
    guid: str
    body: bytes
    status: int | None = None
    receipts: list[str] = field(default_factory=list)
    receipt_type: str = ""
    attempts: int = 0
    answered_at: float = 0.0


@dataclass
class Traffic:
    """What all clients sent and got back."""

    answers: list[Answer] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    settlements: dict[str, str] = field(default_factory=dict)  # id → status answered
    decisions: list[str] = field(default_factory=list)  # invtNo of each decision answered
    released: dict[str, str] = field(default_factory=dict)  # invtNo → direction, in order
    trade_cursor: int = 0
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_released(self, page: list[dict[str, Any]], next_after: int | None) -> None:
        with self.lock:
            for view in page:
                self.released[view["invt_no"]] = view["direction"]
            if next_after is not None:
                self.trade_cursor = max(self.trade_cursor, next_after)

    def recent_released(self, direction: str | None = None) -> list[str]:
        with self.lock:
            lists = [no for no, d in self.released.items() if direction in (None, d)]
        return lists[-RACE_WINDOW:]


@dataclass(frozen=True)
class Keys:
    """Bearer header values of every party the load acts as."""

    enterprises: dict[str, str]
    officer: str
    banks: dict[str, str]


class Client:
    """One of the concurrent clients; ``run`` loops over weighted actions until the deadline."""

    def __init__(
        self, number: int, base: str, keys: Keys, traffic: Traffic, *, until: float, give_up: float
    ) -> None:
        self.number = number
        self.keys = keys
        self.traffic = traffic
        self.until = until
        self.give_up = give_up
        self.random = random.Random(number)
        self.serial = 0
        self.http = httpx.Client(base_url=base, timeout=30)
        self.exports = ExportStory(None, {})  # type: ignore[arg-type]  # builds messages only
        self.imports = ImportStory(None, {}, signer())  # type: ignore[arg-type]

    def run(self) -> None:
        actions: dict[str, Callable[[], bool]] = {
            "export": self.export_parcel,
            "import": self.import_parcel,
            "decision": self.decide,
            "settlement": self.settle,
            "summary": self.summarise,
        }
        names, weights = list(ACTIONS), list(ACTIONS.values())
        with self.http:
            while time.monotonic() < self.until:
                action = actions[self.random.choices(names, weights)[0]]
                if not action():
                    self.export_parcel()  # nothing to act on yet: keep the load up

    def suffix(self) -> str:
        self.serial += 1
        return f"L{self.number}{self.serial:05d}"

    # ------------------------------------------------------------------ the actions

    def export_parcel(self) -> bool:
        suffix = self.suffix()
        for n in (303, 403, 505, 603):
            if self.send(SENDERS[n], self.exports.message(n, suffix)) is None:
                return True
        return True

    def import_parcel(self) -> bool:
        suffix = self.suffix()
        buyer = self.random.choice(BUYERS)
        changes = import_amounts(self.random.choice(BASKETS))
        for n in (311, 411, 511, 621):
            body = self.imports.message(n, suffix, buyer=buyer, **changes.get(n, {}))
            if self.send(IMPORT_SENDERS[n], body) is None:
                return True
        return True

    def decide(self) -> bool:
        queue = self.call("queue", "GET", "/api/v1/customs/queue?limit=50", self.keys.officer)
        if queue is None or queue.status_code != 200 or not queue.json():
            return False
        listed = self.random.choice(queue.json())
        action = "release" if self.random.random() < 0.8 else "reject"
        decided = self.call(
            "decision",
            "POST",
            f"/api/v1/customs/inventories/{listed['invt_no']}/decisions",
            self.keys.officer,
            json={"action": action, "reason": "负载测试审单"},
        )
        if decided is not None and decided.status_code == 201:
            with self.traffic.lock:
                self.traffic.decisions.append(listed["invt_no"])
        return True

    def settle(self) -> bool:
        self.refresh_released()
        candidates = self.traffic.recent_released()
        if not candidates:
            return False
        invt_no = self.random.choice(candidates)
        bank = self.random.choice(BANKS)
        export = self.traffic.released[invt_no] == "E"
        body = {
            "kind": "collection" if export else "payment",
            "invt_no": invt_no,
            "amount": str(self.random.choice((300, 450, 600, 1500))),
            "currency": "142",
            "account_holder": EXPORT_EBC if export else IMPORT_EBC,
            "bank_ref": f"{bank}-{self.suffix()}",
        }
        settled = self.call(
            "settlement", "POST", "/api/v1/forex/settlements", self.keys.banks[bank], json=body
        )
        if settled is not None and settled.status_code == 201:
            answer = settled.json()
            with self.traffic.lock:
                self.traffic.settlements[answer["id"]] = answer["status"]
        return True

    def summarise(self) -> bool:
        candidates = self.traffic.recent_released("E")
        if not candidates:
            return False
        chosen = self.random.sample(candidates, k=min(len(candidates), self.random.randint(1, 3)))
        body = summary_apply(tuple(chosen), copNo=f"SUM-{self.suffix()}")
        self.send(EXPORT_AGENT, body)
        return True

    def refresh_released(self) -> None:
        path = f"/api/v1/forex/trade-lists?after={self.traffic.trade_cursor}&limit=100"
        page = self.call("trade-lists", "GET", path, self.keys.banks[BANKS[0]])
        if page is not None and page.status_code == 200:
            found = page.json()
            self.traffic.add_released(found["trade_lists"], found["next_after"])

    # ------------------------------------------------------------------ sending

    def send(self, sender: str, body: bytes) -> Message | None:
        """Send a CEB message until it is answered; None if the window never answered."""
        message = Message(sender, etree.fromstring(body).get("guid") or "", body)
        with self.traffic.lock:
            self.traffic.messages.append(message)
        answer = self.call(
            "message",
            "POST",
            "/api/v1/messages",
            self.keys.enterprises[sender],
            content=body,
            headers=XML,
            attempts_of=message,
        )
        if answer is None:
            return None
        message.status = answer.status_code
        message.answered_at = time.monotonic()
        if answer.status_code == 200:
            reply = etree.fromstring(answer.content)
            message.receipts = reply.xpath("//ceb:returnStatus/text()", namespaces=NS)
            message.receipt_type = etree.QName(reply).localname.removesuffix("Message")
        return message

    def call(
        self,
        what: str,
        method: str,
        path: str,
        key: str,
        *,
        attempts_of: Message | None = None,
        **request: Any,
    ) -> httpx.Response | None:
        """The first answer other than 503, retrying as is; None past the give-up time."""
        headers = {"Authorization": key, **request.pop("headers", {})}
        while True:
            if attempts_of is not None:
                attempts_of.attempts += 1
            try:
                response = self.http.request(method, path, headers=headers, **request)
            except httpx.TransportError:
                self.record(Answer(time.monotonic(), what, None))
            else:
                retry_after = response.headers.get("Retry-After")
                self.record(Answer(time.monotonic(), what, response.status_code, retry_after))
                if response.status_code != 503:
                    return response
            if time.monotonic() > self.give_up:
                with self.traffic.lock:
                    self.traffic.gave_up.append(f"{method} {path}")
                return None
            # Sooner than Retry-After asks: the test wants the outage hit hard.
            time.sleep(RETRY_PAUSE_S)

    def record(self, answer: Answer) -> None:
        with self.traffic.lock:
            self.traffic.answers.append(answer)


@cache
def signer() -> Identity:
    """The import agent's signing key: the import XSD wants 621 signed, the load's window
    does not verify it."""
    return make_rsa_identity(0x5E7, "restart test signer")


# ---------------------------------------------------------------------- the parties


def file_parties(base: str) -> Keys:
    """File everyone through the admin API: enterprises, officers, banks, mandates, filings,
    rules (30 % of lists to document review) and inspection sampling off."""
    with httpx.Client(base_url=base, timeout=30) as http:
        admin = Admin(http)
        enterprises = {
            code: admin.enterprise(code, roles)
            for code, roles in {**EXPORT_PARTIES, **IMPORT_PARTIES}.items()
        }
        officer = admin.principal(kind="officer", agency="customs", customs_codes=[CUSTOMS_CODE])
        inspector = admin.principal(
            kind="officer", agency="inspection", customs_codes=[CUSTOMS_CODE]
        )
        banks = {code: admin.principal(kind="bank", bank_code=code) for code in BANKS}
        review = {"advanced": "0.3", "general": "0.3", "discredited": "0.3"}
        admin.put("/api/v1/customs/rules", {"random": {"YELLOW": review}})
        admin.put(
            "/api/v1/inspection/sampling",
            {
                "base_rates": dict.fromkeys(("low", "medium", "high"), "0"),
                "credit_factors": dict.fromkeys(("advanced", "general", "discredited"), "1"),
            },
        )
        rate = {"currency": "502", "effective_date": "2026-01-01", "rate": "7.1"}
        admin.put("/api/v1/forex/rates", {"rates": [rate]})
        for ebc, goods in ((EXPORT_EBC, EXPORT_GOODS), (IMPORT_EBC, IMPORT_GOODS)):
            admin.put(f"/api/v1/enterprises/{ebc}/bank-mandates", [{"bank_code": b} for b in BANKS])
            admin.file_inspection(enterprises[ebc], inspector, goods)
    return Keys(enterprises, officer, banks)


class Admin:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        answer = self.http.post(path, json=body, headers=headers or self.headers)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def put(self, path: str, body: Any) -> None:
        answer = self.http.put(path, json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text

    def enterprise(self, code: str, roles: list[str]) -> str:
        body: dict[str, Any] = {"code": code, "name": f"enterprise {code}", "roles": roles}
        if roles == ["ebc"]:
            body |= {"fx_directory_status": "registered", "fx_class": "A"}
        self.post("/api/v1/enterprises", body)
        return f"Bearer {self.post(f'/api/v1/enterprises/{code}/keys', None)['key']}"

    def principal(self, **body: Any) -> str:
        created = self.post("/api/v1/principals", {"name": f"load {body['kind']}", **body})
        return f"Bearer {created['key']['key']}"

    def file_inspection(self, ebc: str, inspector: str, goods: list[dict[str, Any]]) -> None:
        """The ebc's enterprise and goods filings, approved, so inspection clears its lists."""
        filing = {
            "customs_code": CUSTOMS_CODE,
            "name": "备案企业",
            "address": "湖南省长沙市芙蓉区五一大道1号",
            "contact": "李四",
            "phone": "0731-88888888",
        }
        approve = {"decision": "approve", "reason": "资料齐全"}
        filed = self.post("/api/v1/inspection/enterprise-filings", filing, {"Authorization": ebc})
        self.post(
            f"/api/v1/inspection/enterprise-filings/{filed['id']}/review",
            approve,
            {"Authorization": inspector},
        )
        for item in goods:
            filed = self.post(
                "/api/v1/inspection/goods-filings", goods_body(**item), {"Authorization": ebc}
            )
            self.post(
                f"/api/v1/inspection/goods-filings/{filed['id']}/review",
                approve,
                {"Authorization": inspector},
            )
