"""Every accepted list is screened: filings, negative and positive lists, bans, sampling.

Customs' part is played by publishing InventoryAccepted into the outbox as customs does; the
real relay then runs inspection's handler, and the test reads what inspection announced.
"""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.customs.events import InventoryStatusChanged
from app.inspection import handlers, rules
from app.inspection.models import EnterpriseFiling
from tests.inspection.conftest import (
    ACCEPTED_AT,
    IMPORT_EBC,
    IMPORT_GOODS,
    Customs,
    Filer,
    Headers,
    golden_import_lines,
    invt_no_of,
    line,
)

API = "/api/v1/inspection"


def set_sampling(client: TestClient, admin: Headers, rate: str, **factors: str) -> None:
    body = {
        "base_rates": dict.fromkeys(("low", "medium", "high"), rate),
        "credit_factors": {"advanced": "1", "general": "1", "discredited": "1", **factors},
    }
    assert client.put(f"{API}/sampling", json=body, headers=admin).status_code == 200


@pytest.fixture
def importer(register: Callable[..., Headers]) -> Headers:
    return register(IMPORT_EBC, "ebc")


@pytest.fixture
def filed(importer: Headers, filer: Filer) -> list[dict[str, Any]]:
    """The golden import goods filed by their ebc and approved (medium tier)."""
    return filer.both(importer, IMPORT_GOODS)


@pytest.fixture
def never_sampled(client: TestClient, admin: Headers) -> None:
    set_sampling(client, admin, "0")


@pytest.fixture
def always_sampled(client: TestClient, admin: Headers) -> None:
    set_sampling(client, admin, "1")


def screening(client: TestClient, inspector: Headers, invt_no: str) -> dict[str, Any]:
    response = client.get(f"{API}/screenings/{invt_no}", headers=inspector)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.usefixtures("filed", "never_sampled")
class TestFilings:
    def test_filed_goods_of_a_filed_enterprise_are_cleared(self, customs: Customs) -> None:
        event = customs.accept(golden_import_lines())
        kind, payload = customs.answer(event.inventory_id)
        assert kind == "InspectionCleared"
        assert payload["task_id"] is None

    def test_a_list_with_goods_not_filed_is_rejected(
        self, customs: Customs, client: TestClient, inspector: Headers
    ) -> None:
        lines = [*golden_import_lines(), line(3, "3304100000", "口红", item_no="XG-LP-0003")]
        event = customs.accept(lines)
        kind, payload = customs.answer(event.inventory_id)
        assert (kind, payload["disposal"]) == ("InspectionFailed", "reject")
        assert "第3项 3304100000 口红 商品未备案" in payload["reason"]
        assert screening(client, inspector, event.invt_no)["rule_ids"] == ["filing:goods"]

    def test_a_list_of_an_enterprise_whose_filing_is_void_is_rejected(
        self,
        customs: Customs,
        session_factory: sessionmaker[Session],
        client: TestClient,
        inspector: Headers,
    ) -> None:
        with session_factory.begin() as session:
            session.execute(update(EnterpriseFiling).values(status="invalidated"))
        event = customs.accept(golden_import_lines())
        kind, payload = customs.answer(event.inventory_id)
        assert kind == "InspectionFailed"
        assert "未办理检验检疫备案" in payload["reason"]
        assert screening(client, inspector, event.invt_no)["rule_ids"] == ["filing:enterprise"]

    def test_goods_filed_by_another_enterprise_do_not_count(
        self, customs: Customs, register: Callable[..., Headers]
    ) -> None:
        register("4301990099", "ebc")
        event = customs.accept(golden_import_lines(), ebc_code="4301990099")
        assert customs.answer(event.inventory_id)[0] == "InspectionFailed"

    def test_the_filing_number_as_item_record_no_matches_whatever_the_item_no(
        self, customs: Customs, filed: list[dict[str, Any]]
    ) -> None:
        lines = [
            line(n, g["hs_code"], g["name"], item_no="OTHER", item_record_no=g["filing_no"])
            for n, g in enumerate(filed, start=1)
        ]
        assert customs.answer(customs.accept(lines).inventory_id)[0] == "InspectionCleared"

    def test_a_filing_number_of_other_goods_does_not_match(
        self, customs: Customs, filed: list[dict[str, Any]]
    ) -> None:
        cream, shampoo = filed
        lines = [line(1, cream["hs_code"], item_record_no=shampoo["filing_no"])]
        assert customs.answer(customs.accept(lines).inventory_id)[0] == "InspectionFailed"

    def test_the_item_no_must_be_filed_under_the_declared_hs_code(self, customs: Customs) -> None:
        cream = IMPORT_GOODS[0]
        lines = [line(1, "3304100000", cream["name"], item_no=cream["item_no"])]
        assert customs.answer(customs.accept(lines).inventory_id)[0] == "InspectionFailed"

    def test_a_line_without_item_numbers_matches_by_hs_code(self, customs: Customs) -> None:
        lines = [line(n, g["hs_code"], g["name"]) for n, g in enumerate(IMPORT_GOODS, start=1)]
        assert customs.answer(customs.accept(lines).inventory_id)[0] == "InspectionCleared"

    def test_a_filing_is_valid_nationwide(self, customs: Customs) -> None:
        event = customs.accept(golden_import_lines(), customs_code="5100")
        assert customs.answer(event.inventory_id)[0] == "InspectionCleared"

    def test_cancelled_goods_are_no_longer_filed(
        self,
        customs: Customs,
        client: TestClient,
        importer: Headers,
        filed: list[dict[str, Any]],
    ) -> None:
        client.post(
            f"{API}/goods-filings/{filed[0]['id']}/cancel",
            json={"reason": "停售"},
            headers=importer,
        )
        assert customs.answer(customs.accept(golden_import_lines()).inventory_id)[0] == (
            "InspectionFailed"
        )


