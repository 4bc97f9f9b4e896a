"""Inspection's parties, filings through the API, and accepted lists as customs announces them."""

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.customs.events import InventoryAccepted, InventoryLineFacts
from app.outbox import OutboxMessage
from tests.customs.conftest import ExportStory as CustomsExportStory

Headers = dict[str, str]
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CEB = "http://www.chinaport.gov.cn/ceb"
NS = {"ceb": CEB}
CUSTOMS_CODE = "4900"
ACCEPTED_AT = datetime(2026, 11, 6, 2, 0, tzinfo=UTC)

EXPORT_PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}
EXPORT_EBC = "4301990002"
EXPORT_AGENT = "4301990003"
# The golden export list's goods (tests/samples/README.md).
EXPORT_GOODS = [
    {"item_no": "XS-CJ-001", "hs_code": "6911101900", "name": "醴陵釉下五彩瓷茶具"},
    {"item_no": "XS-XX-002", "hs_code": "6214100000", "name": "湘绣真丝围巾"},
]
IMPORT_EBC = "4301990012"
# The golden import list's goods.
IMPORT_GOODS = [
    {"item_no": "XG-SK-0001", "hs_code": "3304990099", "name": "保湿修护面霜"},
    {"item_no": "XG-HC-0002", "hs_code": "3305100090", "name": "氨基酸洗发水"},
]


def goods_body(item_no: str, hs_code: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "item_no": item_no,
        "hs_code": hs_code,
        "name": name,
        "brand": fields.pop("brand", "湘品"),
        "model": fields.pop("model", "标准款"),
        "origin_country": fields.pop("origin_country", "142"),
        "manufacturer": fields.pop("manufacturer", "湖南某制造有限公司"),
        "supplier": fields.pop("supplier", "湖南某供应链有限公司"),
        "ingredients": fields.pop("ingredients", "见标签"),
        "conformity_statement": fields.pop("conformity_statement", "符合GB标准"),
        "customs_code": fields.pop("customs_code", CUSTOMS_CODE),
        **fields,
    }


ENTERPRISE_FILING = {
    "customs_code": CUSTOMS_CODE,
    "name": "备案企业",
    "address": "湖南省长沙市芙蓉区五一大道1号",
    "contact": "李四",
    "phone": "0731-88888888",
}


@pytest.fixture
def inspector(principal: Callable[..., Headers]) -> Headers:
    return principal("officer", agency="inspection", customs_codes=[CUSTOMS_CODE])


@pytest.fixture
def customs_officer(principal: Callable[..., Headers]) -> Headers:
    return principal("officer", agency="customs", customs_codes=[CUSTOMS_CODE])


@dataclass
class Filer:
    """Files an enterprise and its goods through the API and has the inspector approve them."""

    client: TestClient
    inspector: Headers

    def enterprise(self, headers: Headers, **fields: Any) -> dict[str, Any]:
        filed = self.client.post(
            "/api/v1/inspection/enterprise-filings",
            json={**ENTERPRISE_FILING, **fields},
            headers=headers,
        )
        assert filed.status_code == 201, filed.text
        return self.review("enterprise-filings", filed.json()["id"])

    def goods(
        self, headers: Headers, goods: Sequence[dict[str, Any]], **review: Any
    ) -> list[dict[str, Any]]:
        approved = []
        for item in goods:
            filed = self.client.post(
                "/api/v1/inspection/goods-filings", json=goods_body(**item), headers=headers
            )
            assert filed.status_code == 201, filed.text
            approved.append(self.review("goods-filings", filed.json()["id"], **review))
        return approved

    def both(
        self, headers: Headers, goods: Sequence[dict[str, Any]], **review: Any
    ) -> list[dict[str, Any]]:
        self.enterprise(headers)
        return self.goods(headers, goods, **review)

    def review(self, path: str, filing_id: int, **review: Any) -> dict[str, Any]:
        body = {"decision": "approve", "reason": "资料齐全", **review}
        reviewed = self.client.post(
            f"/api/v1/inspection/{path}/{filing_id}/review", json=body, headers=self.inspector
        )
        assert reviewed.status_code == 200, reviewed.text
        result: dict[str, Any] = reviewed.json()
        return result


