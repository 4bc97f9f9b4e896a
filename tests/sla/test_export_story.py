"""The golden export story through the API with the clock: acceptance, arrival, review, release."""

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.config import OutboxSettings
from app.customs import handlers as customs_handlers
from app.customs.models import Inventory
from app.inspection.events import InspectionCleared
from app.main import build_dispatcher
from app.outbox import Dispatcher, Relay
from app.sla import handlers as sla_handlers
from app.sla.events import SlaClockStarted
from tests.sla.conftest import T0, H, Headers

HALF_HOUR = timedelta(minutes=30)
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "export"
PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}
SENDERS = {
    303: "4301990001",
    403: "4301990005",
    505: "4301990004",
    507: "4301990006",
    603: "4301990003",
}
# Every list of 4900 goes to document review (300).
REVIEW_ALL = {
    "blocking": [
        {
            "id": "SLA-T1",
            "when": [{"field": "customs_code", "op": "eq", "value": "4900"}],
            "lane": "YELLOW",
            "reason": "随附单证审核",
        }
    ]
}


@pytest.fixture
def parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {code: register(code, *roles) for code, roles in PARTIES.items()}


@pytest.fixture
def relay(session_factory: sessionmaker[Session]) -> Callable[[], int]:
    """Customs and the SLA clock react; the test plays inspection's part."""
    dispatcher = Dispatcher()
    customs_handlers.register(dispatcher)
    sla_handlers.register(dispatcher)
    runner = Relay(session_factory, dispatcher, OutboxSettings(batch_size=500))

    def _run() -> int:
        total = 0
        while handled := runner.run_once():
            total += handled
        return total

    return _run


def test_the_composition_root_wires_the_clock_both_ways() -> None:
    dispatcher = build_dispatcher()
    for event_type, handler in (
        ("InventoryAccepted", sla_handlers.on_inventory_accepted),
        ("GoodsArrived", sla_handlers.on_goods_arrived),
        ("InventoryStatusChanged", sla_handlers.on_inventory_status_changed),
        ("SlaClockStarted", customs_handlers.on_sla_clock_started),
    ):
        assert handler in dispatcher.handlers_for(event_type)


def test_the_golden_export_is_cleared_within_its_24_hours(
    client: TestClient,
    admin: Headers,
    officer: Headers,
    parties: dict[str, Headers],
    relay: Callable[[], int],
    session_factory: sessionmaker[Session],
    at: Callable[[datetime], None],
) -> None:
    def post(n: int) -> None:
        response = client.post(
            "/api/v1/messages",
            content=(SAMPLES / f"CEB{n}Message.xml").read_bytes(),
            headers={**parties[SENDERS[n]], "Content-Type": "application/xml"},
        )
        assert response.status_code == 200, response.text

    def overview() -> dict[str, int]:
        body = client.get("/api/v1/sla/overview", headers=officer).json()
        return {k: body[k] for k in ("waiting_for_arrival", "running", "at_risk", "breached")}

    assert client.put("/api/v1/customs/rules", json=REVIEW_ALL, headers=admin).status_code == 200
    for n in (303, 403, 505, 603):
        post(n)
    relay()
    invt_no = client.get("/api/v1/inventories/EXP-COP-0001", headers=officer).json()["invt_no"]
    queued = client.get("/api/v1/customs/queue", headers=officer).json()
    assert [(q["invt_no"], q["status"], q["sla_deadline"]) for q in queued] == [
        (invt_no, 300, None)
    ], "accepted and in review, but the goods are not at the site: no clock yet"
    assert overview() == {"waiting_for_arrival": 1, "running": 0, "at_risk": 0, "breached": 0}

    at(T0 + 2 * H)  # 13:00 in Changsha: the 507 covering EXPWB0000000001
    post(507)
    relay()
    deadline = "2026-11-02T05:00:00Z"
    queued = client.get("/api/v1/customs/queue", headers=officer).json()
    assert [(q["invt_no"], q["sla_deadline"]) for q in queued] == [(invt_no, deadline)]
    assert overview() == {"waiting_for_arrival": 0, "running": 1, "at_risk": 0, "breached": 0}

    at(T0 + 2 * H + HALF_HOUR)
    [running] = client.get("/api/v1/sla/inventories?state=running", headers=officer).json()
    assert (running["invt_no"], running["deadline"]) == (invt_no, deadline)
    assert running["remaining_s"] == 23 * 3600 + 1800
    assert running["enterprise_wait_s"] == 1800, "in review since before the clock started"

    at(T0 + 3 * H + HALF_HOUR)  # 14:30: inspection clear, the officer releases
    with session_factory.begin() as session:
        inventory_id = session.scalars(
            select(Inventory.id).where(Inventory.invt_no == invt_no)
        ).one()
        outbox.publish(session, InspectionCleared(inventory_id=inventory_id, reason="not selected"))
    relay()
    decided = client.post(
        f"/api/v1/customs/inventories/{invt_no}/decisions",
        json={"action": "release", "reason": "单证齐全"},
        headers=officer,
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["status"] == 800
    relay()

    at(T0 + 4 * H)
    assert overview() == {"waiting_for_arrival": 0, "running": 0, "at_risk": 0, "breached": 0}
    day = client.get("/api/v1/sla/overview", headers=officer).json()["last_24h"]
    assert (day["released_in_time"], day["released_late"]) == (1, 0)
    assert day["clearance"]["max_s"] == 5400, "arrival 13:00 to release 14:30"
    assert day["enterprise_wait"]["max_s"] == 5400, "all of it in review, reported beside"

    # A late, stale announcement never pulls the queue's deadline earlier.
    with session_factory.begin() as session:
        outbox.publish(
            session,
            SlaClockStarted(
                inventory_id=inventory_id,
                invt_no=invt_no,
                customs_code="4900",
                started_at=T0,
                deadline=T0 + 24 * H,
            ),
        )
    relay()
    detail = client.get(f"/api/v1/inventories/{invt_no}", headers=officer).json()
    assert detail["sla_deadline"] == deadline
