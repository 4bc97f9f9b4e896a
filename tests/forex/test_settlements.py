"""Checks and settlements through the API: the ledger, idempotency, reversal, rates, policy."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.audit import AuditEntry
from app.forex.models import Allocation, CheckRecord, Ledger, LedgerLine, Settlement
from tests.forex.conftest import BANK, EXPORT_EBC, IMPORT_EBC, OTHER_BANK

Headers = dict[str, str]


@pytest.fixture
def setup(
    register: Callable[..., Headers],
    mandate: Callable[..., None],
    rates: Callable[..., None],
    banks: dict[str, Headers],
) -> dict[str, Headers]:
    register(EXPORT_EBC, "ebc")
    register(IMPORT_EBC, "ebc", fx_directory_status="registered", fx_class="A")
    mandate(EXPORT_EBC, BANK)
    mandate(IMPORT_EBC, BANK)
    rates(("502", "2026-10-01", "7.00"), ("502", "2026-11-01", "7.10"))
    return banks


def body(invt_no: str, **over: Any) -> dict[str, Any]:
    return {
        "kind": "collection",
        "invt_no": invt_no,
        "amount": "1045.00",
        "currency": "142",
        "account_holder": EXPORT_EBC,
        "value_date": "2026-11-02",
        **over,
    }


def settle(client: TestClient, headers: Headers, invt_no: str, ref: str, **over: Any) -> Any:
    response = client.post(
        "/api/v1/forex/settlements", json=body(invt_no, bank_ref=ref, **over), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def unallocated(client: TestClient, headers: Headers, invt_no: str) -> Decimal:
    view = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=headers).json()
    return Decimal(view["unallocated"])


def outcomes(result: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in result["rules"]}


def test_a_settlement_allocates_and_the_rest_stays_available(
    client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
) -> None:
    bank = setup[BANK]
    invt_no = trade_list()
    first = settle(client, bank, invt_no, "R1", amount="1000")
    assert first["status"] == "settled" and first["outcome"] == "PASS"
    assert Decimal(first["allocated"]) == Decimal("1000")
    assert first["list_currency"] == "142"
    assert Decimal(first["amount_usd"]) == Decimal("140.84507")  # 1000 / 7.10
    assert unallocated(client, bank, invt_no) == Decimal("50")

    too_much = settle(client, bank, invt_no, "R2", amount="100")
    assert too_much["status"] == "rejected" and too_much["allocated"] is None
    assert outcomes(too_much)["FX-LEDGER"] == "REJECT"
    assert unallocated(client, bank, invt_no) == Decimal("50")

    # 55 asked, 50 left: within 1 % of 1050, takes the rest
    rest = settle(
        client,
        bank,
        invt_no,
        "R3",
        amount="45",
        netting=[{"kind": "logistics", "amount": "10", "currency": "142"}],
    )
    assert rest["outcome"] == "WARN" and Decimal(rest["allocated"]) == Decimal("50")
    assert unallocated(client, bank, invt_no) == Decimal("0")
    full = settle(client, bank, invt_no, "R4", amount="1")
    assert full["status"] == "rejected"


def test_a_dry_run_is_recorded_and_allocates_nothing(
    client: TestClient,
    setup: dict[str, Headers],
    trade_list: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    invt_no = trade_list()
    checked = client.post("/api/v1/forex/checks", json=body(invt_no), headers=setup[BANK])
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert result["outcome"] == "PASS"
    assert Decimal(result["allocatable"]) == Decimal("1045")
    assert unallocated(client, setup[BANK], invt_no) == Decimal("1050")
    with session_factory() as session:
        record = session.get(CheckRecord, result["check_id"])
        assert record is not None and record.kind == "check" and record.bank_code == BANK
        assert {r["id"] for r in record.rules} >= {"FX-STATUS", "FX-LEDGER", "FX-SUBJECT"}
        assert record.inputs["rates"] == {"502": "7.10000000"}
        assert record.inputs["list"]["value"] == "1050.00000"
        assert session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_a_bank_cannot_check_or_settle_lists_of_enterprises_that_did_not_mandate_it(
    client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
) -> None:
    invt_no = trade_list()
    other = setup[OTHER_BANK]
    assert client.post("/api/v1/forex/checks", json=body(invt_no), headers=other).status_code == 404
    refused = client.post(
        "/api/v1/forex/settlements", json=body(invt_no, bank_ref="X1"), headers=other
    )
    assert refused.status_code == 404
    assert unallocated(client, setup[BANK], invt_no) == Decimal("1050")


class TestIdempotency:
    def test_the_same_request_returns_the_same_result_once_allocated(
        self,
        client: TestClient,
        setup: dict[str, Headers],
        trade_list: Callable[..., str],
        session_factory: sessionmaker[Session],
    ) -> None:
        invt_no = trade_list()
        first = client.post(
            "/api/v1/forex/settlements", json=body(invt_no, bank_ref="R1"), headers=setup[BANK]
        )
        again = client.post(
            "/api/v1/forex/settlements",
            json=body(invt_no, bank_ref="R1", amount="1045.0000"),
            headers=setup[BANK],
        )
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert first.json() == again.json()
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Settlement)) == 1
            assert session.scalar(select(func.count()).select_from(Allocation)) == 1
        assert unallocated(client, setup[BANK], invt_no) == Decimal("5")

    def test_another_request_under_a_used_bank_ref_is_a_conflict(
        self, client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
    ) -> None:
        invt_no = trade_list()
        settle(client, setup[BANK], invt_no, "R1", amount="100")
        reused = client.post(
            "/api/v1/forex/settlements",
            json=body(invt_no, bank_ref="R1", amount="200"),
            headers=setup[BANK],
        )
        assert reused.status_code == 409
        assert reused.json()["error"] == "BankRefReused"
        assert unallocated(client, setup[BANK], invt_no) == Decimal("950")

    def test_a_held_or_rejected_outcome_is_replayed_too(
        self, client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
    ) -> None:
        invt_no = trade_list(status=300)
        held = settle(client, setup[BANK], invt_no, "H1")
        assert held["status"] == "held" and held["outcome"] == "HOLD"
        assert settle(client, setup[BANK], invt_no, "H1") == held

    def test_bank_refs_are_per_bank(
        self,
        client: TestClient,
        setup: dict[str, Headers],
        mandate: Callable[..., None],
        trade_list: Callable[..., str],
    ) -> None:
        mandate(EXPORT_EBC, BANK, OTHER_BANK)
        invt_no = trade_list()
        mine = settle(client, setup[BANK], invt_no, "SAME", amount="100")
        theirs = settle(client, setup[OTHER_BANK], invt_no, "SAME", amount="200")
        assert mine["id"] != theirs["id"]
        assert unallocated(client, setup[BANK], invt_no) == Decimal("750")


class TestReversal:
    def test_a_reversal_gives_the_value_back_once(
        self,
        client: TestClient,
        setup: dict[str, Headers],
        trade_list: Callable[..., str],
        session_factory: sessionmaker[Session],
    ) -> None:
        bank = setup[BANK]
        invt_no = trade_list()
        settled = settle(
            client, bank, invt_no, "R1", amount="500", lines=[{"gnum": 1, "amount": "400"}]
        )
        path = f"/api/v1/forex/settlements/{settled['id']}/reverse"
        reversed_ = client.post(path, json={"reason": "customer recalled"}, headers=bank)
        assert reversed_.status_code == 200, reversed_.text
        assert reversed_.json()["status"] == "reversed"
        assert reversed_.json()["reversal_reason"] == "customer recalled"
        assert unallocated(client, bank, invt_no) == Decimal("1050")
        again = client.post(path, json={"reason": "twice"}, headers=bank)
        assert again.status_code == 200 and again.json() == reversed_.json()
        with session_factory() as session:
            ledger = session.scalars(select(Ledger).where(Ledger.invt_no == invt_no)).one()
            assert ledger.allocated == 0
            line = session.get(LedgerLine, (ledger.id, 1))
            assert line is not None and line.allocated == 0
            journal = session.scalars(select(Allocation.amount)).all()
            assert sorted(journal) == [-500, -400, 400, 500]
            actions = session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == settled["id"])
            ).all()
            assert actions == ["forex.settlement", "forex.settlement.reversed"]
        fetched = client.get(f"/api/v1/forex/settlements/{settled['id']}", headers=bank)
        assert fetched.json() == reversed_.json()

    def test_only_a_settled_settlement_of_ones_own_is_reversed(
        self, client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
    ) -> None:
        held = settle(client, setup[BANK], trade_list(status=120), "H1")
        refused = client.post(
            f"/api/v1/forex/settlements/{held['id']}/reverse",
            json={"reason": "nothing"},
            headers=setup[BANK],
        )
        assert refused.status_code == 409
        settled = settle(client, setup[BANK], trade_list(), "S1", amount="10")
        theirs = client.post(
            f"/api/v1/forex/settlements/{settled['id']}/reverse",
            json={"reason": "not mine"},
            headers=setup[OTHER_BANK],
        )
        assert theirs.status_code == 404
        assert (
            client.get(
                f"/api/v1/forex/settlements/{settled['id']}", headers=setup[OTHER_BANK]
            ).status_code
            == 404
        )


def test_line_shares_are_allocated_per_line(
    client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
) -> None:
    bank = setup[BANK]
    invt_no = trade_list()
    settle(client, bank, invt_no, "L1", amount="536", lines=[{"gnum": 1, "amount": "536"}])
    view = client.get(f"/api/v1/forex/trade-lists/{invt_no}", headers=bank).json()
    assert [Decimal(line["unallocated"]) for line in view["lines"]] == [0, 474]
    again = settle(client, bank, invt_no, "L2", amount="10", lines=[{"gnum": 1, "amount": "10"}])
    assert again["status"] == "rejected"
    assert outcomes(again)["FX-LEDGER"] == "REJECT"
    other_line = settle(
        client, bank, invt_no, "L3", amount="474", lines=[{"gnum": 2, "amount": "474"}]
    )
    assert other_line["status"] == "settled"


def test_an_import_payment_is_checked_against_its_411_and_buyer(
    client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
) -> None:
    bank = setup[BANK]
    invt_no = trade_list(direction="I", ebc=IMPORT_EBC)
    paid = settle(
        client, bank, invt_no, "P1", kind="payment", amount="1045", account_holder=IMPORT_EBC
    )
    assert paid["status"] == "settled", paid
    assert outcomes(paid)["FX-PAYMENT"] == outcomes(paid)["FX-PAYER"] == "PASS"
    stranger = trade_list(
        direction="I", ebc=IMPORT_EBC, payments=[{"payerIdNumber": "430102199909099999"}]
    )
    refused = settle(
        client, bank, stranger, "P2", kind="payment", amount="100", account_holder=IMPORT_EBC
    )
    assert refused["status"] == "rejected" and outcomes(refused)["FX-PAYER"] == "REJECT"
    wrong_way = settle(client, bank, invt_no, "P3", amount="10", account_holder=IMPORT_EBC)
    assert outcomes(wrong_way)["FX-DIRECTION"] == "REJECT"


def test_a_mandated_collector_settles_for_the_enterprise(
    client: TestClient,
    setup: dict[str, Headers],
    mandate: Callable[..., None],
    trade_list: Callable[..., str],
) -> None:
    invt_no = trade_list()
    third_party = settle(client, setup[BANK], invt_no, "C1", account_holder="4301990088")
    assert outcomes(third_party)["FX-SUBJECT"] == "REJECT"
    mandate(
        EXPORT_EBC,
        {
            "bank_code": BANK,
            "exception_kind": "foreign_trade_service",
            "collecting_entity": "4301990088",
        },
    )
    collected = settle(client, setup[BANK], invt_no, "C2", account_holder="4301990088")
    assert collected["status"] == "settled"
    assert outcomes(collected)["FX-SUBJECT"] == "PASS"


def test_the_year_to_date_counts_settled_usd_per_enterprise(
    client: TestClient,
    setup: dict[str, Headers],
    trade_list: Callable[..., str],
) -> None:
    bank = setup[BANK]
    big = {
        "lines": [Decimal("2000000")],
        "freight": Decimal(0),
        "insured_fee": Decimal(0),
        "payments": [{"charge": "2000000"}],
    }
    usd = {"currency": "502", "value_date": "2026-11-02"}
    first = settle(client, bank, trade_list(**big), "Y1", amount="150000", **usd)
    assert first["status"] == "settled" and first["flagged"] is True
    assert outcomes(first)["FX-LARGE"] == "WARN"
    second = settle(client, bank, trade_list(**big), "Y2", amount="35000", **usd)
    assert outcomes(second)["FX-DIRECTORY"] == "WARN", "185,000 this year"
    third = settle(client, bank, trade_list(**big), "Y3", amount="20000", **usd)
    assert third["status"] == "held" and outcomes(third)["FX-DIRECTORY"] == "HOLD"
    path = f"/api/v1/forex/settlements/{second['id']}/reverse"
    assert client.post(path, json={"reason": "recalled"}, headers=bank).status_code == 200
    fourth = settle(client, bank, trade_list(**big), "Y4", amount="20000", **usd)
    assert fourth["status"] == "settled", "the reversal gave the year its 35,000 back"
    next_year = settle(
        client,
        bank,
        trade_list(**big),
        "Y5",
        amount="60000",
        currency="502",
        value_date="2027-01-04",
    )
    assert outcomes(next_year)["FX-DIRECTORY"] == "PASS"


def test_fx_class_comes_from_the_registry(
    client: TestClient,
    admin: Headers,
    setup: dict[str, Headers],
    trade_list: Callable[..., str],
) -> None:
    changed = client.patch(
        f"/api/v1/enterprises/{EXPORT_EBC}", json={"fx_class": "C"}, headers=admin
    )
    assert changed.status_code == 200
    invt_no = trade_list()
    held = settle(client, setup[BANK], invt_no, "C1")
    assert held["status"] == "held" and outcomes(held)["FX-CLASS"] == "HOLD"
    registered = settle(client, setup[BANK], invt_no, "C2", safe_registration_no="SAFE-1")
    assert registered["status"] == "settled"


class TestRatesAndPolicy:
    def test_rates_in_force_on_the_value_date_are_used(
        self, client: TestClient, setup: dict[str, Headers], trade_list: Callable[..., str]
    ) -> None:
        invt_no = trade_list()
        october = client.post(
            "/api/v1/forex/checks",
            json=body(invt_no, amount="100", currency="502", value_date="2026-10-15"),
            headers=setup[BANK],
        ).json()
        assert Decimal(october["allocatable"]) == Decimal("700")
        november = client.post(
            "/api/v1/forex/checks",
            json=body(invt_no, amount="100", currency="502", value_date="2026-11-15"),
            headers=setup[BANK],
        ).json()
        assert Decimal(november["allocatable"]) == Decimal("710")
        before_any = client.post(
            "/api/v1/forex/checks",
            json=body(invt_no, amount="100", currency="502", value_date="2026-09-30"),
            headers=setup[BANK],
        ).json()
        assert before_any["outcome"] == "HOLD"

    def test_rates_are_loaded_by_administrators_and_read_by_banks(
        self, client: TestClient, admin: Headers, setup: dict[str, Headers]
    ) -> None:
        payload = {
            "rates": [{"currency": "116", "effective_date": "2026-11-01", "rate": "0.047853"}]
        }
        assert client.put("/api/v1/forex/rates", json=payload, headers=setup[BANK]).status_code == (
            403
        )
        assert client.put("/api/v1/forex/rates", json=payload, headers=admin).json() == {
            "loaded": 1
        }
        got = client.get("/api/v1/forex/rates?on=2026-11-20", headers=setup[BANK]).json()
        assert {(r["currency"], r["effective_date"], Decimal(r["rate"])) for r in got} == {
            ("116", "2026-11-01", Decimal("0.047853")),
            ("502", "2026-11-01", Decimal("7.10")),
        }
        history = client.get("/api/v1/forex/rates?currency=502", headers=admin).json()
        assert [r["effective_date"] for r in history] == ["2026-11-01", "2026-10-01"]
        payload["rates"][0]["rate"] = "0.048"
        client.put("/api/v1/forex/rates", json=payload, headers=admin)
        reloaded = client.get("/api/v1/forex/rates?currency=116", headers=admin).json()
        assert [Decimal(r["rate"]) for r in reloaded] == [Decimal("0.048")]

    def test_the_tolerance_is_configurable(
        self,
        client: TestClient,
        admin: Headers,
        setup: dict[str, Headers],
        trade_list: Callable[..., str],
    ) -> None:
        invt_no = trade_list()
        slightly_over = body(invt_no, amount="1050")  # the 403 says 1045
        assert (
            client.post("/api/v1/forex/checks", json=slightly_over, headers=setup[BANK]).json()[
                "outcome"
            ]
            == "WARN"
        )
        policy = client.put("/api/v1/forex/policy", json={"tolerance": "0"}, headers=admin)
        assert policy.status_code == 200 and policy.json()["version"] == 1
        strict = client.post("/api/v1/forex/checks", json=slightly_over, headers=setup[BANK])
        assert strict.json()["outcome"] == "REJECT" and strict.json()["policy_version"] == 1
        assert client.get("/api/v1/forex/policy", headers=setup[BANK]).json() == {
            "tolerance": "0.00000",
            "version": 1,
        }
        assert (
            client.put("/api/v1/forex/policy", json={"tolerance": "0"}, headers=setup[BANK])
        ).status_code == 403


def test_a_registered_enterprise_still_counts_its_year(
    client: TestClient,
    admin: Headers,
    setup: dict[str, Headers],
    trade_list: Callable[..., str],
) -> None:
    big = {
        "direction": "I",
        "ebc": IMPORT_EBC,
        "lines": [Decimal("2000000")],
        "freight": Decimal(0),
        "insured_fee": Decimal(0),
        "payments": [{"amountPaid": "2000000"}],
    }
    payment = {"kind": "payment", "currency": "502", "account_holder": IMPORT_EBC}
    first = settle(client, setup[BANK], trade_list(**big), "G1", amount="190000", **payment)
    assert outcomes(first)["FX-DIRECTORY"] == "PASS", "registered: no threshold"
    client.patch(
        f"/api/v1/enterprises/{IMPORT_EBC}",
        json={"fx_directory_status": "not_registered"},
        headers=admin,
    )
    second = settle(client, setup[BANK], trade_list(**big), "G2", amount="20000", **payment)
    assert outcomes(second)["FX-DIRECTORY"] == "HOLD", "190,000 already settled this year"
