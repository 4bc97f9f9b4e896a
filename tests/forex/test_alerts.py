"""A list returned, cancelled or refunded after it backed settlements raises alerts."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.customs.events import InventoryRefunded, InventoryStatusChanged
from app.customs.models import Inventory
from app.forex import handlers
from app.forex.models import Alert
from app.outbox import OutboxMessage
from tests.forex.conftest import BANK, EXPORT_EBC, OTHER_BANK, ExportStory

Headers = dict[str, str]


def settle(client: TestClient, headers: Headers, invt_no: str, ref: str, **over: Any) -> Any:
    body = {
        "kind": "collection",
        "invt_no": invt_no,
        "amount": "500",
        "currency": "142",
        "account_holder": EXPORT_EBC,
        "bank_ref": ref,
        **over,
    }
    response = client.post("/api/v1/forex/settlements", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def alerts(client: TestClient, headers: Headers) -> list[dict[str, Any]]:
    response = client.get("/api/v1/forex/alerts", headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["alerts"]
    return found


def raised_events(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.event_type == "TradeListAlertRaised"
                )
            )
        )


def inventory(factory: sessionmaker[Session], invt_no: str) -> Inventory:
    with factory() as session:
        return session.scalars(select(Inventory).where(Inventory.invt_no == invt_no)).one()


def test_a_list_cancelled_after_settlement_alerts_its_bank(
    client: TestClient,
    admin: Headers,
    export_story: ExportStory,
    banks: dict[str, Headers],
    mandate: Callable[..., None],
    rates: Callable[..., None],
    session_factory: sessionmaker[Session],
) -> None:
    mandate(EXPORT_EBC, BANK, OTHER_BANK)
    rates(("502", "2000-01-01", "7.1"))
    invt_no = export_story.release()
    settled = settle(client, banks[BANK], invt_no, "R1", amount="1045")
    assert settled["status"] == "settled"

    assert export_story.cancel() == ["120"]
    export_story.outbox_run()
    assert export_story.status() == 1001

    (alert,) = alerts(client, banks[BANK])
    assert alert["kind"] == "cancelled"
    assert alert["invt_no"] == invt_no and alert["ebc_code"] == EXPORT_EBC
    assert alert["allocated"] == "1045.00000" and alert["currency"] == "142"
    assert alert["settlement_ids"] == [settled["id"]]
    assert alerts(client, banks[OTHER_BANK]) == [], "it settled nothing on the list"
    assert [a["bank_code"] for a in alerts(client, admin)] == [BANK]
    (event,) = raised_events(session_factory)
    assert event["alert_id"] == alert["id"] and event["kind"] == "cancelled"

    after = settle(client, banks[BANK], invt_no, "R2", amount="1")
    assert after["status"] == "rejected"
    assert {r["id"]: r["outcome"] for r in after["rules"]}["FX-STATUS"] == "REJECT"


@pytest.fixture
def seller(
    register: Callable[..., Headers],
    mandate: Callable[..., None],
    rates: Callable[..., None],
    banks: dict[str, Headers],
) -> dict[str, Headers]:
    register(EXPORT_EBC, "ebc")
    mandate(EXPORT_EBC, BANK, OTHER_BANK)
    rates(("502", "2000-01-01", "7.1"))
    return banks


def publish(factory: sessionmaker[Session], event: Any) -> None:
    with factory.begin() as session:
        outbox.publish(session, event)


def test_a_refund_alerts_each_bank_that_settled_and_holds_later_settlements(
    client: TestClient,
    seller: dict[str, Headers],
    trade_list: Callable[..., str],
    session_factory: sessionmaker[Session],
    story_outbox: Callable[[], int],
) -> None:
    invt_no = trade_list()
    mine = settle(client, seller[BANK], invt_no, "M1", amount="300")
    settle(client, seller[BANK], invt_no, "M2", amount="200")
    theirs = settle(client, seller[OTHER_BANK], invt_no, "T1", amount="100")
    reversed_ = settle(client, seller[OTHER_BANK], invt_no, "T2", amount="50")
    client.post(
        f"/api/v1/forex/settlements/{reversed_['id']}/reverse",
        json={"reason": "recalled"},
        headers=seller[OTHER_BANK],
    )
    listed = inventory(session_factory, invt_no)
    publish(
        session_factory,
        InventoryRefunded(
            inventory_id=listed.id,
            invt_no=invt_no,
            direction="E",
            ebc_code=EXPORT_EBC,
            refunded_at=datetime(2026, 11, 15, tzinfo=UTC),
        ),
    )
    story_outbox()
    (alert,) = alerts(client, seller[BANK])
    assert alert["kind"] == "refunded" and alert["allocated"] == "500.00000"
    assert alert["settlement_ids"][0] == mine["id"] and len(alert["settlement_ids"]) == 2
    (other,) = alerts(client, seller[OTHER_BANK])
    assert other["allocated"] == "100.00000" and other["settlement_ids"] == [theirs["id"]]

    later = settle(client, seller[BANK], invt_no, "M3", amount="10")
    assert later["status"] == "held"
    assert {r["id"]: r["outcome"] for r in later["rules"]}["FX-RETURNED"] == "HOLD"
    view = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=seller[BANK]).json()
    assert view["returned"] == "refunded"


def test_a_refund_before_any_settlement_is_remembered(
    client: TestClient,
    seller: dict[str, Headers],
    trade_list: Callable[..., str],
    session_factory: sessionmaker[Session],
    story_outbox: Callable[[], int],
) -> None:
    invt_no = trade_list()
    listed = inventory(session_factory, invt_no)
    publish(
        session_factory,
        InventoryRefunded(
            inventory_id=listed.id,
            invt_no=invt_no,
            direction="E",
            ebc_code=EXPORT_EBC,
            refunded_at=datetime(2026, 11, 15, tzinfo=UTC),
        ),
    )
    story_outbox()
    assert alerts(client, seller[BANK]) == []
    held = settle(client, seller[BANK], invt_no, "R1")
    assert held["status"] == "held"


def test_a_return_abroad_alerts_and_redelivery_raises_nothing_twice(
    client: TestClient,
    seller: dict[str, Headers],
    trade_list: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    invt_no = trade_list()
    settle(client, seller[BANK], invt_no, "R1")
    listed = inventory(session_factory, invt_no)
    event = InventoryStatusChanged(
        inventory_id=listed.id,
        invt_no=invt_no,
        direction="E",
        customs_code="4900",
        ebc_code=EXPORT_EBC,
        from_status=800,
        to_status=700,
        changed_at=datetime(2026, 11, 3, tzinfo=UTC),
        reason="退运",
    )
    for _ in range(2):
        with session_factory.begin() as session:
            handlers.on_status_changed(session, event)
    (alert,) = alerts(client, seller[BANK])
    assert alert["kind"] == "returned"
    assert len(raised_events(session_factory)) == 1


def test_other_status_changes_raise_no_alert(
    client: TestClient,
    seller: dict[str, Headers],
    trade_list: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    invt_no = trade_list()
    settle(client, seller[BANK], invt_no, "R1")
    listed = inventory(session_factory, invt_no)
    closed = InventoryStatusChanged(
        inventory_id=listed.id,
        invt_no=invt_no,
        direction="E",
        customs_code="4900",
        ebc_code=EXPORT_EBC,
        from_status=800,
        to_status=899,
        changed_at=datetime(2026, 11, 3, tzinfo=UTC),
        reason="离境",
    )
    with session_factory.begin() as session:
        handlers.on_status_changed(session, closed)
    assert alerts(client, seller[BANK]) == []


def test_only_banks_and_administrators_read_alerts(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    seller = register(EXPORT_EBC, "ebc")
    assert client.get("/api/v1/forex/alerts", headers=seller).status_code == 403


@pytest.mark.postgres_only
def test_an_alert_that_commits_after_a_later_one_is_still_read(
    client: TestClient, banks: dict[str, Headers], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as slow:
        late = _alert(slow, "E1")
        with session_factory.begin() as fast:
            early = _alert(fast, "E2")
        assert late < early, "the slow handler took the lower id"

        seen = alerts(client, banks[BANK])
        assert [a["id"] for a in seen] == [early]
        slow.commit()

    response = client.get(f"/api/v1/forex/alerts?after={seen[-1]['position']}", headers=banks[BANK])
    later = response.json()["alerts"]
    assert [a["id"] for a in later] == [late], "paged by id, the late alert is lost"
    response = client.get(
        f"/api/v1/forex/alerts?after={later[-1]['position']}", headers=banks[BANK]
    )
    assert response.json()["alerts"] == []


def _alert(session: Session, invt_no: str) -> int:
    """An alert written as the handler writes it; its id (taken now, seen at commit)."""
    row = Alert(
        bank_code=BANK,
        invt_no=invt_no,
        ebc_code=EXPORT_EBC,
        kind="cancelled",
        allocated=Decimal("10"),
        currency="142",
        settlement_ids=[],
        source_event_id=uuid4(),
        raised_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    return row.id
