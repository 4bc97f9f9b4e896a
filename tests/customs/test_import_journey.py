"""An import list's life through the API: 三单对碰 on 311/411/511, tax, lane, joint release, 816."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import audit
from app.customs import service
from app.customs.models import BuyerQuota, Inventory, InventoryLine
from app.window.xsd import SchemaSet, default_xsd_dir, load_schemas
from tests.customs.conftest import (
    CEB,
    GOLDEN_BUYER,
    IMPORT_AGENT,
    NS,
    SAMPLES,
    Changes,
    ImportStory,
    statuses,
)

GUARANTOR = "4301990016"
# HS 3304/3305 (ordinary cosmetics, hair preparations) are general goods in the rate table:
# duty 10 %, VAT 13 %, no consumption tax. A high-end perfume (3303) bears 15 % consumption tax.
GENERAL = "3305100090"
PERFUME = "3303000010"
VAT = Decimal("0.13")
RETAIL = Decimal("0.7")  # 财关税〔2018〕49号: VAT and consumption tax at 70 % within the limits


def fen(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def list_line(gnum: int, **fields: str) -> Changes:
    """Changes to one line of the list only (its order line stays as declared)."""
    line = f"//ceb:InventoryList[ceb:gnum={gnum}]"
    return {621: {"edits": {f"{line}/ceb:{name}": value for name, value in fields.items()}}}


AS_GENERAL_GOODS = list_line(1, gcode=GENERAL)


# The golden list: lines of 200.00 and 100.00 sharing 10.00 freight by value, no insurance.
DUTIABLE = [
    Decimal(200) + Decimal(10) * Decimal(200) / Decimal(300),
    Decimal(100) + Decimal(10) * Decimal(100) / Decimal(300),
]


def tax_rows(factory: sessionmaker[Session], cop_no: str) -> tuple[Inventory, list[InventoryLine]]:
    with factory() as session:
        inventory = session.scalars(select(Inventory).where(Inventory.cop_no == cop_no)).one()
        lines = session.scalars(
            select(InventoryLine)
            .where(InventoryLine.inventory_id == inventory.id)
            .order_by(InventoryLine.gnum)
        ).all()
        return inventory, list(lines)


def list_receipts(story: ImportStory) -> list[dict[str, Any]]:
    return [r["InventoryReturn"] for r in story.receipts("CEB622")]


def test_partners_first_then_the_list_is_accepted_taxed_released_and_billed(
    import_story: ImportStory,
    customs_outbox: Callable[[], int],
    inspection_clears: Callable[[str], None],
    session_factory: sessionmaker[Session],
) -> None:
    got, listed = import_story.declare("J1", AS_GENERAL_GOODS)
    assert got == ["120"], "order, payment and waybill agree: accepted at once"
    assert listed["status"] == 120
    invt_no = listed["invt_no"]
    assert invt_no is not None and len(invt_no) == 18 and invt_no[8] == "I"

    inventory, lines = tax_rows(session_factory, "IMP-COP-J1")
    rate = VAT * RETAIL  # the comprehensive 9.1 % on general goods
    assert rate == Decimal("0.091")
    expected = [fen(value * rate) for value in DUTIABLE]
    assert expected == [Decimal("18.81"), Decimal("9.40")]
    assert [line.vat for line in lines] == expected
    assert [line.customs_tax for line in lines] == [0, 0], "no duty within the limits"
    assert [line.consumption_tax for line in lines] == [0, 0]
    assert inventory.vat == sum(expected) == Decimal("28.21")
    assert inventory.customs_tax == 0 and inventory.consumption_tax == 0
    assert not inventory.full_tax
    assert import_story.receipts("CEB816") == [], "the tax bill comes with the release"

    customs_outbox()
    assert import_story.get(invt_no)["status"] == 399, "GREEN: concluded, inspection pending"
    inspection_clears(invt_no)
    assert import_story.get(invt_no)["status"] == 800
    assert [r["returnStatus"] for r in list_receipts(import_story)] == ["120", "399", "800"]

    bills = import_story.receipts("CEB816")
    assert len(bills) == 1, "one electronic tax bill for the agent"
    head, bill_lines = bills[0]["Tax"]["TaxHeadRd"], bills[0]["Tax"]["TaxListRd"]
    assert head["invtNo"] == invt_no
    assert head["status"] == "1", "generated"
    assert head["agentCode"] == IMPORT_AGENT and head["assureCode"] == GUARANTOR
    assert Decimal(head["valueAddedTax"]) == Decimal("28.21")
    assert Decimal(head["customsTax"]) == 0 and Decimal(head["consumptionTax"]) == 0
    assert [Decimal(line["taxPrice"]) for line in bill_lines] == [fen(value) for value in DUTIABLE]
    assert [Decimal(line["valueAddedTax"]) for line in bill_lines] == expected
    assert [line["gcode"] for line in bill_lines] == [GENERAL, GENERAL]
    assert len(import_story.receipts("CEB816", GUARANTOR)) == 1, "the guarantor pays it"

    as_xml = import_story.client.get(
        "/api/v1/receipts",
        headers={**import_story.parties[IMPORT_AGENT], "Accept": "application/xml"},
    )
    assert as_xml.status_code == 200, as_xml.text
    found = etree.fromstring(as_xml.content).findall(f"{{{CEB}}}CEB816Message")
    assert len(found) == 1
    message = etree.fromstring(etree.tostring(found[0]))
    assert load_schemas(default_xsd_dir()).validate(message, SchemaSet.IMPORT) == []
    assert message.findtext("ceb:Tax/ceb:TaxHeadRd/ceb:invtNo", namespaces=NS) == invt_no


def test_a_list_declared_first_waits_for_its_partners_then_is_accepted(
    import_story: ImportStory,
) -> None:
    first = import_story.post(621, "J2")
    assert statuses(first.content) == ["2"], "no order, payment or waybill yet: the list waits"
    for n in (311, 411):
        assert statuses(import_story.post(n, "J2").content) == ["120"]
        assert import_story.get("IMP-COP-J2")["status"] == 2, f"still waiting after {n}"
    assert statuses(import_story.post(511, "J2").content) == ["120"]
    listed = import_story.get("IMP-COP-J2")
    assert listed["status"] == 120
    assert listed["invt_no"] is not None
    assert [r["returnStatus"] for r in list_receipts(import_story)] == ["2", "120"]


def test_perfume_pays_consumption_tax_at_the_retail_rate(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    got, _ = import_story.declare("J3", list_line(1, gcode=PERFUME))
    assert got == ["120"]
    inventory, lines = tax_rows(session_factory, "IMP-COP-J3")
    consumption = Decimal("0.15")
    base = DUTIABLE[0] / (1 - consumption)  # consumption tax is levied on the tax-inclusive price
    cream = (fen(base * VAT * RETAIL), fen(base * consumption * RETAIL))
    assert cream == (Decimal("22.13"), Decimal("25.53"))
    shampoo_vat = fen(DUTIABLE[1] * VAT * RETAIL)
    assert [line.gcode for line in lines] == [PERFUME, GENERAL]
    assert (lines[0].vat, lines[0].consumption_tax) == cream
    assert (lines[1].vat, lines[1].consumption_tax) == (shampoo_vat, 0)
    assert [line.customs_tax for line in lines] == [0, 0]
    # Each tax is rounded on its own; together they are the comprehensive rate to the fen.
    comprehensive = (consumption + VAT) / (1 - consumption) * RETAIL
    assert abs(sum(cream) - DUTIABLE[0] * comprehensive) <= Decimal("0.01")
    assert inventory.vat == cream[0] + shampoo_vat
    assert inventory.consumption_tax == cream[1]


def test_the_golden_list_is_billed_as_the_golden_tax_bill(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    golden = etree.parse(str(SAMPLES / "import" / "CEB816Message.xml")).getroot()
    got, _ = import_story.declare("J4")
    assert got == ["120"]
    inventory, lines = tax_rows(session_factory, "IMP-COP-J4")
    assert inventory.vat == Decimal(
        golden.findtext(".//ceb:TaxHeadRd/ceb:valueAddedTax", namespaces=NS)
    )
    assert inventory.consumption_tax == Decimal(
        golden.findtext(".//ceb:TaxHeadRd/ceb:consumptionTax", namespaces=NS)
    )
    assert [line.vat for line in lines] == [
        Decimal(v) for v in golden.xpath("//ceb:TaxListRd/ceb:valueAddedTax/text()", namespaces=NS)
    ]


# ---------------------------------------------------------------- 三单对碰


MISMATCHES = {
    "acturalPaid is not goods + freight + tax - discount": (
        {311: {"acturalPaid": "348.21"}, 411: {"amountPaid": "348.21"}},
        "订单实际支付",
    ),
    "payment amountPaid differs from acturalPaid": (
        {411: {"amountPaid": "330.00"}},
        "支付单支付金额",
    ),
    "payer is not the buyer": ({411: {"payerIdNumber": "430102199202022228"}}, "payer ≠ buyer"),
    "consignee name differs on the waybill": ({511: {"consignee": "李四"}}, "consignee"),
    "consignee phone differs on the waybill": (
        {511: {"consigneeTelephone": "13900000000"}},
        "consigneeTelephone",
    ),
    "consignee address differs on the waybill": (
        {511: {"consigneeAddress": "湖南省长沙市岳麓区麓山南路1号"}},
        "consigneeAddress",
    ),
    "list lines are not the order's lines": (
        {621: {"drop": ("//ceb:InventoryList[ceb:gnum=2]",)}},
        "表体序号",
    ),
    "list qty 50 % above the order": (list_line(1, qty="3", totalPrice="300.00"), "qty"),
    "list price 6 % above the order": (list_line(1, price="106.00", totalPrice="212.00"), "price"),
    "list price 6 % below the order": (list_line(2, price="94.00", totalPrice="94.00"), "price"),
}


@pytest.mark.parametrize(("changes", "reason"), MISMATCHES.values(), ids=MISMATCHES.keys())
def test_documents_that_disagree_get_the_list_rejected_with_the_reason(
    import_story: ImportStory,
    session_factory: sessionmaker[Session],
    changes: Changes,
    reason: str,
) -> None:
    import_story.partners("M1", changes)
    answer = import_story.post(621, "M1", **changes.get(621, {}))
    root = etree.fromstring(answer.content)
    assert statuses(answer.content) == ["100"]
    info = root.findtext(".//ceb:returnInfo", namespaces=NS) or ""
    assert info.startswith("三单对碰不一致") and reason in info, info
    listed = import_story.get("IMP-COP-M1")
    assert listed["status"] == 100 and listed["invt_no"] is None
    with session_factory() as session:
        used = session.scalar(
            select(BuyerQuota.used).where(BuyerQuota.buyer_id_number == GOLDEN_BUYER)
        )
    assert not used, "a rejected list consumes nothing of the buyer's year"


WITHIN_TOLERANCE = {
    "price 4 % above": list_line(1, price="104.00", totalPrice="208.00"),
    "price 4 % below": list_line(2, price="96.00", totalPrice="96.00"),
    "price 5 % above": list_line(1, price="105.00", totalPrice="210.00"),
}


def test_list_values_within_five_percent_of_the_order_are_accepted(
    import_story: ImportStory,
) -> None:
    for n, (case, changes) in enumerate(WITHIN_TOLERANCE.items()):
        got, listed = import_story.declare(f"T{n}", changes)
        assert got == ["120"], case
        assert listed["status"] == 120, case


def test_a_list_price_more_than_five_percent_above_the_order_is_rejected(
    import_story: ImportStory,
) -> None:
    got, _ = import_story.declare("T2", list_line(1, price="105.20", totalPrice="210.40"))
    assert got == ["100"]


def test_a_list_still_missing_partners_after_its_wait_is_rejected_naming_them(
    import_story: ImportStory, session_factory: sessionmaker[Session]
) -> None:
    assert statuses(import_story.post(311, "W1").content) == ["120"]
    assert statuses(import_story.post(621, "W1").content) == ["2"]
    declared = datetime.now(UTC)
    with session_factory.begin() as session:
        assert service.expire_waiting(session, now=declared + timedelta(hours=5)) == 0
    assert import_story.get("IMP-COP-W1")["status"] == 2, "still within the six-hour wait"
    with session_factory.begin() as session:
        assert service.expire_waiting(session, now=declared + timedelta(hours=7)) == 1
    listed = import_story.get("IMP-COP-W1")
    assert listed["status"] == 100
    rejection = list_receipts(import_story)[-1]
    assert rejection["returnStatus"] == "100"
    info = rejection["returnInfo"]
    assert "支付单" in info and "运单" in info, info
    assert "订单 order" not in info, "the order did arrive"
    with session_factory.begin() as session:
        assert service.expire_waiting(session, now=declared + timedelta(hours=8)) == 0


def test_only_an_officers_single_list_view_shows_the_buyer_and_it_is_audited(
    import_story: ImportStory,
    principal: Callable[..., dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    got, listed = import_story.declare("PD")
    assert got == ["120"]
    invt_no = listed["invt_no"]
    officer = principal("officer", agency="customs", customs_codes=["4900"])
    client = import_story.client
    seen = client.get(f"/api/v1/inventories/{invt_no}", headers=officer).json()
    assert seen["buyer"]["buyer_name"] == "张三"
    assert seen["buyer"]["buyer_id_number"] == "430102199001011234"
    assert import_story.get(invt_no)["buyer"] is None, "the enterprise's view has no buyer"
    listing = client.get("/api/v1/inventories", headers=officer).json()
    assert all("buyer" not in item for item in listing)
    assert "430102199001011234" not in client.get("/api/v1/customs/queue", headers=officer).text
    with session_factory() as session:
        looks = session.scalars(
            select(audit.AuditEntry).where(
                audit.AuditEntry.action == "inventory.personal_data_viewed",
                audit.AuditEntry.subject_id == invt_no,
            )
        ).all()
    assert len(looks) == 1 and looks[0].actor.startswith("officer:")