@pytest.mark.usefixtures("never_sampled")
class TestLists:
    def test_goods_on_the_negative_list_are_rejected_with_the_version_recorded(
        self,
        customs: Customs,
        client: TestClient,
        admin: Headers,
        inspector: Headers,
        filed: list[dict[str, Any]],
    ) -> None:
        before = customs.accept(golden_import_lines())
        assert customs.answer(before.inventory_id)[0] == "InspectionCleared"
        negative = {
            "entries": [
                {"id": "7-shampoo", "category": 7, "hs_prefix": "3305", "reason": "公告禁止"}
            ]
        }
        assert client.put(f"{API}/negative-list", json=negative, headers=admin).status_code == 200
        event = customs.accept(golden_import_lines())
        kind, payload = customs.answer(event.inventory_id)
        assert kind == "InspectionFailed"
        assert "负面清单第7类: 公告禁止" in payload["reason"]
        decided = screening(client, inspector, event.invt_no)
        assert decided["rule_ids"] == ["negative:7-shampoo"]
        assert decided["list_versions"] == {"negative": 1, "positive": 0, "bans": 0, "sampling": 1}
        assert screening(client, inspector, before.invt_no)["list_versions"]["negative"] == 0
        lifted = client.put(f"{API}/negative-list", json={"entries": []}, headers=admin)
        assert lifted.json()["version"] == 2
        after = customs.accept(golden_import_lines())
        assert customs.answer(after.inventory_id)[0] == "InspectionCleared"
        assert screening(client, inspector, after.invt_no)["list_versions"]["negative"] == 2

    def test_the_default_negative_list_refuses_fireworks_also_on_export(
        self, customs: Customs, importer: Headers, filer: Filer
    ) -> None:
        filer.both(importer, [{"item_no": "FW-1", "hs_code": "3604100000", "name": "烟花"}])
        event = customs.accept([line(1, "3604100000", "烟花", item_no="FW-1")], direction="E")
        kind, payload = customs.answer(event.inventory_id)
        assert kind == "InspectionFailed"
        assert "第3类" in payload["reason"]

    def test_imports_off_the_positive_list_are_rejected_and_exports_are_not(
        self, customs: Customs, importer: Headers, filer: Filer
    ) -> None:
        filer.both(importer, [{"item_no": "TOY-1", "hs_code": "9503000090", "name": "积木"}])
        toy = [line(1, "9503000090", "积木", item_no="TOY-1")]
        kind, payload = customs.answer(customs.accept(toy).inventory_id)
        assert kind == "InspectionFailed"
        assert "不在跨境电商零售进口商品清单内" in payload["reason"]
        assert customs.answer(customs.accept(toy, direction="E").inventory_id)[0] == (
            "InspectionCleared"
        )

    def test_bonded_only_goods_pass_as_bonded_imports_only(
        self,
        customs: Customs,
        client: TestClient,
        admin: Headers,
        filed: list[dict[str, Any]],
    ) -> None:
        positive = {
            "entries": [
                {"hs_code": "3304", "remark": "限网购保税", "bonded_only": True},
                {"hs_code": "3305"},
            ]
        }
        assert client.put(f"{API}/positive-list", json=positive, headers=admin).status_code == 200
        kind, payload = customs.answer(customs.accept(golden_import_lines()).inventory_id)
        assert kind == "InspectionFailed"
        assert "限网购保税" in payload["reason"]
        bonded = customs.accept(golden_import_lines(), trade_mode="1210")
        assert customs.answer(bonded.inventory_id)[0] == "InspectionCleared"

    def test_goods_from_a_banned_origin_are_rejected_while_the_ban_is_in_force(
        self,
        customs: Customs,
        client: TestClient,
        admin: Headers,
        filed: list[dict[str, Any]],
    ) -> None:
        bans = {
            "bans": [
                {
                    "id": "jp-fmd",
                    "country": "116",
                    "reason": "口蹄疫疫区",
                    "valid_from": ACCEPTED_AT.isoformat(),
                    "valid_to": (ACCEPTED_AT + timedelta(days=30)).isoformat(),
                }
            ]
        }
        assert client.put(f"{API}/bans", json=bans, headers=admin).status_code == 200
        during = customs.accept(golden_import_lines())
        kind, payload = customs.answer(during.inventory_id)
        assert kind == "InspectionFailed"
        assert "原产国 116 暂停进口: 口蹄疫疫区" in payload["reason"]
        before = customs.accept(golden_import_lines(), accepted_at=ACCEPTED_AT - timedelta(days=1))
        after = customs.accept(golden_import_lines(), accepted_at=ACCEPTED_AT + timedelta(days=30))
        assert customs.answer(before.inventory_id)[0] == "InspectionCleared"
        assert customs.answer(after.inventory_id)[0] == "InspectionCleared"
        other_origin = [
            line(n, ln.gcode, ln.gname, item_no=ln.item_no, country="502")
            for n, ln in enumerate(golden_import_lines(), start=1)
        ]
        assert customs.answer(customs.accept(other_origin).inventory_id)[0] == "InspectionCleared"


