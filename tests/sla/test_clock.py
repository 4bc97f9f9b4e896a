"""When a list's 24-hour clock starts, restarts and stops; what it records beside the total."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.config import SlaSettings
from app.sla import service
from app.sla.events import SlaClockStarted
from tests.sla.conftest import T0, H, Lists


def clock_started_events(factory: sessionmaker[Session], inventory_id: int) -> list[datetime]:
    """The deadlines announced for a list, in order."""
    with factory() as session:
        events = [
            SlaClockStarted.model_validate(payload)
            for payload in session.scalars(
                select(outbox.OutboxMessage.payload)
                .where(outbox.OutboxMessage.event_type == "SlaClockStarted")
                .order_by(outbox.OutboxMessage.id)
            )
        ]
    return [event.deadline for event in events if event.inventory_id == inventory_id]


class TestExportStartsWhenAcceptedAndArrived:
    def test_arrival_after_acceptance_starts_the_clock_at_the_arrival(self, lists: Lists) -> None:
        lists.accept(1, T0)
        waiting = lists.clock(1)
        assert waiting is not None
        assert (waiting.state, waiting.started_at, waiting.deadline) == ("pending", None, None)
        assert lists.arrive(T0 + 2 * H, "WB1") == 1
        running = lists.clock(1)
        assert running is not None
        assert running.state == "running"
        assert running.started_at == T0 + 2 * H
        assert running.deadline == T0 + 26 * H

    def test_arrival_before_acceptance_starts_the_clock_at_the_acceptance(
        self, lists: Lists
    ) -> None:
        assert lists.arrive(T0, "WB1") == 0, "no list on the waybill yet"
        lists.accept(1, T0 + H)
        running = lists.clock(1)
        assert running is not None
        assert (running.arrived_at, running.started_at) == (T0, T0 + H)
        assert running.deadline == T0 + 25 * H

    def test_an_arrival_of_other_waybills_does_not_start_it(self, lists: Lists) -> None:
        lists.accept(1, T0)
        assert lists.arrive(T0 + H, "WB2", "WB3") == 0
        assert lists.clock(1).state == "pending"  # type: ignore[union-attr]

    def test_only_the_first_arrival_counts(self, lists: Lists) -> None:
        lists.accept(1, T0)
        lists.arrive(T0 + H, "WB1")
        assert lists.arrive(T0 + 5 * H, "WB1") == 0
        assert lists.clock(1).started_at == T0 + H  # type: ignore[union-attr]

    def test_the_start_is_announced_with_its_deadline(
        self, lists: Lists, session_factory: sessionmaker[Session]
    ) -> None:
        lists.accept(1, T0)
        assert clock_started_events(session_factory, 1) == []
        lists.arrive(T0 + H, "WB1")
        assert clock_started_events(session_factory, 1) == [T0 + 25 * H]


class TestBondedImportStartsAtAcceptance:
    @pytest.mark.parametrize("arrival", [-3 * H, 3 * H], ids=["arrived-before", "arrived-after"])
    def test_the_goods_are_in_the_zone_already(self, lists: Lists, arrival: timedelta) -> None:
        if arrival < timedelta(0):
            lists.arrive(T0 + arrival, "WB1")
        lists.accept(1, T0, direction="I", trade_mode="1210")
        if arrival > timedelta(0):
            assert lists.arrive(T0 + arrival, "WB1") == 0
        running = lists.clock(1)
        assert running is not None
        assert (running.state, running.started_at) == ("running", T0)


class TestDirectImport:
    def test_acceptance_starts_it_when_no_arrival_is_recorded(self, lists: Lists) -> None:
        lists.accept(1, T0, direction="I")
        assert lists.clock(1).started_at == T0  # type: ignore[union-attr]

    def test_an_earlier_arrival_leaves_the_start_at_acceptance(self, lists: Lists) -> None:
        lists.arrive(T0 - H, "WB1")
        lists.accept(1, T0, direction="I")
        assert lists.clock(1).started_at == T0  # type: ignore[union-attr]

    def test_a_later_arrival_restarts_it_and_moves_the_deadline(
        self, lists: Lists, session_factory: sessionmaker[Session]
    ) -> None:
        lists.accept(1, T0, direction="I")
        lists.change(1, 120, 300, T0, direction="I")
        lists.change(1, 300, 399, T0 + H, direction="I")
        assert lists.arrive(T0 + 6 * H, "WB1") == 1
        restarted = lists.clock(1)
        assert restarted is not None
        assert (restarted.started_at, restarted.deadline) == (T0 + 6 * H, T0 + 30 * H)
        assert restarted.enterprise_wait_s == 0, "the review lay before the new start"
        assert clock_started_events(session_factory, 1) == [T0 + 24 * H, T0 + 30 * H]

    def test_an_arrival_after_release_changes_nothing(self, lists: Lists) -> None:
        lists.accept(1, T0, direction="I")
        lists.release(1, T0 + H, direction="I")
        assert lists.arrive(T0 + 2 * H, "WB1") == 0
        released = lists.clock(1)
        assert released is not None
        assert (released.started_at, released.clearance_s) == (T0, 3600)


def test_the_allowance_can_differ_per_customs_code(session_factory: sessionmaker[Session]) -> None:
    lists = Lists(session_factory, SlaSettings(hours_by_customs_code={"4901": 12}))
    lists.started(1, T0, customs_code="4901")
    lists.started(2, T0, customs_code="4900")
    assert lists.clock(1).deadline == T0 + 12 * H  # type: ignore[union-attr]
    assert lists.clock(2).deadline == T0 + 24 * H  # type: ignore[union-attr]


class TestStop:
    def test_release_stops_the_clock_with_its_clearance_time(self, lists: Lists) -> None:
        lists.started(1, T0)
        lists.change(1, 120, 399, T0 + H)
        lists.release(1, T0 + 2 * H + timedelta(seconds=5))
        stopped = lists.clock(1)
        assert stopped is not None
        assert (stopped.state, stopped.end_status) == ("released", 800)
        assert stopped.stopped_at == T0 + 2 * H + timedelta(seconds=5)
        assert stopped.clearance_s == 7205
        lists.change(1, 800, 899, T0 + 30 * H)
        assert lists.clock(1).state == "released", "closure after release changes nothing"  # type: ignore[union-attr]

    @pytest.mark.parametrize("status", [100, 700, 1001], ids=["rejected", "returned", "cancelled"])
    def test_rejection_return_or_cancel_end_it_without_release(
        self, lists: Lists, status: int
    ) -> None:
        lists.started(1, T0)
        lists.change(1, 120, 300, T0 + H)
        lists.change(1, 300, status, T0 + 2 * H)
        ended = lists.clock(1)
        assert ended is not None
        assert (ended.state, ended.end_status, ended.stopped_at) == ("ended", status, T0 + 2 * H)
        assert ended.clearance_s is None
        assert ended.enterprise_wait_s == 3600

    def test_an_export_ended_before_its_goods_arrived_never_starts(self, lists: Lists) -> None:
        lists.accept(1, T0)
        lists.change(1, 120, 1001, T0 + H)
        assert lists.arrive(T0 + 2 * H, "WB1") == 0
        ended = lists.clock(1)
        assert ended is not None
        assert (ended.state, ended.started_at) == ("ended", None)

    def test_a_cancel_that_overtakes_the_acceptance_still_ends_the_clock(
        self, lists: Lists
    ) -> None:
        # Two relays can run a list's events out of order.
        lists.change(1, 120, 1001, T0 + H, direction="I")
        lists.accept(1, T0, direction="I", trade_mode="1210")
        ended = lists.clock(1)
        assert ended is not None
        assert (ended.state, ended.accepted_at, ended.started_at) == ("ended", T0, None)
        assert ended.trade_mode == "1210"

    def test_lists_never_accepted_have_no_clock(self, lists: Lists) -> None:
        lists.change(1, 2, 100, T0)
        assert lists.clock(1) is None

    def test_released_before_its_goods_arrived_took_no_time_at_the_site(self, lists: Lists) -> None:
        lists.accept(1, T0)
        lists.release(1, T0 + H)
        released = lists.clock(1)
        assert released is not None
        assert (released.state, released.started_at, released.clearance_s) == ("released", None, 0)


class TestWaitingOnTheEnterprise:
    def test_review_time_is_recorded_beside_the_total_not_subtracted(self, lists: Lists) -> None:
        lists.started(1, T0)
        lists.change(1, 120, 300, T0 + H)
        lists.change(1, 300, 399, T0 + 4 * H)
        lists.release(1, T0 + 5 * H)
        released = lists.clock(1)
        assert released is not None
        assert released.clearance_s == 5 * 3600
        assert released.enterprise_wait_s == 3 * 3600

    def test_only_review_time_while_the_clock_runs_counts(self, lists: Lists) -> None:
        lists.accept(1, T0)
        lists.change(1, 120, 300, T0)
        lists.arrive(T0 + 2 * H, "WB1")
        lists.change(1, 300, 399, T0 + 3 * H)
        assert lists.clock(1).enterprise_wait_s == 3600  # type: ignore[union-attr]


@pytest.mark.postgres_only
def test_an_arrival_racing_the_acceptance_of_its_list_still_starts_the_clock(
    session_factory: sessionmaker[Session], policy: SlaSettings
) -> None:
    """Each relay's transaction reads what the other writes: the waybill lock orders them."""
    lists = Lists(session_factory, policy)
    accepting = session_factory()
    accepting.begin()
    service.accept(
        accepting,
        inventory_id=1,
        invt_no="49002026E000000001",
        direction="E",
        customs_code="4900",
        trade_mode="9610",
        logistics_code="4301990004",
        logistics_no="WB1",
        accepted_at=T0,
        policy=policy,
    )
    arriving = threading.Thread(target=lists.arrive, args=(T0 + H, "WB1"))
    arriving.start()
    with session_factory() as probe:
        deadline = time.monotonic() + 10
        while not probe.scalar(
            text(
                "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = database"
                " WHERE locktype = 'advisory' AND NOT granted AND d.datname = current_database()"
            )
        ):
            assert time.monotonic() < deadline, "the arrival never waited for the acceptance"
            probe.rollback()
    accepting.commit()
    accepting.close()
    arriving.join(timeout=10)
    running = lists.clock(1)
    assert running is not None
    assert (running.state, running.started_at) == ("running", T0 + H)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(service.Arrival)) == 1
