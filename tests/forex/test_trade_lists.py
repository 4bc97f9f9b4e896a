"""Banks see the released lists of the enterprises that mandated them, and nothing else."""

from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.forex.conftest import BANK, EXPORT_EBC, IMPORT_EBC, OTHER_BANK, ExportStory

Headers = dict[str, str]


def test_golden_export_list_is_a_trade_list_for_the_mandated_bank_only(
    client: TestClient,
    export_story: ExportStory,
    banks: dict[str, Headers],
    mandate: Callable[..., None],
) -> None:
    mandate(EXPORT_EBC, BANK)
    invt_no = export_story.release()

    page = client.get("/api/v1/forex/trade-lists", headers=banks[BANK]).json()
    assert [t["invt_no"] for t in page["trade_lists"]] == [invt_no]
    got = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=banks[BANK])
    assert got.status_code == 200, got.text
    view = got.json()
    assert view["status"] == 800
    assert view["direction"] == "E"
    # goods 1010.00 + freight 35.00 + insurance 5.00, all CNY (142)
    assert Decimal(view["value"]) == Decimal("1050")
    assert [(v["currency"], Decimal(v["amount"])) for v in view["values"]] == [
        ("142", Decimal("1050"))
    ]
    assert Decimal(view["unallocated"]) == Decimal("1050")
    assert [(line["gnum"], Decimal(line["value"])) for line in view["lines"]] == [
        (1, Decimal("536")),
        (2, Decimal("474")),
    ]
    (money,) = view["money_documents"]
    assert money["payNo"] == "XFPAY2026110100001"
    assert Decimal(money["charge"]) == Decimal("1045.00")
    assert view["order"]["orderNo"] == "EXP-ORDER-0001"

    other = banks[OTHER_BANK]
    assert client.get("/api/v1/forex/trade-lists", headers=other).json()["trade_lists"] == []
    hidden = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=other)
    assert hidden.status_code == 404, "not 403: another bank cannot probe the list"
    unknown = client.get("/api/v1/forex/trade-lists/49002026E999999999", headers=other)
    assert (hidden.json()["detail"].replace(invt_no, "X")) == (
        unknown.json()["detail"].replace("49002026E999999999", "X")
    )
    by_ebc = client.get(f"/api/v1/forex/trade-lists?ebcCode={EXPORT_EBC}", headers=other)
    assert by_ebc.status_code == 404


def test_only_banks_read_trade_lists(
    client: TestClient, register: Callable[..., Headers], admin: Headers
) -> None:
    seller = register(EXPORT_EBC, "ebc")
    assert client.get("/api/v1/forex/trade-lists", headers=seller).status_code == 403
    assert client.get("/api/v1/forex/trade-lists").status_code == 401


def test_listing_covers_only_mandating_enterprises_released_lists(
    client: TestClient,
    register: Callable[..., Headers],
    banks: dict[str, Headers],
    mandate: Callable[..., None],
    trade_list: Callable[..., str],
) -> None:
    register(EXPORT_EBC, "ebc")
    register(IMPORT_EBC, "ebc")
    register("4301990022", "ebc")
    mandate(EXPORT_EBC, BANK)
    mandate(IMPORT_EBC, BANK, OTHER_BANK)
    released = trade_list()
    closed = trade_list(status=899)
    trade_list(status=120)
    trade_list(status=700)
    imported = trade_list(direction="I", ebc=IMPORT_EBC)
    trade_list(ebc="4301990022")

    def invt_nos(query: str = "", bank: str = BANK) -> list[str]:
        got = client.get(f"/api/v1/forex/trade-lists{query}", headers=banks[bank])
        assert got.status_code == 200, got.text
        return [t["invt_no"] for t in got.json()["trade_lists"]]

    assert invt_nos() == [released, closed, imported]
    assert invt_nos(bank=OTHER_BANK) == [imported]
    assert invt_nos("?direction=I") == [imported]
    assert invt_nos(f"?ebcCode={EXPORT_EBC}") == [released, closed]
    assert invt_nos("?from=2026-11-01&to=2026-11-01") == [released, closed, imported]
    assert invt_nos("?from=2026-11-02") == []
    assert invt_nos("?to=2026-10-31") == []

    first = client.get("/api/v1/forex/trade-lists?limit=2", headers=banks[BANK]).json()
    assert [t["invt_no"] for t in first["trade_lists"]] == [released, closed]
    rest = client.get(
        f"/api/v1/forex/trade-lists?limit=2&after={first['next_after']}", headers=banks[BANK]
    ).json()
    assert [t["invt_no"] for t in rest["trade_lists"]] == [imported]
    assert rest["next_after"] is None


