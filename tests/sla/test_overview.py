"""The officers' 24 h picture: open clocks now, and clearance statistics of a fixed history."""

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient

from tests.sla.conftest import T0, H, Headers, Lists

NOW = T0 + 240 * H


def history(lists: Lists) -> None:
    """Bonded lists (the clock runs from acceptance) released ``hours`` after it."""
    ids = iter(range(1, 100))

    def released(hours: int, *, ago: int, waited: int = 0, customs_code: str = "4900") -> None:
        inventory_id = next(ids)
        stop = NOW - ago * H
        lists.started(inventory_id, stop - hours * H, customs_code=customs_code)
        if waited:
            lists.change(inventory_id, 120, 300, stop - hours * H, customs_code=customs_code)
            lists.change(
                inventory_id, 300, 399, stop - (hours - waited) * H, customs_code=customs_code
            )
        lists.release(inventory_id, stop, customs_code=customs_code)

    for hours in range(1, 20):
        released(hours, ago=1)
    released(30, ago=2, waited=10)  # late, a third of it waiting on the enterprise
    for hours in (40, 50, 60):
        released(hours, ago=72)
    released(5, ago=9 * 24)  # outside the week
    released(2, ago=1, customs_code="4901")  # another district
    for _ in range(2):
        rejected = next(ids)
        lists.started(rejected, NOW - 5 * H)
        lists.change(rejected, 120, 100, NOW - 3 * H)
    lists.started(next(ids), NOW - 2 * H)  # 22 h left
    lists.started(next(ids), NOW - 21 * H)  # 3 h left: at risk
    lists.started(next(ids), NOW - 25 * H)  # breached
    lists.accept(next(ids), NOW - 3 * H)  # an export whose goods have not arrived
    lists.change(next(ids), 120, 300, NOW - H)  # its acceptance not seen yet: not waiting


def test_statistics_on_a_fixed_history(
    client: TestClient, officer: Headers, lists: Lists, at: Callable[[datetime], None]
) -> None:
    history(lists)
    at(NOW)
    response = client.get("/api/v1/sla/overview", headers=officer)
    assert response.status_code == 200, response.text
    overview = response.json()
    assert overview["customs_codes"] == ["4900"]
    assert {k: overview[k] for k in ("waiting_for_arrival", "running", "at_risk", "breached")} == {
        "waiting_for_arrival": 1,
        "running": 3,
        "at_risk": 1,
        "breached": 1,
    }
    day, week = overview["last_24h"], overview["last_7d"]
    # Nearest rank over 1..19 h and 30 h: the 10th and 19th of 20 values.
    assert (day["released_in_time"], day["released_late"], day["ended_without_release"]) == (
        19,
        1,
        2,
    )
    assert day["clearance"] == {"p50_s": 10 * 3600, "p95_s": 19 * 3600, "max_s": 30 * 3600}
    assert day["enterprise_wait"] == {"p50_s": 0, "p95_s": 0, "max_s": 10 * 3600}
    # 23 values: 1..19, 30, 40, 50, 60 h; ranks 12 and 22.
    assert (week["released_in_time"], week["released_late"]) == (19, 4)
    assert week["clearance"] == {"p50_s": 12 * 3600, "p95_s": 50 * 3600, "max_s": 60 * 3600}
    assert week["since"] == "2026-11-04T03:00:00Z"


def test_an_empty_district_has_no_percentiles(client: TestClient, officer: Headers) -> None:
    overview = client.get("/api/v1/sla/overview?customsCode=4900", headers=officer).json()
    assert overview["running"] == 0
    assert overview["last_24h"]["clearance"] == {"p50_s": None, "p95_s": None, "max_s": None}


def test_the_overview_covers_only_the_officers_customs_codes(
    client: TestClient,
    officer: Headers,
    admin: Headers,
    lists: Lists,
    at: Callable[[datetime], None],
) -> None:
    lists.started(1, T0)
    lists.started(2, T0, customs_code="4901")
    at(T0 + H)
    assert client.get("/api/v1/sla/overview", headers=officer).json()["running"] == 1
    outside = client.get("/api/v1/sla/overview?customsCode=4901", headers=officer)
    assert outside.status_code == 403
    assert client.get("/api/v1/sla/overview", headers=admin).json()["running"] == 2
    # Both deadlines are equal, so their order is not part of the contract.
    assert sorted(
        row["inventory_id"]
        for row in client.get("/api/v1/sla/inventories?state=running", headers=admin).json()
    ) == [1, 2]
    district = client.get("/api/v1/sla/overview?customsCode=4901", headers=admin).json()
    assert (district["customs_codes"], district["running"]) == (["4901"], 1)
