"""Customs rules on export lists: 三单对碰, officers' review, the audit trail, cancels."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import audit, clock
from app.customs import service
from app.customs.models import Inventory
from tests.customs.conftest import ExportStory, statuses

Headers = dict[str, str]
AGENT = "4301990003"


def receipts_of(story: ExportStory, message_type: str = "CEB604") -> list[dict[str, Any]]:
    rows = story.client.get("/api/v1/receipts?limit=1000", headers=story.parties[AGENT]).json()
    return [r["InventoryReturn"] for r in rows["receipts"] if r["messageType"] == message_type]


@pytest.fixture
def red_rules(client: TestClient, admin: Headers) -> None:
    body = {
        "targeting": [
            {
                "id": "T-PORCELAIN",
                "when": [{"field": "gcode", "op": "prefix", "value": "6911"}],
                "lane": "YELLOW",
                "reason": "porcelain under review this month",
            }
        ]
    }
    assert client.put("/api/v1/customs/rules", json=body, headers=admin).status_code == 200


class TestMatch:
    def test_a_quantity_more_than_five_percent_off_the_order_is_rejected(
        self, story: ExportStory
    ) -> None:
        line = "//ceb:InventoryList[ceb:gnum='1']"
        listed = story.declare(
            "Q1", edits={f"{line}/ceb:qty": "3", f"{line}/ceb:totalPrice": "804"}
        )
        assert listed["status"] == 100
        assert "qty" in receipts_of(story)[-1]["returnInfo"]

    def test_within_five_percent_is_accepted(self, story: ExportStory) -> None:
        assert story.declare("Q2", grossWeight="3.30")["status"] == 120

    def test_gross_weight_beyond_tolerance_is_rejected(self, story: ExportStory) -> None:
        listed = story.declare("W1", grossWeight="4.00")
        assert listed["status"] == 100
        assert "毛重" in receipts_of(story)[-1]["returnInfo"]

    def test_partners_arriving_later_accept_the_waiting_list(self, story: ExportStory) -> None:
        story.post(603, "L1")
        assert story.get("EXP-COP-L1")["status"] == 2
        for n in (303, 403):
            story.post(n, "L1")
        assert story.get("EXP-COP-L1")["status"] == 2
        story.post(505, "L1")
        assert story.get("EXP-COP-L1")["status"] == 120

    def test_a_list_still_incomplete_after_its_wait_is_rejected_naming_what_is_missing(
        self, story: ExportStory, session_factory: sessionmaker[Session]
    ) -> None:
        story.post(603, "T1")
        story.post(303, "T1")
        with session_factory.begin() as session:
            assert service.expire_waiting(session, now=clock.now()) == 0
        with session_factory.begin() as session:
            later = clock.now() + timedelta(hours=7)
            assert service.expire_waiting(session, now=later) == 1
        assert story.get("EXP-COP-T1")["status"] == 100
        info = receipts_of(story)[-1]["returnInfo"]
        assert "支付单" in info and "运单" in info and "订单" not in info.split("缺少")[1]


class TestOfficers:
    def test_review_lane_queue_claim_and_release_with_an_audit_trail(
        self,
        story: ExportStory,
        red_rules: None,
        principal: Callable[..., Headers],
        customs_outbox: Callable[[], int],
        inspection_clears: Callable[[str], None],
        session_factory: sessionmaker[Session],
    ) -> None:
        invt_no = story.declare("R1")["invt_no"]
        customs_outbox()
        assert story.get(invt_no)["status"] == 300
        li = principal("officer", agency="customs", customs_codes=["4900"], name="officer Li")
        wang = principal("officer", agency="customs", customs_codes=["4900"], name="officer Wang")
        elsewhere = principal("officer", agency="customs", customs_codes=["5100"])
        client = story.client
        queue = client.get("/api/v1/customs/queue", headers=li).json()
        assert [item["invt_no"] for item in queue] == [invt_no]
        assert queue[0]["lane"] == "YELLOW"
        assert client.get("/api/v1/customs/queue", headers=elsewhere).json() == []
        assert (
            client.post(f"/api/v1/customs/inventories/{invt_no}/claim", headers=li).status_code
            == 200
        )
        taken = client.post(f"/api/v1/customs/inventories/{invt_no}/claim", headers=wang)
        assert taken.status_code == 409
        blocked = client.post(
            f"/api/v1/customs/inventories/{invt_no}/decisions",
            json={"action": "release", "reason": "documents fine"},
            headers=wang,
        )
        assert blocked.status_code == 409
        released = client.post(
            f"/api/v1/customs/inventories/{invt_no}/decisions",
            json={"action": "release", "reason": "invoice checked"},
            headers=li,
        )
        assert released.status_code == 201, released.text
        assert released.json()["status"] == 399, "customs concluded; inspection still to clear"
        inspection_clears(invt_no)
        assert story.get(invt_no)["status"] == 800
        with session_factory.begin() as session:
            audit.seal(session)
        with session_factory() as session:
            trail = session.scalars(
                select(audit.AuditEntry)
                .where(audit.AuditEntry.subject_id == invt_no)
                .order_by(audit.AuditEntry.id)
            ).all()
            assert [(e.detail["before"], e.detail["after"]) for e in trail] == [
                (2, 120),
                (120, 300),
                (300, 399),
                (399, 800),
            ]
            officer_step = trail[2]
            assert officer_step.actor.startswith("officer:")
            assert officer_step.detail["reason"] == "invoice checked"
            assert audit.verify(session).first_broken is None

    def test_enterprises_see_the_timeline_but_not_internal_reasons(
        self,
        story: ExportStory,
        red_rules: None,
        principal: Callable[..., Headers],
        customs_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("V1")["invt_no"]
        customs_outbox()
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        as_officer = story.get(invt_no, officer)
        as_agent = story.get(invt_no)
        officer_text = " ".join(entry["info"] for entry in as_officer["timeline"])
        agent_text = " ".join(entry["info"] for entry in as_agent["timeline"])
        assert "T-PORCELAIN" in officer_text and "seed" in officer_text
        assert "T-PORCELAIN" not in agent_text and "porcelain" not in agent_text
        assert as_agent["lane"] is None and as_officer["lane"] == "YELLOW"

    def test_a_rejection_reason_reaches_the_enterprise(
        self,
        story: ExportStory,
        red_rules: None,
        principal: Callable[..., Headers],
        customs_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("J1")["invt_no"]
        customs_outbox()
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        response = story.client.post(
            f"/api/v1/customs/inventories/{invt_no}/decisions",
            json={"action": "reject", "reason": "品名与实际不符"},
            headers=officer,
        )
        assert response.status_code == 201
        assert receipts_of(story)[-1]["returnStatus"] == "100"
        assert receipts_of(story)[-1]["returnInfo"] == "品名与实际不符"

    def test_illegal_transitions_are_conflicts(
        self,
        story: ExportStory,
        principal: Callable[..., Headers],
        customs_outbox: Callable[[], int],
        inspection_clears: Callable[[str], None],
    ) -> None:
        invt_no = story.declare("X1")["invt_no"]
        customs_outbox()
        inspection_clears(invt_no)
        assert story.get(invt_no)["status"] == 800
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        response = story.client.post(
            f"/api/v1/customs/inventories/{invt_no}/decisions",
            json={"action": "review", "reason": "second look"},
            headers=officer,
        )
        assert response.status_code == 409
        assert "cannot go from 800 to 300" in response.json()["detail"]

    @pytest.mark.parametrize("who", ["enterprise", "inspection", "other-district", "bank"])
    def test_only_customs_officers_of_the_district_decide(
        self,
        story: ExportStory,
        red_rules: None,
        principal: Callable[..., Headers],
        customs_outbox: Callable[[], int],
        who: str,
    ) -> None:
        invt_no = story.declare("P1")["invt_no"]
        customs_outbox()
        headers = {
            "enterprise": story.parties[AGENT],
            "inspection": principal("officer", agency="inspection", customs_codes=["4900"]),
            "other-district": principal("officer", agency="customs", customs_codes=["5100"]),
            "bank": principal("bank", bank_code="BOC"),
        }[who]
        response = story.client.post(
            f"/api/v1/customs/inventories/{invt_no}/decisions",
            json={"action": "release", "reason": "let it go"},
            headers=headers,
        )
        assert response.status_code in (403, 404)
        assert story.get(invt_no)["status"] == 300

    def test_a_decision_needs_a_reason(
        self, story: ExportStory, principal: Callable[..., Headers]
    ) -> None:
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        response = story.client.post(
            "/api/v1/customs/inventories/ANY/decisions",
            json={"action": "release"},
            headers=officer,
        )
        assert response.status_code == 422


class TestCancelAndDeparture:
    def test_cancel_before_departure_withdraws_the_list(
        self, story: ExportStory, customs_outbox: Callable[[], int]
    ) -> None:
        invt_no = story.declare("C1")["invt_no"]
        customs_outbox()
        cancel = story.post(605, "C1", invtNo=invt_no)
        assert statuses(cancel.content) == ["120"]
        assert story.get(invt_no)["status"] == 1001

    def test_cancel_after_departure_is_refused(
        self,
        story: ExportStory,
        customs_outbox: Callable[[], int],
        inspection_clears: Callable[[str], None],
    ) -> None:
        invt_no = story.declare("C2")["invt_no"]
        customs_outbox()
        inspection_clears(invt_no)
        story.post(509, "C2")
        assert story.get(invt_no)["status"] == 899
        cancel = story.post(605, "C2", invtNo=invt_no)
        assert statuses(cancel.content) == ["-623005"]

    def test_cancel_of_an_unknown_list_is_refused(self, story: ExportStory) -> None:
        cancel = story.post(605, "C3", invtNo="49002026E999999999")
        assert statuses(cancel.content) == ["-623003"]


class TestRules:
    def test_rules_are_versioned_and_only_admins_replace_them(
        self,
        client: TestClient,
        admin: Headers,
        principal: Callable[..., Headers],
    ) -> None:
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        before = client.get("/api/v1/customs/rules", headers=officer).json()["version"]
        assert client.put("/api/v1/customs/rules", json={}, headers=officer).status_code == 403
        body = {
            "blocking": [
                {
                    "id": "B1",
                    "when": [{"field": "country", "op": "eq", "value": "999"}],
                    "lane": "RED",
                    "reason": "embargo",
                }
            ]
        }
        after = client.put("/api/v1/customs/rules", json=body, headers=admin).json()["version"]
        assert after == before + 1
        bad = client.put(
            "/api/v1/customs/rules",
            json={"blocking": [{"id": "B2", "when": [], "lane": "RED", "reason": "x"}]},
            headers=admin,
        )
        assert bad.status_code == 422

    def test_backtest_shows_what_candidate_rules_would_hold_and_changes_nothing(
        self,
        story: ExportStory,
        admin: Headers,
        customs_outbox: Callable[[], int],
        session_factory: sessionmaker[Session],
    ) -> None:
        for suffix in ("B1", "B2", "B3"):
            story.declare(suffix)
        customs_outbox()
        with session_factory() as session:
            before = [(i.status, i.lane) for i in session.scalars(select(Inventory))]
        candidate = {
            "targeting": [
                {
                    "id": "T-SCARF",
                    "when": [{"field": "gcode", "op": "prefix", "value": "6214"}],
                    "lane": "RED",
                    "reason": "silk scarves",
                }
            ]
        }
        start = (clock.now() - timedelta(days=1)).isoformat()
        end = (clock.now() + timedelta(days=1)).isoformat()
        result = story.client.post(
            "/api/v1/customs/rules/backtest",
            json={"rules": candidate, "start": start, "end": end},
            headers=admin,
        )
        assert result.status_code == 200, result.text
        body = result.json()
        assert body["lists"] == 3
        assert body["would_hold"]["RED"] == 3 and body["actually_held"]["GREEN"] == 3
        assert body["hits_by_rule"] == {"T-SCARF": 3}
        with session_factory() as session:
            assert [(i.status, i.lane) for i in session.scalars(select(Inventory))] == before
