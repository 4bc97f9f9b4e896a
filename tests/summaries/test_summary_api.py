"""汇总申报 through the API: 701 in, 702 back, 792 to pull, the summary, preview, overdue."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock, outbox
from app.customs.models import Inventory
from app.inspection.events import InspectionCleared
from app.window.json_mirror import child_order, to_xml
from app.window.xsd import default_xsd_dir
from tests.summaries.factories import (
    AGENT,
    EBC,
    MONTH,
    OCTOBER_WINDOW,
    TEA,
    Line,
    ListSpec,
    invt,
)
from tests.summaries.messages import (
    NS,
    SAMPLES,
    assert_valid,
    results,
    send,
    summary_apply,
)
from tests.support.filings import file_golden_export_goods

Headers = dict[str, str]


@pytest.fixture
def parties(register: Callable[..., Headers]) -> dict[str, Headers]:
    return {AGENT: register(AGENT, "agent"), EBC: register(EBC, "ebc")}


@pytest.fixture
def month_lists(make: Callable[..., Inventory]) -> None:
    for spec in MONTH:
        make(spec)


@pytest.fixture
def at_nov_10() -> Iterator[None]:
    with clock.using(lambda: datetime(2026, 11, 10, 2, 0, tzinfo=UTC)):
        yield


# ---------------------------------------------------------------- the golden story


EXPORT_PARTIES = {
    "4301990001": ["ebp"],
    "4301990002": ["ebc"],
    "4301990003": ["agent"],
    "4301990004": ["logistics"],
    "4301990005": ["payment"],
    "4301990006": ["operator"],
}


def test_the_golden_export_list_is_summarised_into_one_declaration(
    client: TestClient,
    admin: Headers,
    register: Callable[..., Headers],
    principal: Callable[..., Headers],
    run_outbox: Callable[[], int],
    session_factory: sessionmaker[Session],
) -> None:
    parties = {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}
    agent = parties[AGENT]
    inspector = principal("officer", agency="inspection", customs_codes=["4900"])
    file_golden_export_goods(client, parties[EBC], inspector)
    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    for n, sender in ((303, "4301990001"), (403, "4301990005"), (505, "4301990004"), (603, AGENT)):
        response = client.post(
            "/api/v1/messages",
            content=(SAMPLES / f"CEB{n}Message.xml").read_bytes(),
            headers={**parties[sender], "Content-Type": "application/xml"},
        )
        assert response.status_code == 200, response.text
    invt_no = client.get("/api/v1/inventories/EXP-COP-0001", headers=agent).json()["invt_no"]
    run_outbox()
    with session_factory.begin() as session:
        inventory_id = session.scalars(
            select(Inventory.id).where(Inventory.invt_no == invt_no)
        ).one()
        outbox.publish(session, InspectionCleared(inventory_id=inventory_id, reason="cleared"))
    run_outbox()
    assert client.get(f"/api/v1/inventories/{invt_no}", headers=agent).json()["status"] == 800

    returned = send(client, agent, summary_apply((invt_no,)))
    assert returned["returnStatus"] == "120"
    assert (returned["copNo"], returned["agentCode"], returned["ebcCode"]) == (
        "EXP-SUM-0001",
        AGENT,
        EBC,
    )
    sum_no = returned["sumNo"]
    assert len(sum_no) == 18 and len(returned["preNo"]) == 18

    [message] = results(client, agent)
    assert_valid(message)
    [result] = message.findall("ceb:SummaryResult", NS)
    head = result.find("ceb:SummaryResultHead", NS)
    assert head is not None
    assert head.findtext("ceb:sumNo", namespaces=NS) == sum_no
    assert (
        head.findtext("ceb:grossWeight", namespaces=NS),
        head.findtext("ceb:netWeight", namespaces=NS),
    ) == ("3.2", "2.7")
    assert (
        head.findtext("ceb:msgCount", namespaces=NS),
        head.findtext("ceb:msgSeqNo", namespaces=NS),
    ) == ("1", "1")
    rows = [
        tuple(
            line.findtext(f"ceb:{f}", namespaces=NS)
            for f in ("invtNo", "logisticsNo", "gseqno", "gnum", "gcode")
        )
        for line in result.findall("ceb:SummaryResultList", NS)
    ]
    # As in the golden CEB792: item 1 ← list line 1 (tea set), item 2 ← list line 2 (scarf).
    assert rows == [
        (invt_no, "EXPWB0000000001", "1", "1", "6911101900"),
        (invt_no, "EXPWB0000000001", "2", "2", "6214100000"),
    ]
    summary = client.get(f"/api/v1/summaries/{sum_no}", headers=parties[EBC]).json()
    assert summary["list_count"] == 1
    [declaration] = summary["declarations"]
    assert declaration["decl_seq_no"] == head.findtext("ceb:declSeqNo", namespaces=NS)
    assert [(item["gcode"], item["qty"]) for item in declaration["lines"]] == [
        ("6911101900", "2.00000"),
        ("6214100000", "3.00000"),
    ]
    # A consolidated list cannot be cancelled behind the declaration's back.
    cancel = (SAMPLES / "CEB605Message.xml").read_bytes()
    answer = client.post(
        "/api/v1/messages",
        content=cancel.replace(b"49002026E000000001", invt_no.encode()),
        headers={**agent, "Content-Type": "application/xml"},
    )
    assert answer.status_code == 200, answer.text
    refused = etree.fromstring(answer.content)
    assert refused.findtext("ceb:InvtCancelReturn/ceb:returnStatus", namespaces=NS) == "-623005"
    assert sum_no in (refused.findtext("ceb:InvtCancelReturn/ceb:returnInfo", namespaces=NS) or "")


# ---------------------------------------------------------------- 701 → 702 over HTTP


@pytest.mark.usefixtures("month_lists", "at_nov_10")
def test_refusal_change_and_delete_answer_with_702s(
    client: TestClient, parties: dict[str, Headers]
) -> None:
    agent = parties[AGENT]
    first = send(client, agent, summary_apply(copNo="SUM-A", **OCTOBER_WINDOW))
    assert first["returnStatus"] == "120"
    taken = send(client, agent, summary_apply((invt(1), invt(2)), copNo="SUM-B"))
    assert taken["returnStatus"] == "-2999"
    assert f"已在汇总申请[{first['sumNo']}]中: [{invt(1)},{invt(2)}]" in taken["returnInfo"]
    assert "sumNo" not in taken

    changed = send(client, agent, summary_apply((invt(1),), copNo="SUM-A", appType="2"))
    assert (changed["returnStatus"], changed["sumNo"]) == ("120", first["sumNo"])
    summary = client.get(f"/api/v1/summaries/{first['sumNo']}", headers=agent).json()
    assert (summary["version"], summary["list_count"]) == (2, 1)

    retaken = send(client, agent, summary_apply((invt(2),), copNo="SUM-B"))
    assert retaken["returnStatus"] == "120", "the change freed the other lists"
    deleted = send(client, agent, summary_apply(copNo="SUM-A", appType="3"))
    assert (deleted["returnStatus"], deleted["sumNo"]) == ("1", first["sumNo"])
    assert client.get(f"/api/v1/summaries/{first['sumNo']}", headers=agent).json()["status"] == (
        "withdrawn"
    )
    again = send(client, agent, summary_apply((invt(1),), copNo="SUM-C"))
    assert again["returnStatus"] == "120", "the delete freed its list"


@pytest.mark.usefixtures("at_nov_10")
def test_a_large_result_is_split_into_numbered_messages(
    client: TestClient, parties: dict[str, Headers], session_factory: sessionmaker[Session]
) -> None:
    from tests.summaries.factories import make_list

    with session_factory.begin() as session:
        # 101 arrival countries make 101 declarations; country 100 gets 150 lists (2 entities).
        for n in range(250):
            arrival = str(100 + n) if n <= 100 else "100"
            make_list(
                session, ListSpec(invt(n + 1), [Line("132", TEA, "006", "1", "1")], arrival=arrival)
            )
    returned = send(client, parties[AGENT], summary_apply(**OCTOBER_WINDOW))
    assert returned["returnStatus"] == "120"
    messages = results(client, parties[AGENT])
    assert len(messages) == 2
    seen: list[tuple[str, str]] = []
    for number, message in enumerate(messages, start=1):
        assert_valid(message)
        entities = message.findall("ceb:SummaryResult", NS)
        assert len(entities) <= 100
        for entity in entities:
            assert entity.findtext("ceb:SummaryResultHead/ceb:msgCount", namespaces=NS) == "2"
            assert entity.findtext("ceb:SummaryResultHead/ceb:msgSeqNo", namespaces=NS) == str(
                number
            )
            lines = entity.findall("ceb:SummaryResultList", NS)
            assert 1 <= len(lines) <= 100
            seen += [
                (
                    line.findtext("ceb:invtNo", namespaces=NS) or "",
                    line.findtext("ceb:gnum", namespaces=NS) or "",
                )
                for line in lines
            ]
    assert [len(m.findall("ceb:SummaryResult", NS)) for m in messages] == [100, 2]
    assert sorted(seen) == sorted((invt(n + 1), "1") for n in range(250))

    pulled = client.get("/api/v1/receipts?limit=1000", headers=parties[AGENT]).json()["receipts"]
    mirrored = [r for r in pulled if r["messageType"] == "CEB792"]
    assert len(mirrored) == 2
    order = child_order(default_xsd_dir() / "export" / "ceb-export.xsd")
    for receipt in mirrored:
        document = {
            "CEB792Message": {
                "guid": str(uuid.uuid4()).upper(),
                "version": "1.0",
                "SummaryResult": receipt["SummaryResult"],
            }
        }
        assert_valid(to_xml(document, lambda _root: order))


# ---------------------------------------------------------------- reading, preview, overdue


@pytest.mark.usefixtures("month_lists", "at_nov_10")
def test_who_may_read_a_summary(
    client: TestClient,
    parties: dict[str, Headers],
    register: Callable[..., Headers],
    principal: Callable[..., Headers],
) -> None:
    sum_no = send(client, parties[AGENT], summary_apply(**OCTOBER_WINDOW))["sumNo"]
    readers = {
        "agent": parties[AGENT],
        "ebc": parties[EBC],
        "customs officer of 4900": principal("officer", agency="customs", customs_codes=["4900"]),
    }
    for who, headers in readers.items():
        response = client.get(f"/api/v1/summaries/{sum_no}", headers=headers)
        assert response.status_code == 200, who
        assert len(response.json()["declarations"]) == 3
    strangers = {
        "another enterprise": register("4301990077", "agent"),
        "customs officer of 5100": principal("officer", agency="customs", customs_codes=["5100"]),
        "inspection officer": principal("officer", agency="inspection", customs_codes=["4900"]),
    }
    for who, headers in strangers.items():
        assert client.get(f"/api/v1/summaries/{sum_no}", headers=headers).status_code == 404, who
    assert (
        client.get("/api/v1/summaries/49002026S999999999", headers=parties[AGENT]).status_code
        == 404
    )


@pytest.mark.usefixtures("month_lists", "at_nov_10")
def test_the_preview_endpoint_shows_what_the_701_then_commits(
    client: TestClient, parties: dict[str, Headers]
) -> None:
    agent = parties[AGENT]
    body = {
        "SummaryApplyHead": {
            "customsCode": "4900",
            "ebcCode": EBC,
            "summaryFlag": "2",
            "itemNameFlag": "1",
            **OCTOBER_WINDOW,
        }
    }
    preview = client.post("/api/v1/summaries/preview", json=body, headers=agent)
    assert preview.status_code == 200, preview.text
    again = client.post("/api/v1/summaries/preview", json=body, headers=agent)
    assert again.json() == preview.json(), "nothing was claimed by the preview"
    sum_no = send(
        client, agent, summary_apply(summaryFlag="2", itemNameFlag="1", **OCTOBER_WINDOW)
    )["sumNo"]
    committed = client.get(f"/api/v1/summaries/{sum_no}", headers=agent).json()
    numbers = ("decl_seq_no", "dec_state", "entry_id")
    assert [
        {k: v for k, v in d.items() if k not in numbers} for d in committed["declarations"]
    ] == preview.json()["declarations"]
    assert committed["list_count"] == preview.json()["list_count"] == 5


@pytest.mark.usefixtures("month_lists")
def test_the_preview_refuses_like_the_701(client: TestClient, parties: dict[str, Headers]) -> None:
    head = {"customsCode": "4900", "ebcCode": EBC, "summaryFlag": "1", "itemNameFlag": "0"}
    bad = client.post(
        "/api/v1/summaries/preview",
        json={"SummaryApplyHead": head, "SummaryApplyList": [{"invtNo": "49002026E999999999"}]},
        headers=parties[AGENT],
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "SummaryRefused"
    assert "49002026E999999999" in bad.json()["detail"]
    for_another = client.post(
        "/api/v1/summaries/preview",
        json={"SummaryApplyHead": {**head, "agentCode": "4301990033"}},
        headers=parties[AGENT],
    )
    assert for_another.status_code == 403


def test_the_overdue_report(
    client: TestClient,
    parties: dict[str, Headers],
    make: Callable[..., Inventory],
    principal: Callable[..., Headers],
) -> None:
    make(ListSpec(invt(1), [Line("132", TEA, "006", "1", "1")]))
    make(ListSpec(invt(2), [Line("132", TEA, "006", "1", "1")]))
    make(ListSpec(invt(3), [Line("132", TEA, "006", "1", "1")], agent="4301990033"))
    make(ListSpec(invt(4), [Line("132", TEA, "006", "1", "1")], customs="5100", port="5100"))
    make(ListSpec(invt(5), [Line("132", TEA, "006", "1", "1")], flag="A"))
    agent = parties[AGENT]
    with clock.using(lambda: datetime(2026, 11, 10, 2, 0, tzinfo=UTC)):
        assert send(client, agent, summary_apply((invt(2),)))["returnStatus"] == "120"
    officer = principal("officer", agency="customs", customs_codes=["4900"])
    # The 15th, 23:59 in China: October's lists are still on time.
    with clock.using(lambda: datetime(2026, 11, 15, 15, 59, tzinfo=UTC)):
        assert client.get("/api/v1/summaries/overdue", headers=agent).json()["rows"] == []
    with clock.using(lambda: datetime(2026, 11, 15, 16, 0, tzinfo=UTC)):
        mine = client.get("/api/v1/summaries/overdue", headers=agent).json()
        district = client.get("/api/v1/summaries/overdue", headers=officer).json()
        bank = client.get("/api/v1/summaries/overdue", headers=principal("bank", bank_code="B1"))
    assert [
        (r["agent_code"], r["customs_code"], r["lists"], r["deadline"]) for r in mine["rows"]
    ] == [(AGENT, "4900", 1, "2026-11-15"), (AGENT, "5100", 1, "2026-11-15")]
    assert {(r["agent_code"], r["customs_code"]) for r in district["rows"]} == {
        (AGENT, "4900"),
        ("4301990033", "4900"),
    }
    assert bank.status_code == 403