@pytest.mark.usefixtures("filed")
class TestSampling:
    def test_a_selected_list_gets_a_task_and_is_held(
        self, customs: Customs, client: TestClient, admin: Headers, inspector: Headers
    ) -> None:
        set_sampling(client, admin, "1")
        event = customs.accept(golden_import_lines())
        kind, payload = customs.answer(event.inventory_id)
        assert kind == "InspectionHeld"
        tasks = client.get(f"{API}/tasks", headers=inspector).json()
        assert [(t["id"], t["invt_no"], t["status"], t["joint"]) for t in tasks] == [
            (payload["task_id"], event.invt_no, "open", False)
        ]
        decided = screening(client, inspector, event.invt_no)
        assert (decided["outcome"], decided["task_id"]) == ("selected", payload["task_id"])

    def test_a_list_not_selected_is_cleared_with_its_draw_recorded(
        self, customs: Customs, client: TestClient, admin: Headers, inspector: Headers
    ) -> None:
        set_sampling(client, admin, "0")
        event = customs.accept(golden_import_lines())
        assert customs.answer(event.inventory_id)[0] == "InspectionCleared"
        decided = screening(client, inspector, event.invt_no)
        assert decided["outcome"] == "not_selected"
        assert decided["seed"] and Decimal(decided["rate"]) == 0
        assert client.get(f"{API}/tasks", headers=inspector).json() == []

    def test_the_rate_follows_the_credit_class_and_the_draw_replays_from_the_seed(
        self, customs: Customs, client: TestClient, admin: Headers, inspector: Headers
    ) -> None:
        for credit, rate in (
            ("advanced", "0.00570"),
            ("general", "0.02440"),
            ("discredited", "0.84760"),
        ):
            client.patch(
                f"/api/v1/enterprises/{IMPORT_EBC}", json={"credit_class": credit}, headers=admin
            )
            event = customs.accept(golden_import_lines())
            decided = screening(client, inspector, event.invt_no)
            assert (decided["credit_class"], decided["risk_tier"]) == (credit, "medium")
            assert Decimal(decided["rate"]) == Decimal(rate)
            replayed = rules.selected(
                Decimal(decided["rate"]), seed=decided["seed"], key=event.invt_no
            )
            assert decided["outcome"] == ("selected" if replayed else "not_selected")

    def test_the_riskiest_goods_set_the_tier_of_the_list(
        self,
        customs: Customs,
        client: TestClient,
        admin: Headers,
        inspector: Headers,
        importer: Headers,
        filer: Filer,
    ) -> None:
        filer.goods(
            importer,
            [{"item_no": "XG-PF-0003", "hs_code": "3303000000", "name": "香水"}],
            risk_tier="high",
        )
        lines = [*golden_import_lines(), line(3, "3303000000", "香水", item_no="XG-PF-0003")]
        decided = screening(client, inspector, customs.accept(lines).invt_no)
        assert (decided["risk_tier"], Decimal(decided["rate"])) == ("high", Decimal("0.1"))

    def test_exports_are_not_sampled(
        self, customs: Customs, client: TestClient, admin: Headers, inspector: Headers
    ) -> None:
        set_sampling(client, admin, "1")
        event = customs.accept(golden_import_lines(), direction="E")
        assert customs.answer(event.inventory_id)[0] == "InspectionCleared"
        decided = screening(client, inspector, event.invt_no)
        assert (decided["outcome"], decided["seed"], decided["rule_ids"]) == (
            "cleared",
            None,
            ["export"],
        )

    def test_bonded_imports_are_not_inspected_twice(
        self, customs: Customs, client: TestClient, admin: Headers, inspector: Headers
    ) -> None:
        set_sampling(client, admin, "1")
        event = customs.accept(golden_import_lines(), trade_mode="1210")
        assert customs.answer(event.inventory_id)[0] == "InspectionCleared"
        assert screening(client, inspector, event.invt_no)["rule_ids"] == ["bonded"]


