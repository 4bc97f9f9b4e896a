"""One live summary per list (also under a race), the monthly draft and the deadlines."""

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app import cli, clock
from app.config import get_settings
from app.customs import summaries
from app.customs.effects import Refusal
from app.customs.models import Summary, SummaryMember
from app.receipts.models import Receipt
from tests.summaries.factories import AGENT, EBC, NOVEMBER_10, head_701, invt
from tests.summaries.messages import send, summary_apply

Factory = sessionmaker[Session]
Headers = dict[str, str]
NOVEMBER_1 = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 01:00 on the 1st in China


def names(*invt_nos: str) -> list[dict[str, str]]:
    return [{"invtNo": n} for n in invt_nos]


def test_the_database_keeps_a_list_in_one_live_summary(
    session_factory: Factory, month: dict[str, int]
) -> None:
    with session_factory.begin() as session:
        summaries.apply_summary(session, head=head_701(), lines=names(invt(1)), at=NOVEMBER_10)
        other = head_701(copNo="SUM-0002")
        summaries.apply_summary(session, head=other, lines=names(invt(2)), at=NOVEMBER_10)
    with session_factory() as session:
        second = session.scalars(select(Summary.id).where(Summary.cop_no == "SUM-0002")).one()

    def member(live: bool) -> SummaryMember:
        return SummaryMember(
            summary_id=second, inventory_id=month[invt(1)], declaration_seq=1, live=live
        )

    with pytest.raises(IntegrityError), session_factory.begin() as session:
        session.add(member(live=True))
    with session_factory.begin() as session:
        session.add(member(live=False))


@pytest.mark.postgres_only
def test_two_701s_racing_for_a_list_on_postgresql(
    session_factory: Factory, month: dict[str, int]
) -> None:
    first = session_factory()
    first.begin()
    won = summaries.apply_summary(
        first, head=head_701(copNo="SUM-A"), lines=names(invt(1), invt(2)), at=NOVEMBER_10
    )
    outcome: dict[str, object] = {}

    def second() -> None:
        # Its checks cannot see the first claim yet; its own claim waits on the unique index.
        with session_factory.begin() as session:
            try:
                outcome["result"] = summaries.apply_summary(
                    session,
                    head=head_701(copNo="SUM-B"),
                    lines=names(invt(2), invt(3)),
                    at=NOVEMBER_10,
                )
            except Refusal as refusal:
                outcome["result"] = refusal

    racer = threading.Thread(target=second)
    racer.start()
    racer.join(timeout=1)
    assert racer.is_alive(), "the second claim waits for the first transaction"
    first.commit()
    first.close()
    racer.join(timeout=60)
    refusal = outcome["result"]
    assert isinstance(refusal, Refusal)
    assert f"已在汇总申请[{won['sumNo']}]中: [{invt(2)}]" in refusal.info
    with session_factory() as session:
        assert session.scalars(select(Summary.cop_no)).all() == ["SUM-A"]
        live = session.execute(
            select(SummaryMember.inventory_id, func.count())
            .where(SummaryMember.live)
            .group_by(SummaryMember.inventory_id)
        ).all()
    assert sorted(live) == sorted([(month[invt(1)], 1), (month[invt(2)], 1)])


@pytest.mark.parametrize(
    ("now", "previous"),
    [
        (datetime(2026, 11, 1, 1, 0, tzinfo=UTC), date(2026, 10, 1)),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), date(2026, 12, 1)),  # Jan 1st in China
        (datetime(2027, 1, 15, 0, 0, tzinfo=UTC), date(2026, 12, 1)),
    ],
)
def test_the_draft_covers_the_previous_china_month(now: datetime, previous: date) -> None:
    assert summaries.previous_month(now) == previous


