"""At risk, breached, and the alerts raised once per list and kind by the periodic scan."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import SlaSettings
from app.outbox import OutboxMessage
from app.sla import service
from app.sla.models import Alert
from tests.sla.conftest import T0, H, Headers, Lists
from tests.support.alerts import sla_alert

SECOND = timedelta(seconds=1)


def listed(client: TestClient, headers: Headers, state: str) -> list[tuple[int, int]]:
    response = client.get(f"/api/v1/sla/inventories?state={state}", headers=headers)
    assert response.status_code == 200, response.text
    return [(row["inventory_id"], row["remaining_s"]) for row in response.json()]


def published(factory: sessionmaker[Session], event_type: str) -> int:
    with factory() as session:
        return (
            session.scalar(select(func.count()).where(OutboxMessage.event_type == event_type)) or 0
        )


class TestBreach:
    def test_a_list_breaches_the_instant_after_its_24_hours(
        self,
        client: TestClient,
        officer: Headers,
        lists: Lists,
        at: Callable[[datetime], None],
    ) -> None:
        lists.started(1, T0)
        at(T0 + 24 * H)
        assert listed(client, officer, "breached") == []
        assert listed(client, officer, "at_risk") == [(1, 0)], "the last in-time instant"
        at(T0 + 24 * H + SECOND)
        assert listed(client, officer, "breached") == [(1, -1)]
        assert listed(client, officer, "at_risk") == []
        assert lists.scan(T0 + 24 * H) == (1, 0)
        assert lists.scan(T0 + 24 * H + SECOND) == (0, 1)

    def test_release_at_the_deadline_is_in_time_and_a_second_later_late(
        self,
        client: TestClient,
        officer: Headers,
        lists: Lists,
        at: Callable[[datetime], None],
    ) -> None:
        lists.started(1, T0)
        lists.started(2, T0)
        lists.release(1, T0 + 24 * H)
        lists.release(2, T0 + 24 * H + SECOND)
        at(T0 + 25 * H)
        day = client.get("/api/v1/sla/overview", headers=officer).json()["last_24h"]
        assert (day["released_in_time"], day["released_late"]) == (1, 1)


class TestAtRisk:
    def test_a_list_is_at_risk_with_less_than_the_margin_left(
        self,
        client: TestClient,
        officer: Headers,
        lists: Lists,
        at: Callable[[datetime], None],
    ) -> None:
        lists.started(1, T0)
        at(T0 + 20 * H)
        assert listed(client, officer, "at_risk") == []
        assert listed(client, officer, "running") == [(1, 4 * 3600)]
        at(T0 + 20 * H + SECOND)
        assert listed(client, officer, "at_risk") == [(1, 4 * 3600 - 1)]
        assert listed(client, officer, "running") == [(1, 4 * 3600 - 1)]

    def test_the_margin_is_configurable(self, session_factory: sessionmaker[Session]) -> None:
        lists = Lists(session_factory, SlaSettings(at_risk_margin_hours=1))
        lists.started(1, T0)
        assert lists.scan(T0 + 20 * H + SECOND) == (0, 0)
        assert lists.scan(T0 + 23 * H + SECOND) == (1, 0)


class TestAlerts:
    def test_each_list_alerts_at_most_once_per_kind(
        self,
        client: TestClient,
        officer: Headers,
        lists: Lists,
        session_factory: sessionmaker[Session],
    ) -> None:
        lists.started(1, T0)
        lists.started(2, T0 + H)
        assert lists.scan(T0 + 21 * H) == (1, 0)
        assert lists.scan(T0 + 21 * H) == (0, 0)
        assert lists.scan(T0 + 22 * H) == (1, 0)
        assert lists.scan(T0 + 24 * H + SECOND) == (0, 1)
        assert lists.scan(T0 + 30 * H) == (0, 1)
        assert lists.scan(T0 + 31 * H) == (0, 0)
        alerts = client.get("/api/v1/sla/alerts", headers=officer).json()
        assert [(a["inventory_id"], a["kind"]) for a in alerts] == [
            (1, "at_risk"),
            (2, "at_risk"),
            (1, "breached"),
            (2, "breached"),
        ]
        assert alerts[0]["deadline"] == "2026-11-02T03:00:00Z"
        assert alerts[0]["raised_at"] == "2026-11-02T00:00:00Z"
        assert published(session_factory, "SlaAtRisk") == 2
        assert published(session_factory, "SlaBreached") == 2

    def test_a_list_already_breached_when_scanned_alerts_only_as_breached(
        self, client: TestClient, officer: Headers, lists: Lists
    ) -> None:
        lists.started(1, T0)
        assert lists.scan(T0 + 30 * H) == (0, 1)
        assert lists.scan(T0 + 31 * H) == (0, 0)
        kinds = [a["kind"] for a in client.get("/api/v1/sla/alerts", headers=officer).json()]
        assert kinds == ["breached"]

    def test_stopped_and_waiting_lists_never_alert(self, lists: Lists) -> None:
        lists.started(1, T0)
        lists.release(1, T0 + H)
        lists.started(2, T0)
        lists.change(2, 120, 100, T0 + H)
        lists.accept(3, T0)  # an export whose goods never arrived
        assert lists.scan(T0 + 30 * H) == (0, 0)

    def test_alerts_are_read_within_the_officers_customs_codes(
        self,
        client: TestClient,
        officer: Headers,
        admin: Headers,
        register: Callable[..., Headers],
        principal: Callable[..., Headers],
        lists: Lists,
    ) -> None:
        lists.started(1, T0)
        lists.started(2, T0, customs_code="4901")
        lists.started(3, T0 + H)
        lists.scan(T0 + 30 * H)
        mine = client.get("/api/v1/sla/alerts", headers=officer).json()
        assert [a["inventory_id"] for a in mine] == [1, 3]
        page = client.get(f"/api/v1/sla/alerts?after={mine[0]['position']}", headers=officer).json()
        assert [a["inventory_id"] for a in page] == [3]
        everyone = client.get("/api/v1/sla/alerts", headers=admin).json()
        assert sorted(a["customs_code"] for a in everyone) == ["4900", "4900", "4901"]
        other = client.get("/api/v1/sla/alerts?customsCode=4901", headers=officer)
        assert other.status_code == 403, other.text
        inspector = principal("officer", agency="inspection", customs_codes=["4900"])
        enterprise = register("4301990003", "agent")
        for headers in (inspector, enterprise):
            for path in ("alerts", "overview", "inventories?state=breached"):
                response = client.get(f"/api/v1/sla/{path}", headers=headers)
                assert response.status_code == 403, (path, response.text)

    @pytest.mark.postgres_only
    def test_an_alert_that_commits_after_a_later_one_is_still_read(
        self, client: TestClient, officer: Headers, session_factory: sessionmaker[Session]
    ) -> None:
        with session_factory() as slow:
            late = sla_alert(slow, 1, deadline=T0 + 24 * H)
            with session_factory.begin() as fast:
                early = sla_alert(fast, 2, deadline=T0 + 24 * H)
            assert late < early, "the slow scan took the lower id"

            seen = client.get("/api/v1/sla/alerts", headers=officer).json()
            assert [a["id"] for a in seen] == [early]
            slow.commit()

        cursor = seen[-1]["position"]
        later = client.get(f"/api/v1/sla/alerts?after={cursor}", headers=officer).json()
        assert [a["id"] for a in later] == [late], "paged by id, the late alert is lost"
        cursor = later[-1]["position"]
        assert client.get(f"/api/v1/sla/alerts?after={cursor}", headers=officer).json() == []

    @pytest.mark.postgres_only
    def test_concurrent_scans_raise_each_alert_once(
        self, session_factory: sessionmaker[Session], policy: SlaSettings, lists: Lists
    ) -> None:
        lists.started(1, T0)
        lists.started(2, T0)
        first = session_factory()
        first.begin()
        assert service.scan(first, now=T0 + 30 * H, policy=policy).breached == 2
        assert lists.scan(T0 + 30 * H) == (0, 0), "the rows the first scan holds are skipped"
        first.commit()
        first.close()
        assert lists.scan(T0 + 30 * H) == (0, 0)
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Alert)) == 2


class TestMetrics:
    def test_the_scan_sets_the_gauges_per_customs_code(
        self, client: TestClient, lists: Lists
    ) -> None:
        lists.started(1, T0, customs_code="4977")
        lists.started(2, T0 + 10 * H, customs_code="4977")
        lists.started(3, T0 - 4 * H, customs_code="4977")
        lists.scan(T0 + 21 * H)
        text = client.get("/metrics").text
        for state, value in (("running", 3), ("at_risk", 1), ("breached", 1)):
            assert f'sw_sla_lists{{customs_code="4977",state="{state}"}} {value}.0' in text

    def test_each_release_is_observed_in_the_clearance_histogram(self, lists: Lists) -> None:
        def sample(name: str, **labels: str) -> float:
            return REGISTRY.get_sample_value(name, {"customs_code": "4978", **labels}) or 0.0

        count = sample("sw_sla_clearance_seconds_count")
        within_2h = sample("sw_sla_clearance_seconds_bucket", le="7200.0")
        within_1h = sample("sw_sla_clearance_seconds_bucket", le="3600.0")
        lists.started(1, T0, customs_code="4978")
        lists.release(1, T0 + 90 * timedelta(minutes=1), customs_code="4978")
        assert sample("sw_sla_clearance_seconds_count") == count + 1
        assert sample("sw_sla_clearance_seconds_bucket", le="7200.0") == within_2h + 1
        assert sample("sw_sla_clearance_seconds_bucket", le="3600.0") == within_1h