@pytest.mark.usefixtures("never_sampled")
class TestQuarantine:
    @pytest.fixture
    def quarantined(self, importer: Headers, filer: Filer) -> list[dict[str, Any]]:
        return filer.both(importer, IMPORT_GOODS, quarantine=True)

    @pytest.mark.usefixtures("quarantined")
    def test_goods_that_need_quarantine_are_always_inspected(self, customs: Customs) -> None:
        for direction in ("I", "E"):
            event = customs.accept(golden_import_lines(), direction=direction)
            assert customs.answer(event.inventory_id)[0] == "InspectionHeld", direction

    @pytest.mark.usefixtures("quarantined")
    def test_bonded_goods_were_quarantined_entering_the_zone(self, customs: Customs) -> None:
        event = customs.accept(golden_import_lines(), trade_mode="1210")
        assert customs.answer(event.inventory_id)[0] == "InspectionCleared"


@pytest.mark.usefixtures("filed", "always_sampled")
class TestCustomsReactions:
    def status_changed(self, customs: Customs, inventory_id: int, to_status: int) -> None:
        with customs.factory.begin() as session:
            outbox.publish(
                session,
                InventoryStatusChanged(
                    inventory_id=inventory_id,
                    invt_no=invt_no_of(inventory_id),
                    direction="I",
                    customs_code="4900",
                    ebc_code=IMPORT_EBC,
                    from_status=120,
                    to_status=to_status,
                    changed_at=ACCEPTED_AT,
                    reason="test",
                ),
            )
        customs.run()

    def tasks(self, client: TestClient, inspector: Headers, status: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = client.get(
            f"{API}/tasks", params={"status": status}, headers=inspector
        ).json()
        return result

    def test_customs_examination_after_selection_makes_the_task_joint(
        self, customs: Customs, client: TestClient, inspector: Headers
    ) -> None:
        event = customs.accept(golden_import_lines())
        self.status_changed(customs, event.inventory_id, 500)
        self.status_changed(customs, event.inventory_id, 500)
        assert [t["joint"] for t in self.tasks(client, inspector, "open")] == [True]

    def test_customs_examination_before_selection_opens_a_joint_task(
        self, customs: Customs, client: TestClient, inspector: Headers
    ) -> None:
        self.status_changed(customs, 424242, 500)
        customs.accept(golden_import_lines(), inventory_id=424242)
        assert [t["joint"] for t in self.tasks(client, inspector, "open")] == [True]

    def test_a_list_customs_rejected_closes_its_task(
        self, customs: Customs, client: TestClient, inspector: Headers
    ) -> None:
        event = customs.accept(golden_import_lines())
        self.status_changed(customs, event.inventory_id, 100)
        assert self.tasks(client, inspector, "open") == []
        closed = self.tasks(client, inspector, "closed")
        assert [t["result_reason"] for t in closed] == ["customs ended the list (100)"]

    def test_a_redelivered_acceptance_is_screened_once(
        self, customs: Customs, client: TestClient, inspector: Headers
    ) -> None:
        event = customs.accept(golden_import_lines())
        with customs.factory.begin() as session:
            handlers.on_inventory_accepted(session, event)
        assert len(customs.answers(event.inventory_id)) == 1
        assert len(self.tasks(client, inspector, "open")) == 1
