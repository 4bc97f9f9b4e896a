"""三个一 through the real API: one declaration, one inspection, one release by both agencies."""

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.registry.models import StandingEvent
from tests.inspection.conftest import (
    EXPORT_EBC,
    EXPORT_GOODS,
    ExportStory,
    Filer,
    Headers,
)

API = "/api/v1/inspection"
RED = {
    "targeting": [
        {
            "id": "t-red",
            "when": [{"field": "ebc_code", "op": "eq", "value": EXPORT_EBC}],
            "lane": "RED",
            "reason": "布控查验",
        }
    ]
}


@pytest.fixture
def goods(story: ExportStory, filer: Filer) -> list[dict[str, Any]]:
    """The export story's goods, filed and approved without quarantine."""
    return filer.both(story.parties[EXPORT_EBC], EXPORT_GOODS)


@pytest.fixture
def quarantined(story: ExportStory, filer: Filer) -> list[dict[str, Any]]:
    """The export story's goods, flagged by the officer as needing quarantine inspection."""
    return filer.both(story.parties[EXPORT_EBC], EXPORT_GOODS, quarantine=True)


@pytest.fixture
def red(client: TestClient, admin: Headers) -> None:
    assert client.put("/api/v1/customs/rules", json=RED, headers=admin).status_code == 200


def open_task(client: TestClient, inspector: Headers, invt_no: str) -> dict[str, Any]:
    tasks = [
        t for t in client.get(f"{API}/tasks", headers=inspector).json() if t["invt_no"] == invt_no
    ]
    assert len(tasks) == 1, tasks
    task: dict[str, Any] = tasks[0]
    return task


def result(client: TestClient, headers: Headers, task_id: str, **body: str) -> httpx.Response:
    return client.post(f"{API}/tasks/{task_id}/result", json=body, headers=headers)


def customs_decides(
    client: TestClient, officer: Headers, invt_no: str, action: str = "release"
) -> httpx.Response:
    return client.post(
        f"/api/v1/customs/inventories/{invt_no}/decisions",
        json={"action": action, "reason": "查验无误"},
        headers=officer,
    )


def sources(story: ExportStory, invt_no: str, officer: Headers) -> list[str]:
    return [entry["source"] for entry in story.get(invt_no, officer)["timeline"]]


@pytest.mark.usefixtures("quarantined")
def test_customs_first_then_inspection_releases(
    story: ExportStory,
    client: TestClient,
    inspector: Headers,
    customs_officer: Headers,
    run_outbox: Callable[[], int],
) -> None:
    invt_no = story.declare("C1")
    run_outbox()
    waiting = story.get(invt_no, customs_officer)
    assert (waiting["status"], waiting["lane"], waiting["inspection_state"]) == (
        399,
        "GREEN",
        "held",
    ), "customs concluded; inspection holds the list for its task"
    task = open_task(client, inspector, invt_no)
    assert task["joint"] is False
    passed = result(client, inspector, task["id"], outcome="pass", reason="检疫合格")
    assert passed.status_code == 200, passed.text
    assert passed.json()["status"] == "passed"
    run_outbox()
    assert story.get(invt_no)["status"] == 800
    assert story.list_receipts() == ["120", "399", "800"]
    assert {"customs:lane", "inspection:held", "inspection:cleared"} <= set(
        sources(story, invt_no, customs_officer)
    )


@pytest.mark.usefixtures("goods", "red")
def test_inspection_first_then_customs_releases(
    story: ExportStory,
    client: TestClient,
    customs_officer: Headers,
    inspector: Headers,
    run_outbox: Callable[[], int],
) -> None:
    invt_no = story.declare("I1")
    run_outbox()
    examined = story.get(invt_no, customs_officer)
    assert (examined["status"], examined["inspection_state"]) == (500, "cleared")
    assert client.get(f"{API}/tasks", headers=inspector).json() == [], (
        "customs examines alone: inspection cleared the export"
    )
    released = customs_decides(client, customs_officer, invt_no)
    assert released.status_code == 201, released.text
    assert released.json()["status"] == 800
    timeline = sources(story, invt_no, customs_officer)
    assert timeline.index("inspection:cleared") < timeline.index("customs:release")