@pytest.fixture
def filer(client: TestClient, inspector: Headers) -> Filer:
    return Filer(client, inspector)


# ---------------------------------------------------------------- lists announced by customs

_ids = itertools.count(1)


def line(
    gnum: int,
    gcode: str,
    gname: str = "商品",
    *,
    item_no: str | None = None,
    item_record_no: str | None = None,
    country: str = "116",
) -> InventoryLineFacts:
    return InventoryLineFacts(
        gnum=gnum,
        gcode=gcode,
        gname=gname,
        item_no=item_no,
        item_record_no=item_record_no,
        country=country,
        qty=Decimal(1),
        unit="142",
        total_price=Decimal("100.00"),
    )


def golden_import_lines() -> list[InventoryLineFacts]:
    return [
        line(n, g["hs_code"], g["name"], item_no=g["item_no"])
        for n, g in enumerate(IMPORT_GOODS, start=1)
    ]


def invt_no_of(inventory_id: int, *, direction: str = "I", customs_code: str = CUSTOMS_CODE) -> str:
    return f"{customs_code}2026{direction}{inventory_id:09d}"


@dataclass
class Customs:
    """Plays customs' part: announces accepted lists, and reads what inspection answered."""

    factory: sessionmaker[Session]
    run: Callable[[], int]

    def accept(
        self,
        lines: Sequence[InventoryLineFacts],
        *,
        direction: str = "I",
        trade_mode: str = "9610",
        ebc_code: str = IMPORT_EBC,
        customs_code: str = CUSTOMS_CODE,
        accepted_at: datetime = ACCEPTED_AT,
        inventory_id: int | None = None,
    ) -> InventoryAccepted:
        inventory_id = inventory_id or 900_000 + next(_ids)
        event = InventoryAccepted(
            inventory_id=inventory_id,
            invt_no=invt_no_of(inventory_id, direction=direction, customs_code=customs_code),
            direction=direction,
            customs_code=customs_code,
            trade_mode=trade_mode,
            ebc_code=ebc_code,
            agent_code="4301990013",
            logistics_code="4301990014",
            logistics_no=f"WB{inventory_id}",
            currency="142",
            goods_value=Decimal("300.00"),
            lines=list(lines),
            accepted_at=accepted_at,
        )
        with self.factory.begin() as session:
            outbox.publish(session, event)
        self.run()
        return event

    def answers(self, inventory_id: int) -> list[tuple[str, dict[str, Any]]]:
        """What inspection announced about the list, in order: (event type, payload)."""
        with self.factory() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.event_type.like("Inspection%"))
                .order_by(OutboxMessage.id)
            ).all()
            return [
                (row.event_type, row.payload)
                for row in rows
                if row.payload["inventory_id"] == inventory_id
            ]

    def answer(self, inventory_id: int) -> tuple[str, dict[str, Any]]:
        answers = self.answers(inventory_id)
        assert len(answers) == 1, answers
        return answers[0]


@pytest.fixture
def customs(session_factory: sessionmaker[Session], run_outbox: Callable[[], int]) -> Customs:
    return Customs(session_factory, run_outbox)


# ---------------------------------------------------------------- the export story over HTTP


class ExportStory(CustomsExportStory):
    """The golden export documents, re-keyed by a suffix so one test can declare several."""

    def declare(self, suffix: str) -> str:
        """Order, 收款单, waybill and list: the list is accepted (120); returns its invtNo."""
        super().declare(suffix)
        return self.accepted(suffix)

    def accepted(self, suffix: str) -> str:
        listed = self.get(f"EXP-COP-{suffix}")
        assert listed["status"] == 120, listed
        invt_no: str = listed["invt_no"]
        return invt_no

    def list_receipts(self) -> list[str]:
        receipts = self.client.get("/api/v1/receipts", headers=self.parties[EXPORT_AGENT]).json()[
            "receipts"
        ]
        return [
            r["InventoryReturn"]["returnStatus"] for r in receipts if r["messageType"] == "CEB604"
        ]


@pytest.fixture
def export_parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}


@pytest.fixture
def story(client: TestClient, export_parties: dict[str, Headers], admin: Headers) -> ExportStory:
    """Customs lanes made deterministic (no random selection) unless a test sets rules."""
    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    return ExportStory(client, export_parties)
