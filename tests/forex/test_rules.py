"""Every check rule on its own: a case it passes and the case that fails without it."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.customs.schemas import TradeListRead
from app.forex.rules import Facts, evaluate
from app.forex.schemas import CheckRequest, Outcome

EBC = "4301990002"
BUYER = "430102199001011234"
USD_RATE = Decimal("7.00000000")


def trade(direction: str = "E", status: int = 800, **over: Any) -> TradeListRead:
    """The golden export list (1010 goods + 35 freight + 5 insurance, CNY), or an import one."""
    export = direction == "E"
    data: dict[str, Any] = {
        "id": 1,
        "invt_no": f"49002026{direction}000000001",
        "direction": direction,
        "status": status,
        "ebc_code": EBC,
        "ebp_code": "4301990001",
        "agent_code": "4301990003",
        "order_no": "ORDER-1",
        "customs_code": "4900",
        "currency": "142",
        "goods_value": Decimal("1010"),
        "freight": Decimal("35"),
        "insured_fee": Decimal("5"),
        "released_at": datetime(2026, 11, 1, tzinfo=UTC),
        "buyer_id_number": None if export else BUYER,
        "lines": [
            {
                "gnum": 1,
                "gcode": "6911101900",
                "gname": "茶具",
                "currency": "142",
                "total_price": Decimal("536"),
            },
            {
                "gnum": 2,
                "gcode": "6214100000",
                "gname": "围巾",
                "currency": "142",
                "total_price": Decimal("474"),
            },
        ],
        "order": {"orderNo": "ORDER-1", "ebcCode": EBC}
        | ({} if export else {"buyerIdNumber": BUYER}),
        "payments": [
            {"payNo": "P1", "ebcCode": EBC, "charge": "1045.00", "currency": "142"}
            if export
            else {
                "payTransactionId": "P1",
                "amountPaid": "1045.00",
                "currency": "142",
                "payerIdNumber": BUYER,
            }
        ],
    }
    return TradeListRead.model_validate(data | over)


def request(**over: Any) -> CheckRequest:
    data: dict[str, Any] = {
        "kind": "collection",
        "invt_no": "49002026E000000001",
        "amount": Decimal("1045"),
        "currency": "142",
        "account_holder": EBC,
    }
    return CheckRequest.model_validate(data | over)


def facts(**over: Any) -> Facts:
    base = Facts(
        request=request(),
        trade=trade(),
        value_date=date(2026, 11, 2),
        rates={"502": USD_RATE},
        mandate_exception=None,
        collecting_entity=None,
        fx_directory_status="not_registered",
        fx_class=None,
        allocated=Decimal(0),
        line_allocated={},
        returned=None,
        ytd_usd=Decimal(0),
        tolerance=Decimal("0.01"),
    )
    return replace(base, **over)


def rule(f: Facts, rule_id: str) -> tuple[Outcome, str]:
    found = [r for r in evaluate(f).results if r.id == rule_id]
    assert found, f"{rule_id} did not run"
    return found[0].outcome, found[0].explanation


def test_the_golden_export_collection_passes_every_rule() -> None:
    evaluation = evaluate(facts())
    assert {r.id: r.outcome for r in evaluation.results} == {
        "FX-STATUS": Outcome.PASS,
        "FX-DIRECTION": Outcome.PASS,
        "FX-SUBJECT": Outcome.PASS,
        "FX-AMOUNT": Outcome.PASS,
        "FX-LEDGER": Outcome.PASS,
        "FX-RETURNED": Outcome.PASS,
        "FX-DIRECTORY": Outcome.PASS,
        "FX-CLASS": Outcome.PASS,
        "FX-LARGE": Outcome.PASS,
    }
    assert evaluation.outcome is Outcome.PASS
    assert evaluation.allocation == Decimal("1045")
    assert all(r.explanation for r in evaluation.results)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (800, Outcome.PASS),
        (899, Outcome.PASS),
        (120, Outcome.HOLD),
        (300, Outcome.HOLD),
        (399, Outcome.HOLD),
        (500, Outcome.HOLD),
        (100, Outcome.REJECT),
        (501, Outcome.REJECT),
        (599, Outcome.REJECT),
        (700, Outcome.REJECT),
        (1001, Outcome.REJECT),
    ],
)
def test_status_gate(status: int, outcome: Outcome) -> None:
    f = facts(trade=trade(status=status))
    assert rule(f, "FX-STATUS")[0] is outcome
    assert evaluate(f).outcome is outcome
    assert (evaluate(f).allocation is None) == (outcome not in (Outcome.PASS, Outcome.WARN))


def test_direction_collection_needs_an_export_list_and_payment_an_import_one() -> None:
    assert rule(facts(trade=trade("I")), "FX-DIRECTION")[0] is Outcome.REJECT
    payment = request(kind="payment", amount=Decimal("1045"))
    assert rule(facts(request=payment), "FX-DIRECTION")[0] is Outcome.REJECT
    assert rule(facts(request=payment, trade=trade("I")), "FX-DIRECTION")[0] is Outcome.PASS


class TestSubjectConsistency:
    def test_account_holder_must_be_the_enterprise(self) -> None:
        outcome, why = rule(facts(request=request(account_holder="4301990099")), "FX-SUBJECT")
        assert outcome is Outcome.REJECT
        assert "4301990099" in why

    def test_the_403_must_name_the_lists_enterprise(self) -> None:
        other = trade(
            payments=[{"payNo": "P1", "ebcCode": "4301990099", "charge": "1045", "currency": "142"}]
        )
        assert rule(facts(trade=other), "FX-SUBJECT")[0] is Outcome.REJECT

    def test_the_order_must_name_the_lists_enterprise(self) -> None:
        other = trade(order={"orderNo": "ORDER-1", "ebcCode": "4301990099"})
        assert rule(facts(trade=other), "FX-SUBJECT")[0] is Outcome.REJECT

    @pytest.mark.parametrize(
        "kind",
        [
            "foreign_trade_service",
            "payment_institution",
            "market_procurement",
            "individual_account",
        ],
    )
    def test_a_mandated_collector_may_hold_the_account(self, kind: str) -> None:
        collector = facts(
            request=request(account_holder="COLLECTOR-1"),
            mandate_exception=kind,
            collecting_entity="COLLECTOR-1",
        )
        assert rule(collector, "FX-SUBJECT")[0] is Outcome.PASS
        someone_else = replace(collector, request=request(account_holder="COLLECTOR-2"))
        assert rule(someone_else, "FX-SUBJECT")[0] is Outcome.REJECT

    def test_a_collector_without_an_exception_mandate_is_refused(self) -> None:
        plain = facts(request=request(account_holder="COLLECTOR-1"), collecting_entity=None)
        assert rule(plain, "FX-SUBJECT")[0] is Outcome.REJECT


class TestExportAmount:
    def test_above_the_403_beyond_the_tolerance_is_rejected(self) -> None:
        # 1045 × 1.01 = 1055.45
        assert rule(facts(request=request(amount=Decimal("1055"))), "FX-AMOUNT")[0] is (
            Outcome.WARN
        )
        assert rule(facts(request=request(amount=Decimal("1056"))), "FX-AMOUNT")[0] is (
            Outcome.REJECT
        )

    def test_netted_costs_count_towards_the_proceeds(self) -> None:
        netted = request(
            amount=Decimal("1000"),
            netting=[{"kind": "logistics", "amount": "45", "currency": "142"}],
        )
        assert rule(facts(request=netted), "FX-AMOUNT")[0] is Outcome.PASS
        assert evaluate(facts(request=netted)).allocation == Decimal("1045")
        too_much = request(
            amount=Decimal("1000"),
            netting=[{"kind": "overseas_warehousing", "amount": "100", "currency": "142"}],
        )
        assert rule(facts(request=too_much), "FX-AMOUNT")[0] is Outcome.REJECT

    def test_amounts_are_compared_after_conversion_at_the_stored_rate(self) -> None:
        usd = request(amount=Decimal("149"), currency="502")  # 1043.00 CNY at 7.0
        assert rule(facts(request=usd), "FX-AMOUNT")[0] is Outcome.PASS
        assert evaluate(facts(request=usd)).allocation == Decimal("1043.00000")
        dearer = facts(request=usd, rates={"502": Decimal("7.2")})  # 1072.80 CNY
        assert rule(dearer, "FX-AMOUNT")[0] is Outcome.REJECT
        netting_in_usd = request(
            amount=Decimal("1000"), netting=[{"kind": "tax", "amount": "6", "currency": "502"}]
        )
        assert evaluate(facts(request=netting_in_usd)).allocation == Decimal("1042.00000")

    def test_without_a_stored_rate_the_amount_is_held(self) -> None:
        outcome, why = rule(facts(request=request(currency="116"), rates={}), "FX-AMOUNT")
        assert outcome is Outcome.HOLD
        assert "116" in why

    def test_a_list_without_money_document_cannot_back_a_collection(self) -> None:
        assert rule(facts(trade=trade(payments=[])), "FX-AMOUNT")[0] is Outcome.REJECT

    def test_netting_is_refused_on_an_import_payment(self) -> None:
        with pytest.raises(ValueError, match="netting"):
            request(kind="payment", netting=[{"kind": "tax", "amount": "1", "currency": "142"}])


class TestImport:
    def payment(self, amount: str, **over: Any) -> Facts:
        return facts(
            request=request(kind="payment", amount=Decimal(amount)), trade=trade("I", **over)
        )

    def test_payment_is_at_most_the_sum_of_the_411s(self) -> None:
        assert rule(self.payment("1045"), "FX-PAYMENT")[0] is Outcome.PASS
        assert rule(self.payment("1100"), "FX-PAYMENT")[0] is Outcome.REJECT
        two = [
            {
                "payTransactionId": "P1",
                "amountPaid": "600",
                "currency": "142",
                "payerIdNumber": BUYER,
            },
            {
                "payTransactionId": "P2",
                "amountPaid": "445",
                "currency": "142",
                "payerIdNumber": BUYER,
            },
        ]
        assert rule(self.payment("1045", payments=two), "FX-PAYMENT")[0] is Outcome.PASS
        assert rule(self.payment("1045", payments=two[:1]), "FX-PAYMENT")[0] is Outcome.REJECT

    def test_the_payer_is_the_buyer(self) -> None:
        assert rule(self.payment("1045"), "FX-PAYER")[0] is Outcome.PASS
        stranger = [
            {
                "payTransactionId": "P1",
                "amountPaid": "1045",
                "currency": "142",
                "payerIdNumber": "430102199909099999",
            }
        ]
        outcome, _ = rule(self.payment("1045", payments=stranger), "FX-PAYER")
        assert outcome is Outcome.REJECT
        other_order = {"orderNo": "ORDER-1", "ebcCode": EBC, "buyerIdNumber": "X1"}
        assert rule(self.payment("1045", order=other_order), "FX-PAYER")[0] is Outcome.REJECT

    def test_explanations_do_not_carry_id_numbers(self) -> None:
        stranger = [
            {
                "payTransactionId": "P1",
                "amountPaid": "1045",
                "currency": "142",
                "payerIdNumber": "430102199909099999",
            }
        ]
        results = evaluate(self.payment("1045", payments=stranger)).results
        assert BUYER not in str(results) and "430102199909099999" not in str(results)

    def test_collection_rules_do_not_apply_to_payments(self) -> None:
        ids = {r.id for r in evaluate(self.payment("1045")).results}
        assert "FX-AMOUNT" not in ids and {"FX-PAYMENT", "FX-PAYER"} <= ids


class TestLedger:
    def test_a_list_backs_settlements_only_up_to_its_value(self) -> None:
        assert evaluate(facts(allocated=Decimal("5"))).outcome is Outcome.PASS
        outcome, why = rule(facts(allocated=Decimal("1050")), "FX-LEDGER")
        assert outcome is Outcome.REJECT and "fully allocated" in why
        assert rule(facts(allocated=Decimal("900")), "FX-LEDGER")[0] is Outcome.REJECT

    def test_a_little_over_the_rest_takes_the_rest_with_a_warning(self) -> None:
        # 1045 asked, 1040 left; within 1 % of 1050 (10.50)
        f = facts(allocated=Decimal("10"))
        assert rule(f, "FX-LEDGER")[0] is Outcome.WARN
        assert evaluate(f).allocation == Decimal("1040")

    def test_a_line_backs_settlements_only_up_to_its_value(self) -> None:
        shares = request(lines=[{"gnum": 1, "amount": "536"}, {"gnum": 2, "amount": "474"}])
        assert evaluate(facts(request=shares)).line_allocations == {
            1: Decimal("536"),
            2: Decimal("474"),
        }
        taken = facts(request=shares, line_allocated={1: Decimal("1")})
        outcome, why = rule(taken, "FX-LEDGER")
        assert outcome is Outcome.REJECT and "line 1" in why
        unknown = request(lines=[{"gnum": 3, "amount": "1"}])
        assert rule(facts(request=unknown), "FX-LEDGER")[0] is Outcome.REJECT

    def test_line_shares_cannot_exceed_the_settlement(self) -> None:
        shares = request(amount=Decimal("500"), lines=[{"gnum": 1, "amount": "536"}])
        assert rule(facts(request=shares), "FX-LEDGER")[0] is Outcome.REJECT


def test_a_list_refunded_after_release_is_held() -> None:
    outcome, why = rule(facts(returned="refunded"), "FX-RETURNED")
    assert outcome is Outcome.HOLD and "refunded" in why
    assert evaluate(facts(returned="refunded")).allocation is None


class TestDirectory:
    def big(self, usd: str, **over: Any) -> Facts:
        amount = Decimal(usd)
        value = amount * 8
        return facts(
            request=request(amount=amount, currency="502"),
            trade=trade(
                goods_value=value,
                freight=Decimal(0),
                insured_fee=Decimal(0),
                payments=[{"payNo": "P", "ebcCode": EBC, "charge": str(value), "currency": "142"}],
            ),
            **over,
        )

    def test_unregistered_enterprises_are_exempt_below_usd_180000(self) -> None:
        assert rule(self.big("10000", ytd_usd=Decimal("169999")), "FX-DIRECTORY")[0] is (
            Outcome.PASS
        )

    def test_warn_from_usd_180000(self) -> None:
        assert rule(self.big("10000", ytd_usd=Decimal("170000")), "FX-DIRECTORY")[0] is (
            Outcome.WARN
        )

    def test_hold_above_usd_200000_when_not_registered(self) -> None:
        over = self.big("10000", ytd_usd=Decimal("190001"))
        assert rule(over, "FX-DIRECTORY")[0] is Outcome.HOLD
        assert evaluate(over).allocation is None
        registered = replace(over, fx_directory_status="registered")
        assert rule(registered, "FX-DIRECTORY")[0] is Outcome.PASS

    def test_without_a_usd_rate_the_threshold_cannot_be_judged(self) -> None:
        assert rule(facts(rates={}), "FX-DIRECTORY")[0] is Outcome.HOLD

    def test_above_usd_100000_is_flagged(self) -> None:
        flagged = self.big("100001", fx_directory_status="registered")
        assert rule(flagged, "FX-LARGE")[0] is Outcome.WARN
        evaluation = evaluate(flagged)
        assert evaluation.flagged and evaluation.outcome is Outcome.WARN
        assert evaluation.allocation is not None
        assert not evaluate(self.big("100000", fx_directory_status="registered")).flagged


class TestFxClass:
    def test_class_b_is_checked_without_tolerance(self) -> None:
        slightly_over = request(amount=Decimal("1050"))  # the 403 says 1045
        assert evaluate(facts(request=slightly_over, fx_class="A")).outcome is Outcome.WARN
        strict = facts(request=slightly_over, fx_class="B")
        assert rule(strict, "FX-AMOUNT")[0] is Outcome.REJECT
        assert rule(strict, "FX-CLASS")[0] is Outcome.PASS
        assert evaluate(facts(fx_class="B")).outcome is Outcome.PASS

    def test_class_c_holds_without_safe_registration(self) -> None:
        assert rule(facts(fx_class="C"), "FX-CLASS")[0] is Outcome.HOLD
        registered = facts(fx_class="C", request=request(safe_registration_no="SAFE-2026-1"))
        assert rule(registered, "FX-CLASS")[0] is Outcome.PASS


def test_the_worst_rule_decides() -> None:
    held_and_rejected = facts(fx_class="C", request=request(account_holder="4301990099"))
    assert evaluate(held_and_rejected).outcome is Outcome.REJECT
    assert evaluate(facts(fx_class="C")).outcome is Outcome.HOLD