@pytest.mark.usefixtures("quarantined", "red")
class TestJointInspection:
    def test_one_task_for_both_agencies_inspection_then_customs(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        customs_officer: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("J1")
        run_outbox()
        assert story.get(invt_no)["status"] == 500
        task = open_task(client, inspector, invt_no)
        assert task["joint"] is True
        assert (
            result(client, inspector, task["id"], outcome="pass", reason="检疫合格").status_code
            == 200
        )
        run_outbox()
        assert story.get(invt_no)["status"] == 500, "customs has not finished its examination"
        assert customs_decides(client, customs_officer, invt_no).json()["status"] == 800

    def test_one_task_for_both_agencies_customs_then_inspection(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        customs_officer: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("J2")
        run_outbox()
        decided = customs_decides(client, customs_officer, invt_no)
        assert decided.json()["status"] == 399, "concluded by customs, held by inspection"
        run_outbox()
        task = open_task(client, inspector, invt_no)
        assert (
            result(client, inspector, task["id"], outcome="pass", reason="检疫合格").status_code
            == 200
        )
        run_outbox()
        assert story.get(invt_no)["status"] == 800
        assert story.list_receipts() == ["120", "500", "399", "800"]


@pytest.mark.usefixtures("quarantined")
class TestFailedInspection:
    def test_a_fail_with_return_sends_the_goods_back_and_lowers_the_standing(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        run_outbox: Callable[[], int],
        session_factory: sessionmaker[Session],
    ) -> None:
        invt_no = story.declare("F1")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        failed = result(
            client, inspector, task["id"], outcome="fail", disposal="return", reason="检出有害生物"
        )
        assert failed.status_code == 200, failed.text
        assert (failed.json()["status"], failed.json()["disposal"]) == ("failed", "return")
        run_outbox()
        returned = story.get(invt_no)
        assert returned["status"] == 700
        assert "检验检疫: 检出有害生物" in [e["info"] for e in returned["timeline"]]
        with session_factory() as session:
            standing = session.scalars(select(StandingEvent)).all()
        assert [(s.enterprise_code, s.kind, s.points, s.subject) for s in standing] == [
            (EXPORT_EBC, "inspection_failed", -2, invt_no)
        ]

    def test_a_fail_with_destroy_refuses_the_list(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("F2")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        result(
            client, inspector, task["id"], outcome="fail", disposal="destroy", reason="检出禁用物质"
        )
        run_outbox()
        assert story.get(invt_no)["status"] == 100

    def test_a_result_is_recorded_once(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("F3")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        assert (
            result(client, inspector, task["id"], outcome="pass", reason="检疫合格").status_code
            == 200
        )
        again = result(
            client, inspector, task["id"], outcome="fail", disposal="destroy", reason="改判"
        )
        assert again.status_code == 409
        assert again.json()["error"] == "TaskClosed"

    def test_a_fail_needs_a_disposal(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("F4")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        response = result(client, inspector, task["id"], outcome="fail", reason="不合格")
        assert response.status_code == 422


def test_goods_not_filed_get_the_list_rejected_with_the_reason(
    story: ExportStory, run_outbox: Callable[[], int]
) -> None:
    invt_no = story.declare("U1")
    run_outbox()
    rejected = story.get(invt_no)
    assert rejected["status"] == 100
    infos = [e["info"] for e in rejected["timeline"] if e["status"] == 100]
    assert any("6911101900" in info and "商品未备案" in info for info in infos), infos


def test_a_list_refused_for_unfiled_goods_passes_once_filed_and_declared_again(
    story: ExportStory,
    filer: Filer,
    client: TestClient,
    inspector: Headers,
    run_outbox: Callable[[], int],
) -> None:
    first = story.declare("U2")
    run_outbox()
    assert story.get(first)["status"] == 100
    filer.both(story.parties[EXPORT_EBC], EXPORT_GOODS)
    story.post(603, "U2", appType="2", appTime="20261101120000")
    second = story.accepted("U2")
    assert second != first
    run_outbox()
    assert story.get(second)["status"] == 800
    assert screening_outcome(client, inspector, first) == "rejected"
    assert screening_outcome(client, inspector, second) == "cleared"


def screening_outcome(client: TestClient, inspector: Headers, invt_no: str) -> str:
    outcome: str = client.get(f"{API}/screenings/{invt_no}", headers=inspector).json()["outcome"]
    return outcome


@pytest.mark.usefixtures("quarantined", "red")
class TestAgencies:
    def test_a_customs_officer_cannot_record_an_inspection_result(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        customs_officer: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("A1")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        refused = result(client, customs_officer, task["id"], outcome="pass", reason="越权")
        assert refused.status_code == 403
        assert client.get(f"{API}/tasks", headers=customs_officer).status_code == 403
        assert open_task(client, inspector, invt_no)["status"] == "open"

    def test_an_inspection_officer_cannot_post_a_customs_decision(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("A2")
        run_outbox()
        assert customs_decides(client, inspector, invt_no).status_code == 403
        assert story.get(invt_no)["status"] == 500

    def test_an_inspection_officer_of_another_district_cannot_record_a_result(
        self,
        story: ExportStory,
        client: TestClient,
        inspector: Headers,
        principal: Callable[..., Headers],
        run_outbox: Callable[[], int],
    ) -> None:
        invt_no = story.declare("A3")
        run_outbox()
        task = open_task(client, inspector, invt_no)
        elsewhere = principal("officer", agency="inspection", customs_codes=["5100"])
        assert (
            result(client, elsewhere, task["id"], outcome="pass", reason="越界").status_code == 403
        )
        assert client.get(f"{API}/tasks/{task['id']}", headers=elsewhere).status_code == 404


@pytest.mark.postgres_only
@pytest.mark.usefixtures("quarantined")
def test_racing_results_on_one_task_record_one(
    story: ExportStory,
    client: TestClient,
    inspector: Headers,
    run_outbox: Callable[[], int],
) -> None:
    invt_no = story.declare("R1")
    run_outbox()
    task = open_task(client, inspector, invt_no)
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def record(outcome: dict[str, str]) -> None:
        barrier.wait(timeout=10)
        codes.append(result(client, inspector, task["id"], **outcome).status_code)

    outcomes = [
        {"outcome": "pass", "reason": "合格"},
        {"outcome": "fail", "disposal": "destroy", "reason": "不合格"},
    ] * 2
    threads = [threading.Thread(target=record, args=(o,)) for o in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409, 409, 409]
    run_outbox()
    assert story.get(invt_no)["status"] in (100, 800)