@pytest.mark.parametrize(
    ("now", "released_before"),
    [
        # 15 Nov 23:59:59 in China: October is still due; September is late.
        (datetime(2026, 11, 15, 15, 59, 59, tzinfo=UTC), datetime(2026, 9, 30, 16, 0, tzinfo=UTC)),
        (datetime(2026, 11, 15, 16, 0, tzinfo=UTC), datetime(2026, 10, 31, 16, 0, tzinfo=UTC)),
        (datetime(2027, 1, 20, 0, 0, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
    ],
)
def test_lists_are_overdue_after_the_15th_of_the_next_month(
    now: datetime, released_before: datetime
) -> None:
    assert summaries.overdue_cutoff(now) == released_before


@pytest.fixture
def drafting_parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    codes = {AGENT: "agent", EBC: "ebc", "4301990033": "agent", "4301990022": "ebc"}
    return {code: register(code, role) for code, role in codes.items()}


def test_the_monthly_draft_stages_one_701_per_agent_ebc_and_customs(
    client: TestClient,
    drafting_parties: dict[str, Headers],
    month: dict[str, int],
    session_factory: Factory,
) -> None:
    with session_factory.begin() as session:
        drafts = summaries.draft_month(session, month=date(2026, 10, 1), now=NOVEMBER_1)
    assert [(d.agent_code, d.ebc_code, d.customs_code, d.list_count) for d in drafts] == [
        (AGENT, EBC, "4900", 5),
        (AGENT, EBC, "5100", 1),
        (AGENT, "4301990022", "4900", 1),
        ("4301990033", EBC, "4900", 1),
    ]
    mine = drafts[0]
    assert mine.cop_no == f"M2026104900{EBC}"
    assert (mine.start_time, mine.end_time) == ("20261001000000", "20261031235959")
    with session_factory.begin() as session:
        again = summaries.draft_month(session, month=date(2026, 10, 1), now=NOVEMBER_1)
    assert [d.created for d in again] == [False] * 4
    assert [d.pre_no for d in again] == [d.pre_no for d in drafts]

    agent = drafting_parties[AGENT]
    staged = [
        r["SummaryReturn"]
        for r in client.get("/api/v1/receipts", headers=agent).json()["receipts"]
        if r["messageType"] == "CEB702"
    ]
    assert [(r["copNo"], r["returnStatus"]) for r in staged] == [
        (mine.cop_no, "1"),
        (drafts[1].cop_no, "1"),
        (drafts[2].cop_no, "1"),
    ], "one receipt per draft, none for a repeat"
    with clock.using(lambda: NOVEMBER_10):
        declared = send(
            client,
            agent,
            summary_apply(copNo=mine.cop_no, startTime=mine.start_time, endTime=mine.end_time),
        )
    assert declared["returnStatus"] == "120"
    summary = client.get(f"/api/v1/summaries/{declared['sumNo']}", headers=agent).json()
    assert summary["list_count"] == 5


def test_the_cli_drafts_and_reports(
    drafting_parties: dict[str, Headers],
    month: dict[str, int],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    session_factory: Factory,
) -> None:
    monkeypatch.setenv("SW_DATABASE_URL", db_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        with clock.using(lambda: NOVEMBER_1):
            drafted = runner.invoke(cli.cli, ["summaries", "draft", "--month", "2026-10"])
        with clock.using(lambda: datetime(2026, 11, 20, tzinfo=UTC)):
            late = runner.invoke(cli.cli, ["summaries", "overdue"])
        wrong = runner.invoke(cli.cli, ["summaries", "draft", "--month", "October"])
    finally:
        get_settings.cache_clear()
    assert drafted.exit_code == 0, drafted.output
    assert f"drafted M2026104900{EBC} agent {AGENT} ebc {EBC} customs 4900: 5 lists" in (
        drafted.output
    )
    assert "4 drafts staged, 4 in all" in drafted.output
    assert late.exit_code == 0, late.output
    assert f"agent {AGENT} ebc {EBC} customs 4900: 5 lists overdue since 2026-11-15" in late.output
    assert wrong.exit_code != 0
    with session_factory() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Receipt).where(Receipt.message_type == "CEB702")
            )
            == 4
        )
