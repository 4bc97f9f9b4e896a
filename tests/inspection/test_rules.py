"""The pure rules: sampling rates and draws, and the matching of the three lists."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.inspection import rules
from app.inspection.rules import DEFAULT_SAMPLING, Line
from app.inspection.schemas import (
    Ban,
    BanList,
    NegativeEntry,
    NegativeList,
    PositiveEntry,
    PositiveList,
    RiskTier,
    Sampling,
)
from app.registry.schemas import CreditClass

LISTS = 10_000


class TestSamplingRate:
    @pytest.mark.parametrize(
        ("credit", "expected"),
        [
            (CreditClass.ADVANCED, Decimal("0.00570")),
            (CreditClass.GENERAL, Decimal("0.02440")),
            (CreditClass.DISCREDITED, Decimal("0.84760")),
        ],
    )
    def test_medium_goods_get_the_2019_rate_of_the_credit_class(
        self, credit: CreditClass, expected: Decimal
    ) -> None:
        rate = rules.sampling_rate(DEFAULT_SAMPLING, tier=RiskTier.MEDIUM, credit_class=credit)
        assert rate == expected

    def test_rate_is_base_rate_of_the_tier_times_factor_of_the_class(self) -> None:
        sampling = Sampling(
            base_rates={
                RiskTier.LOW: Decimal("0.1"),
                RiskTier.MEDIUM: Decimal("0.2"),
                RiskTier.HIGH: Decimal("0.3"),
            },
            credit_factors={
                CreditClass.ADVANCED: Decimal("0.5"),
                CreditClass.GENERAL: Decimal(1),
                CreditClass.DISCREDITED: Decimal(2),
            },
        )
        assert rules.sampling_rate(
            sampling, tier=RiskTier.HIGH, credit_class=CreditClass.ADVANCED
        ) == Decimal("0.15")
        assert rules.sampling_rate(
            sampling, tier=RiskTier.LOW, credit_class=CreditClass.DISCREDITED
        ) == Decimal("0.2")

    def test_rate_never_exceeds_one(self) -> None:
        rate = rules.sampling_rate(
            DEFAULT_SAMPLING, tier=RiskTier.HIGH, credit_class=CreditClass.DISCREDITED
        )
        assert rate == 1

    def test_a_sampling_configuration_must_cover_every_tier_and_class(self) -> None:
        with pytest.raises(ValidationError, match="every tier"):
            Sampling(
                base_rates={RiskTier.LOW: Decimal("0.1")},
                credit_factors={c: Decimal(1) for c in CreditClass},
            )


class TestDraw:
    @pytest.mark.parametrize("credit", list(CreditClass))
    def test_selection_over_10000_lists_lands_within_bounds_of_the_rate(
        self, credit: CreditClass
    ) -> None:
        rate = rules.sampling_rate(DEFAULT_SAMPLING, tier=RiskTier.MEDIUM, credit_class=credit)
        seeds = random.Random(20261129)
        chosen = sum(
            rules.selected(rate, seed=f"{seeds.getrandbits(128):032x}", key=f"4900{n:014d}")
            for n in range(LISTS)
        )
        expected = float(rate) * LISTS
        # Four standard deviations of the binomial: a correct sampler is outside once in 15,000.
        bound = 4 * math.sqrt(LISTS * float(rate) * (1 - float(rate)))
        assert abs(chosen - expected) <= bound, (credit, chosen, expected)

    def test_the_same_seed_gives_the_same_selection(self) -> None:
        rate = Decimal("0.3")
        first = [rules.selected(rate, seed="5eed", key=f"L{n}") for n in range(1000)]
        again = [rules.selected(rate, seed="5eed", key=f"L{n}") for n in range(1000)]
        other = [rules.selected(rate, seed="0th3r", key=f"L{n}") for n in range(1000)]
        assert first == again
        assert first != other

    def test_draws_are_uniform_in_the_unit_interval(self) -> None:
        draws = [rules.draw("seed", str(n)) for n in range(LISTS)]
        assert all(0 <= d < 1 for d in draws)
        assert abs(sum(draws) / LISTS - Decimal("0.5")) < Decimal("0.02")

    def test_rate_zero_never_and_rate_one_always_selects(self) -> None:
        assert not any(rules.selected(Decimal(0), seed="s", key=str(n)) for n in range(1000))
        assert all(rules.selected(Decimal(1), seed="s", key=str(n)) for n in range(1000))


TEA = Line(1, "6911101900", "醴陵釉下五彩瓷茶具", "132")
CREAM = Line(1, "3304990099", "保湿修护面霜", "116")


class TestNegativeList:
    def test_a_prefix_entry_catches_goods_under_it(self) -> None:
        entries = NegativeList(
            entries=[NegativeEntry(id="p", category=3, hs_prefix="6911", reason="测试")]
        )
        hits = rules.negative_hits(entries, [TEA], direction="E")
        assert [h.rule_id for h in hits] == ["negative:p"]
        assert "第3类" in hits[0].reason

    def test_a_keyword_entry_catches_goods_by_name(self) -> None:
        entries = NegativeList(
            entries=[NegativeEntry(id="k", category=6, keyword="二手", reason="旧品")]
        )
        used = Line(2, "6911101900", "二手瓷茶具", "132")
        assert [h.rule_id for h in rules.negative_hits(entries, [TEA, used], direction="E")] == [
            "negative:k"
        ]

    def test_prefix_and_keyword_together_must_both_hold(self) -> None:
        entries = NegativeList(
            entries=[
                NegativeEntry(id="b", category=2, hs_prefix="6911", keyword="生", reason="生肉")
            ]
        )
        assert rules.negative_hits(entries, [TEA], direction="E") == []

    def test_an_import_only_entry_lets_exports_pass(self) -> None:
        entries = NegativeList(
            entries=[
                NegativeEntry(id="i", category=2, hs_prefix="6911", reason="准入", directions=["I"])
            ]
        )
        assert rules.negative_hits(entries, [TEA], direction="E") == []
        assert rules.negative_hits(entries, [TEA], direction="I") != []

    def test_an_entry_needs_a_prefix_or_a_keyword(self) -> None:
        with pytest.raises(ValidationError, match="hs_prefix or a keyword"):
            NegativeEntry(id="x", category=7, reason="nothing to match")

    def test_the_default_list_spares_the_golden_goods(self) -> None:
        lines = [TEA, Line(2, "6214100000", "湘绣真丝围巾", "132"), CREAM]
        assert rules.negative_hits(rules.DEFAULT_NEGATIVE, lines, direction="I") == []


class TestPositiveList:
    def test_goods_off_the_list_are_refused(self) -> None:
        entries = PositiveList(entries=[PositiveEntry(hs_code="3305")])
        assert [h.rule_id for h in rules.positive_hits(entries, [CREAM], trade_mode="9610")] == [
            "positive:absent"
        ]

    def test_bonded_only_goods_pass_bonded_and_not_direct_imports(self) -> None:
        entries = PositiveList(
            entries=[PositiveEntry(hs_code="3304", remark="限网购保税", bonded_only=True)]
        )
        assert rules.positive_hits(entries, [CREAM], trade_mode="1210") == []
        hits = rules.positive_hits(entries, [CREAM], trade_mode="9610")
        assert [h.rule_id for h in hits] == ["positive:bonded-only:3304"]

    def test_the_most_specific_entry_applies(self) -> None:
        entries = PositiveList(
            entries=[
                PositiveEntry(hs_code="3304", bonded_only=True),
                PositiveEntry(hs_code="3304990099"),
            ]
        )
        assert rules.positive_hits(entries, [CREAM], trade_mode="9610") == []


class TestBans:
    NOW = datetime(2026, 11, 6, tzinfo=UTC)

    def ban(self, **fields: object) -> BanList:
        body = {"id": "jp", "country": "116", "reason": "疫区", "valid_from": self.NOW, **fields}
        return BanList(bans=[Ban.model_validate(body)])

    def test_goods_from_a_banned_origin_are_refused_while_the_ban_lasts(self) -> None:
        bans = self.ban(valid_to=self.NOW + timedelta(days=30))
        assert [h.rule_id for h in rules.ban_hits(bans, [CREAM], at=self.NOW)] == ["ban:jp"]
        assert rules.ban_hits(bans, [CREAM], at=self.NOW - timedelta(seconds=1)) == []
        assert rules.ban_hits(bans, [CREAM], at=self.NOW + timedelta(days=30)) == []

    def test_a_ban_on_some_goods_spares_the_others(self) -> None:
        assert rules.ban_hits(self.ban(hs_prefix="0201"), [CREAM], at=self.NOW) == []

    def test_other_origins_are_not_banned(self) -> None:
        assert rules.ban_hits(self.ban(country="502"), [CREAM], at=self.NOW) == []

    def test_a_validity_window_must_be_in_order_and_zoned(self) -> None:
        with pytest.raises(ValidationError, match="after valid_from"):
            self.ban(valid_to=self.NOW)
        with pytest.raises(ValidationError, match="time zone"):
            self.ban(valid_from=datetime(2026, 11, 6))  # noqa: DTZ001