def test_a_list_not_released_is_not_shown_even_to_its_bank(
    client: TestClient,
    register: Callable[..., Headers],
    banks: dict[str, Headers],
    mandate: Callable[..., None],
    trade_list: Callable[..., str],
) -> None:
    register(EXPORT_EBC, "ebc")
    mandate(EXPORT_EBC, BANK)
    waiting = trade_list(status=399)
    assert client.get(f"/api/v1/forex/trade-lists/{waiting}", headers=banks[BANK]).status_code == (
        404
    )


def test_personal_data_is_masked_for_banks(
    client: TestClient,
    register: Callable[..., Headers],
    banks: dict[str, Headers],
    mandate: Callable[..., None],
    trade_list: Callable[..., str],
) -> None:
    register(IMPORT_EBC, "ebc")
    mandate(IMPORT_EBC, BANK)
    invt_no = trade_list(direction="I", ebc=IMPORT_EBC)
    view = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=banks[BANK]).json()
    assert view["buyer_id_number"] == "**************1234"
    assert view["order"]["buyerIdNumber"] == "**************1234"
    assert view["order"]["buyerName"] == "张*"
    assert "buyerTelephone" not in view["order"]
    assert "consigneeAddress" not in view["order"]
    (payment,) = view["money_documents"]
    assert payment["payerIdNumber"] == "**************1234"
    assert payment["payerName"] == "张*"
    assert "430102199001011234" not in str(view)


def test_a_page_carries_each_lists_own_documents_in_a_fixed_number_of_queries(
    client: TestClient,
    register: Callable[..., Headers],
    banks: dict[str, Headers],
    mandate: Callable[..., None],
    trade_list: Callable[..., str],
) -> None:
    register(EXPORT_EBC, "ebc")
    register(IMPORT_EBC, "ebc")
    mandate(EXPORT_EBC, BANK)
    mandate(IMPORT_EBC, BANK)
    statements: list[str] = []
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]

    @event.listens_for(app_engine, "before_cursor_execute")
    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def page_statements() -> int:
        statements.clear()
        assert client.get("/api/v1/forex/trade-lists", headers=banks[BANK]).status_code == 200
        return sum(s.lstrip().upper().startswith("SELECT") for s in statements)

    first = trade_list(payments=[{"payNo": "PAY-FIRST"}])
    one_list = page_statements()
    assert one_list > 0
    made = [first] + [
        trade_list(direction="I", ebc=IMPORT_EBC, payments=[{"payNo": f"PAY-{n}"}])
        for n in range(4)
    ]
    assert page_statements() == one_list, "a page's queries do not grow with its lists"

    page = client.get("/api/v1/forex/trade-lists", headers=banks[BANK]).json()["trade_lists"]
    assert [t["invt_no"] for t in page] == made
    for view, pay_no in zip(page, ["PAY-FIRST", "PAY-0", "PAY-1", "PAY-2", "PAY-3"], strict=True):
        assert view["order"]["orderNo"] == f"ORD-{view['invt_no']}"
        assert [m["payNo"] for m in view["money_documents"]] == [pay_no]
        assert len(view["lines"]) == 2
