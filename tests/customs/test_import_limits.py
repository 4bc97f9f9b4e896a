"""Import limits (财关税〔2018〕49号): ¥5,000 a transaction, ¥26,000 a buyer a calendar year.

The list, not the order, consumes the buyer's year; a cancel or a return within 30 days of
release gives it back. Quotas are read and seeded in customs_buyer_quota directly.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from httpx import Response
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from app.ceb.times import CHINA
from app.customs.models import BuyerQuota, Inventory, InventoryLine
from tests.customs.conftest import (
    IMPORT_AGENT,
    NS,
    ImportStory,
    import_amounts,
    statuses,
)

VALUE = Decimal("310.00")  # the golden list: goods 300.00 + freight 10.00
CANCELLED = 1001


def fen(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def this_year() -> int:
    return clock.now().astimezone(CHINA).year


def used(factory: sessionmaker[Session], buyer: str, year: int | None = None) -> Decimal:
    with factory() as session:
        value = session.scalar(
            select(BuyerQuota.used).where(
                BuyerQuota.buyer_id_number == buyer, BuyerQuota.year == (year or this_year())
            )
        )
    return Decimal(0) if value is None else value


def seed(factory: sessionmaker[Session], buyer: str, amount: str, year: int | None = None) -> None:
    with factory.begin() as session:
        session.add(
            BuyerQuota(buyer_id_number=buyer, year=year or this_year(), used=Decimal(amount))
        )


def info_of(answer: Response) -> str:
    return etree.fromstring(answer.content).findtext(".//ceb:returnInfo", namespaces=NS) or ""


def release(
    story: ImportStory,
    invt_no: str,
    customs_outbox: Callable[[], int],
    inspection_clears: Callable[[str], None],
) -> None:
    customs_outbox()
    inspection_clears(invt_no)
    assert story.get(invt_no)["status"] == 800


def with_gcode(changes: dict[int, dict[str, Any]], gcode: str) -> dict[int, dict[str, Any]]:
    edits = {**changes[621]["edits"], "//ceb:InventoryList[ceb:gnum=1]/ceb:gcode": gcode}
    return {**changes, 621: {**changes[621], "edits": edits}}


# ---------------------------------------------------------------- ¥5,000 a transaction


OVER_SINGLE = {
    "two lines worth 5,110": {1: ("2", "2500.00"), 2: ("1", "100.00")},
    "one line of two items worth 6,010": {1: ("2", "3000.00")},
}


@pytest.mark.parametrize("items", OVER_SINGLE.values(), ids=OVER_SINGLE.keys())
def test_a_divisible_purchase_over_5000_is_refused(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    items: dict[int, tuple[str, str]],
) -> None:
    buyer = "430102199001010011"
    got, listed = import_story.declare("L1", import_amounts(items), buyer=buyer)
    assert got == ["-621005"]
    assert listed["status"] == 100 and listed["invt_no"] is None, "not accepted"
    assert used(session_factory, buyer) == 0


def test_a_purchase_of_exactly_5000_is_within_the_limit(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010012"
    items = {1: ("2", "2445.00"), 2: ("1", "100.00")}  # 4,990 + freight 10 = 5,000
    got, _ = import_story.declare("L2", import_amounts(items), buyer=buyer)
    assert got == ["120"]
    assert used(session_factory, buyer) == Decimal(5000)


FULL_TAX = {
    # HS code: (duty, VAT, consumption) rates of the rate table, and the figures by hand.
    "general goods": ("3305100090", ("0.10", "0.13", "0"), ("601.00", "859.43", "0.00")),
    "high-end perfume": ("3303000010", ("0.03", "0.13", "0.15"), ("180.30", "946.75", "1092.41")),
}


@pytest.mark.parametrize(("gcode", "rates", "figures"), FULL_TAX.values(), ids=FULL_TAX.keys())
def test_a_single_item_over_5000_is_accepted_with_full_tax(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    gcode: str,
    rates: tuple[str, str, str],
    figures: tuple[str, str, str],
) -> None:
    buyer = "430102199001010013"
    changes = with_gcode(import_amounts({1: ("1", "6000.00")}), gcode)
    got, _ = import_story.declare("L3", changes, buyer=buyer)
    assert got == ["120"], "one indivisible item: accepted, but not at the retail rates"
    duty_rate, vat_rate, consumption_rate = (Decimal(r) for r in rates)
    value = Decimal("6010.00")
    duty = value * duty_rate
    consumption = (value + duty) / (1 - consumption_rate) * consumption_rate
    vat = (value + duty + consumption) * vat_rate
    expected = (fen(duty), fen(vat), fen(consumption))
    assert expected == tuple(Decimal(f) for f in figures)
    with session_factory() as session:
        inventory = session.scalars(select(Inventory).where(Inventory.cop_no == "IMP-COP-L3")).one()
        line = session.scalars(
            select(InventoryLine).where(InventoryLine.inventory_id == inventory.id)
        ).one()
    assert inventory.full_tax
    assert (line.customs_tax, line.vat, line.consumption_tax) == expected
    assert (inventory.customs_tax, inventory.vat, inventory.consumption_tax) == expected
    assert used(session_factory, buyer) == value, "it still counts against the year"


# ---------------------------------------------------------------- ¥26,000 a buyer a year


def test_a_list_that_would_pass_the_annual_limit_is_refused_and_charges_nothing(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010021"
    seed(session_factory, buyer, "25900.00")
    got, listed = import_story.declare("Y1", buyer=buyer)
    assert got == ["-621018"]
    assert listed["status"] == 100 and listed["invt_no"] is None
    assert used(session_factory, buyer) == Decimal("25900.00")
    refusal = [r["InventoryReturn"] for r in import_story.receipts("CEB622")][-1]
    assert refusal["returnStatus"] == "-621018"
    assert "26000" in refusal["returnInfo"]
    assert buyer not in refusal["returnInfo"], "identity numbers are masked in receipts"


def test_a_list_that_reaches_the_annual_limit_exactly_is_accepted(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010022"
    seed(session_factory, buyer, "25690.00")
    got, _ = import_story.declare("Y2", buyer=buyer)
    assert got == ["120"]
    assert used(session_factory, buyer) == Decimal(26000)


def test_the_annual_limit_is_per_calendar_year_in_china_time(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010023"
    seed(session_factory, buyer, "25900.00", year=2026)
    new_years_eve = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in China
    with clock.using(lambda: new_years_eve):
        got, _ = import_story.declare("Y3", buyer=buyer)
    assert got == ["-621018"]
    after_midnight = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in China
    with clock.using(lambda: after_midnight):
        got, listed = import_story.declare("Y4", buyer=buyer)
    assert got == ["120"], "a new year starts from 0"
    assert listed["invt_no"][4:8] == "2027"
    assert used(session_factory, buyer, 2027) == VALUE
    assert used(session_factory, buyer, 2026) == Decimal("25900.00")


# ---------------------------------------------------------------- what gives the quota back


def test_a_cancelled_list_gives_its_value_back(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010031"
    seed(session_factory, buyer, "1000.00")
    got, listed = import_story.declare("C1", buyer=buyer)
    assert got == ["120"]
    assert used(session_factory, buyer) == Decimal(1000) + VALUE
    cancel = import_story.post(623, "C1", buyer=buyer, invtNo=listed["invt_no"])
    assert statuses(cancel.content) == ["120"], cancel.text
    assert import_story.get("IMP-COP-C1")["status"] == CANCELLED
    assert used(session_factory, buyer) == Decimal(1000)


def test_a_return_within_30_days_of_release_gives_the_value_back(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    customs_outbox: Callable[[], int],
    inspection_clears: Callable[[str], None],
) -> None:
    buyer = "430102199001010032"
    seed(session_factory, buyer, "1000.00")
    # One line only, so the golden 625 (line 1, 2 瓶) returns the whole list.
    got, listed = import_story.declare("R1", import_amounts({1: ("2", "100.00")}), buyer=buyer)
    assert got == ["120"]
    release(import_story, listed["invt_no"], customs_outbox, inspection_clears)
    assert used(session_factory, buyer) == Decimal("1210.00")
    day_29 = datetime.now(UTC) + timedelta(days=29)
    with clock.using(lambda: day_29):
        answer = import_story.post(625, "R1", buyer=buyer, invtNo=listed["invt_no"])
    assert statuses(answer.content) == ["120"], answer.text
    assert used(session_factory, buyer) == Decimal(1000)


def test_a_return_after_30_days_is_refused_and_keeps_the_quota(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    customs_outbox: Callable[[], int],
    inspection_clears: Callable[[str], None],
) -> None:
    buyer = "430102199001010033"
    got, listed = import_story.declare("R2", import_amounts({1: ("2", "100.00")}), buyer=buyer)
    assert got == ["120"]
    release(import_story, listed["invt_no"], customs_outbox, inspection_clears)
    day_31 = datetime.now(UTC) + timedelta(days=31)
    with clock.using(lambda: day_31):
        answer = import_story.post(625, "R2", buyer=buyer, invtNo=listed["invt_no"])
    (status,) = statuses(answer.content)
    assert int(status) < 0, answer.text
    assert etree.fromstring(answer.content).tag == "{http://www.chinaport.gov.cn/ceb}CEB626Message"
    assert "30" in info_of(answer)
    assert used(session_factory, buyer) == Decimal("210.00")


def test_a_partial_return_gives_back_only_the_returned_lines(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    customs_outbox: Callable[[], int],
    inspection_clears: Callable[[str], None],
) -> None:
    buyer = "430102199001010034"
    seed(session_factory, buyer, "1000.00")
    got, listed = import_story.declare("R3", buyer=buyer)
    assert got == ["120"]
    release(import_story, listed["invt_no"], customs_outbox, inspection_clears)
    answer = import_story.post(625, "R3", buyer=buyer, invtNo=listed["invt_no"])
    assert statuses(answer.content) == ["120"], answer.text
    shampoo = Decimal(100) + Decimal(10) * Decimal(100) / Decimal(300)  # kept: value + freight
    assert used(session_factory, buyer) == Decimal(1000) + fen(shampoo)


# ---------------------------------------------------------------- concurrency


@pytest.mark.postgres_only
def test_parallel_lists_of_one_buyer_never_pass_the_annual_limit(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    buyer = "430102199001010041"
    lists, fit = 20, 7
    start = Decimal(26000) - fit * VALUE - Decimal(100)  # room for 7 lists, not for 8
    seed(session_factory, buyer, str(start))
    suffixes = [f"P{i:02d}" for i in range(lists)]
    for suffix in suffixes:
        import_story.partners(suffix, buyer=buyer)
    bodies = [import_story.message(621, suffix, buyer=buyer) for suffix in suffixes]
    headers = {**import_story.parties[IMPORT_AGENT], "Content-Type": "application/xml"}
    # A key's first use in a minute records last_used_at, locking its row to the commit: use
    # it once now, or that lock would serialise the twenty requests before they race.
    assert import_story.client.get("/api/v1/receipts", headers=headers).status_code == 200
    barrier = threading.Barrier(lists)
    answers: list[Response] = []

    def declare(body: bytes) -> None:
        barrier.wait()
        answers.append(import_story.client.post("/api/v1/messages", content=body, headers=headers))

    threads = [threading.Thread(target=declare, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [200] * lists, [a.text for a in answers]
    outcome = Counter(status for a in answers for status in statuses(a.content))
    assert outcome == {"120": fit, "-621018": lists - fit}
    receipts = Counter(
        r["InventoryReturn"]["returnStatus"] for r in import_story.receipts("CEB622")
    )
    assert receipts == {"120": fit, "-621018": lists - fit}
    with session_factory() as session:
        accepted = session.scalars(
            select(Inventory.invt_no).where(
                Inventory.buyer_id_number == buyer, Inventory.status == 120
            )
        ).all()
    assert len(accepted) == fit and all(accepted)
    total = used(session_factory, buyer)
    assert total == start + fit * VALUE
    assert total <= Decimal(26000)
