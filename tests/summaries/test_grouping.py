"""Consolidation rules of the service: grouping, selection, refusals, change/delete, preview."""

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth import Caller, PrincipalKind
from app.customs import summaries
from app.customs.effects import Refusal
from app.customs.models import Inventory, Summary, SummaryDeclaration, SummaryMember
from app.customs.summary_schemas import DeclarationPlan, SummaryRead
from app.receipts.models import Receipt
from tests.summaries.factories import (
    AGENT,
    DISTRACTORS,
    EBC,
    NOVEMBER_10,
    OCTOBER_WINDOW,
    OTHER_OWNER,
    SCARF,
    TEA,
    Line,
    ListSpec,
    head_701,
    invt,
)

Factory = sessionmaker[Session]
ADMIN = Caller(principal_id=None, kind=PrincipalKind.ADMIN, name="test admin")
AGENT_CALLER = Caller(
    principal_id=None,
    kind=PrincipalKind.ENTERPRISE,
    name="agent",
    enterprise_code=AGENT,
    roles=frozenset({"agent"}),
)
MONTH_LISTS = [invt(n) for n in range(1, 6)]


def names(*invt_nos: str) -> list[dict[str, str]]:
    return [{"invtNo": n} for n in invt_nos]


def summarise(
    factory: Factory,
    head: dict[str, str],
    lines: Sequence[dict[str, str]] = (),
    at: datetime = NOVEMBER_10,
) -> str:
    with factory.begin() as session:
        return summaries.apply_summary(session, head=head, lines=lines, at=at)["sumNo"]


def read(factory: Factory, sum_no: str) -> SummaryRead:
    with factory() as session:
        return summaries.get_summary(session, sum_no=sum_no, caller=ADMIN)


def refusal(
    factory: Factory, head: dict[str, str], lines: Sequence[dict[str, str]] = ()
) -> Refusal:
    with pytest.raises(Refusal) as caught, factory.begin() as session:
        summaries.apply_summary(session, head=head, lines=lines, at=NOVEMBER_10)
    return caught.value


def shape(declarations: Sequence[DeclarationPlan]) -> list[tuple[Any, ...]]:
    """Declarations as (head keys, weights, list count, [items]) for comparison."""
    return [
        (
            d.seq,
            d.owner_code,
            d.traf_mode,
            d.arrival_country,
            d.port_code,
            d.gross_weight,
            d.net_weight,
            d.list_count,
            [
                (
                    line.gseqno,
                    line.country,
                    line.gcode,
                    line.currency,
                    line.unit,
                    line.item_name,
                    line.gname,
                    line.qty,
                    line.qty1,
                    line.total_price,
                    line.line_count,
                )
                for line in d.lines
            ],
        )
        for d in declarations
    ]


def D(value: str) -> Decimal:
    return Decimal(value)


# By ebc only, items by destination, gcode, currency, unit: worked out by hand from MONTH.
# Items are numbered in the order their goods first appear (list 1 line 1, 1/2, … 4/2).
BY_EBC = [
    (1, None, "4", "132", "4900", D("1.2"), D("1.0"), 1, [
        (1, "132", TEA, "142", "006", None, "茶具", D(1), D(1), D(268), 1),
    ]),
    (2, None, "5", "132", "4900", D("3.5"), D("2.7"), 3, [
        (1, "132", TEA, "142", "006", None, "茶具", D(4), D(4), D(1104), 3),
        (2, "132", SCARF, "142", "015", None, "围巾", D(3), D("0.3"), D(474), 1),
        (3, "122", SCARF, "142", "015", None, "围巾", D(2), D("0.2"), D(316), 1),
    ]),
    (3, None, "5", "502", "4900", D("3.0"), D("2.5"), 1, [
        (1, "502", TEA, "142", "006", None, "茶具", D(4), D(4), D(1000), 1),
        (2, "502", SCARF, "142", "015", None, "围巾", D(1), D("0.1"), D(150), 1),
    ]),
]  # fmt: skip
# By ebc and owner, items also by the list's item name.
BY_OWNER_AND_NAME = [
    (1, EBC, "4", "132", "4900", D("1.2"), D("1.0"), 1, [
        (1, "132", TEA, "142", "006", "瓷茶具", "瓷茶具", D(1), D(1), D(268), 1),
    ]),
    (2, EBC, "5", "132", "4900", D("2.5"), D("1.9"), 2, [
        (1, "132", TEA, "142", "006", "瓷茶具", "瓷茶具", D(3), D(3), D(804), 2),
        (2, "132", SCARF, "142", "015", "丝巾", "丝巾", D(3), D("0.3"), D(474), 1),
        (3, "122", SCARF, "142", "015", "丝巾", "丝巾", D(2), D("0.2"), D(316), 1),
    ]),
    (3, EBC, "5", "502", "4900", D("3.0"), D("2.5"), 1, [
        (1, "502", TEA, "142", "006", "瓷茶具", "瓷茶具", D(4), D(4), D(1000), 1),
        (2, "502", SCARF, "142", "015", "丝巾", "丝巾", D(1), D("0.1"), D(150), 1),
    ]),
    (4, OTHER_OWNER, "5", "132", "4900", D("1.0"), D("0.8"), 1, [
        (1, "132", TEA, "142", "006", "茶具套装", "茶具套装", D(1), D(1), D(300), 1),
    ]),
]  # fmt: skip


def mapping(factory: Factory, sum_no: str) -> dict[tuple[str, int], tuple[int, int]]:
    """(invtNo, gnum) → (declaration seq, gseqno), read back from the 792 receipts."""
    with factory() as session:
        results = [
            result
            for receipt in session.scalars(
                select(Receipt).where(Receipt.message_type == "CEB792").order_by(Receipt.id)
            )
            for result in receipt.fields["results"]
            if result["head"]["sumNo"] == sum_no
        ]
        seqs = {d.decl_seq_no: d.seq for d in session.scalars(select(SummaryDeclaration))}
    found: dict[tuple[str, int], tuple[int, int]] = {}
    for result in results:
        for line in result["lines"]:
            key = (line["invtNo"], int(line["gnum"]))
            assert key not in found, "every list line is mapped once"
            found[key] = (seqs[result["head"]["declSeqNo"]], int(line["gseqno"]))
    return found


class TestGrouping:
    def test_by_ebc_groups_heads_and_items_of_the_window(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(**OCTOBER_WINDOW))
        summary = read(session_factory, sum_no)
        assert summary.list_count == 5, "the distractors stay out"
        assert shape(summary.declarations) == BY_EBC
        assert mapping(session_factory, sum_no) == {
            (invt(5), 1): (1, 1),
            (invt(1), 1): (2, 1),
            (invt(2), 1): (2, 1),
            (invt(4), 1): (2, 1),
            (invt(1), 2): (2, 2),
            (invt(4), 2): (2, 3),
            (invt(3), 1): (3, 1),
            (invt(3), 2): (3, 2),
        }

    def test_by_owner_and_item_name(self, session_factory: Factory, month: dict[str, int]) -> None:
        head = head_701(summaryFlag="2", itemNameFlag="1")
        sum_no = summarise(session_factory, head, names(*MONTH_LISTS))
        summary = read(session_factory, sum_no)
        assert (summary.summary_flag, summary.item_name_flag) == ("2", "1")
        assert shape(summary.declarations) == BY_OWNER_AND_NAME
        assert mapping(session_factory, sum_no)[(invt(2), 1)] == (4, 1)

    def test_a_missing_item_name_groups_by_the_goods_name(
        self, session_factory: Factory, make: Callable[..., Inventory]
    ) -> None:
        make(ListSpec(invt(1), [Line("132", TEA, "006", "1", "10", gname="茶具")]))
        make(ListSpec(invt(2), [Line("132", TEA, "006", "2", "20", item_name="茶具")]))
        sum_no = summarise(session_factory, head_701(itemNameFlag="1"), names(invt(1), invt(2)))
        [declaration] = read(session_factory, sum_no).declarations
        assert [(item.item_name, item.qty) for item in declaration.lines] == [("茶具", D(3))]

    def test_each_declaration_gets_its_own_numbers(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(**OCTOBER_WINDOW))
        summary = read(session_factory, sum_no)
        numbers = [d.decl_seq_no for d in summary.declarations]
        assert sum_no.startswith("49002026S") and len(sum_no) == 18
        assert all(n.startswith("49002026D") and len(n) == 18 for n in numbers)
        assert len(set(numbers)) == 3
        assert {d.dec_state for d in summary.declarations} == {"1"}


class TestSelection:
    def test_named_lists_only(self, session_factory: Factory, month: dict[str, int]) -> None:
        sum_no = summarise(session_factory, head_701(), names(invt(1), invt(4), invt(1)))
        summary = read(session_factory, sum_no)
        assert summary.list_count == 2
        assert [(d.arrival_country, d.list_count) for d in summary.declarations] == [("132", 2)]

    def test_the_window_wins_over_named_lists(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(**OCTOBER_WINDOW), names(invt(1)))
        assert read(session_factory, sum_no).list_count == 5

    def test_the_window_takes_only_free_lists_and_its_end_second(
        self, session_factory: Factory, month: dict[str, int], make: Callable[..., Inventory]
    ) -> None:
        last_second = datetime.fromisoformat("2026-10-31T15:59:59.900+00:00")
        make(ListSpec(invt(21), [Line("132", TEA, "006", "1", "1")], released_at=last_second))
        first = summarise(session_factory, head_701(), names(invt(1)))
        second = summarise(session_factory, head_701(copNo="SUM-0002", **OCTOBER_WINDOW))
        assert read(session_factory, first).list_count == 1
        assert read(session_factory, second).list_count == 5, "4 left of the month + 23:59:59"


class TestRefusals:
    @pytest.mark.parametrize(
        ("why", "says"),
        [
            ("simplified (A)", "不是汇总申报(B)清单"),
            ("not released", "未放行"),
            ("another agent", f"不属于申报企业[{AGENT}]"),
            ("another ebc", f"收发货人不是[{EBC}]"),
            ("another customs", "申报地海关不是[4900]"),
        ],
    )
    def test_a_named_list_that_may_not_be_summarised(
        self, why: str, says: str, session_factory: Factory, month: dict[str, int]
    ) -> None:
        bad = DISTRACTORS[why].invt_no
        refused = refusal(session_factory, head_701(), names(invt(1), bad))
        assert refused.code == -2999
        assert f"{says}: [{bad}]" in refused.info
        assert invt(1) not in refused.info, "only the offending lists are named"

    def test_a_list_from_another_month_may_be_named(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(
            session_factory, head_701(), names(DISTRACTORS["released in November"].invt_no)
        )
        assert read(session_factory, sum_no).list_count == 1

    def test_unknown_and_import_lists(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        refused = refusal(session_factory, head_701(), names("49002026E999999999", invt(1)))
        assert "系统中不存在的出口清单: [49002026E999999999]" in refused.info

    def test_a_list_in_another_live_summary(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        first = summarise(session_factory, head_701(), names(invt(1)))
        refused = refusal(session_factory, head_701(copNo="SUM-0002"), names(invt(1), invt(2)))
        assert f"已在汇总申请[{first}]中: [{invt(1)}]" in refused.info

    def test_every_reason_is_named_at_once(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        bad = [DISTRACTORS[why].invt_no for why in ("simplified (A)", "not released")]
        refused = refusal(session_factory, head_701(), names(*bad))
        assert all(n in refused.info for n in bad)

    @pytest.mark.parametrize(
        ("fields", "says"),
        [
            ({"summaryFlag": "3"}, "summaryFlag [3]"),
            ({"startTime": "20261001000000"}, "须成对填写"),
            ({"startTime": "20261031000000", "endTime": "20261001000000"}, "大于等于开始时间"),
            ({"startTime": "20261301000000", "endTime": "20261302000000"}, "时间格式错误"),
            ({"msgCount": "2", "msgSeqNo": "1"}, "不接受拆分的汇总申请"),
            ({}, "既未列出清单，也未指定时间范围"),
            ({"startTime": "20260901000000", "endTime": "20260930235959"}, "没有可汇总的清单"),
        ],
    )
    def test_a_malformed_request(
        self, fields: dict[str, str], says: str, session_factory: Factory, month: dict[str, int]
    ) -> None:
        refused = refusal(session_factory, head_701(**fields))
        assert refused.code == -2999
        assert says in refused.info

    def test_a_refusal_leaves_nothing_behind(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        first = summarise(session_factory, head_701(), names(invt(1)))
        refusal(session_factory, head_701(appType="2"), names(DISTRACTORS["not released"].invt_no))
        with session_factory() as session:
            assert session.scalars(select(Summary.status)).all() == ["live"]
            assert session.scalar(select(func.count()).select_from(SummaryMember)) == 1
        assert read(session_factory, first).version == 1

    def test_the_info_fits_the_receipt(self, session_factory: Factory) -> None:
        refused = refusal(session_factory, head_701(), names(*(invt(n) for n in range(100, 400))))
        assert len(refused.info) <= 1000
        assert "等300票" in refused.info


class TestChangeAndDelete:
    def test_a_change_replaces_the_lists_under_the_same_number(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(), names(invt(1), invt(2)))
        changed = summarise(session_factory, head_701(appType="2"), names(invt(3)))
        assert changed == sum_no
        summary = read(session_factory, sum_no)
        assert (summary.version, summary.status, summary.list_count) == (2, "live", 1)
        with session_factory() as session:
            statuses = session.execute(
                select(Summary.version, Summary.status).order_by(Summary.version)
            ).all()
        assert [tuple(s) for s in statuses] == [(1, "superseded"), (2, "live")]
        other = summarise(session_factory, head_701(copNo="SUM-0002"), names(invt(1), invt(2)))
        assert read(session_factory, other).list_count == 2, "the change freed them"

    def test_a_change_may_keep_its_lists(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        summarise(session_factory, head_701(), names(invt(1)))
        sum_no = summarise(session_factory, head_701(appType="2", summaryFlag="2"), names(invt(1)))
        assert read(session_factory, sum_no).summary_flag == "2"

    def test_a_delete_withdraws_and_frees(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(**OCTOBER_WINDOW))
        assert summarise(session_factory, head_701(appType="3")) == sum_no
        summary = read(session_factory, sum_no)
        assert (summary.status, summary.ended_at) == ("withdrawn", NOVEMBER_10)
        again = summarise(session_factory, head_701(copNo="SUM-0002", **OCTOBER_WINDOW))
        assert read(session_factory, again).list_count == 5

    def test_no_change_once_a_declaration_is_filed(
        self, session_factory: Factory, month: dict[str, int]
    ) -> None:
        sum_no = summarise(session_factory, head_701(), names(invt(1)))
        with session_factory.begin() as session:
            declaration = session.scalars(select(SummaryDeclaration)).one()
            declaration.entry_id = "490020261000000001"
        for app_type in ("2", "3"):
            refused = refusal(session_factory, head_701(appType=app_type), names(invt(2)))
            assert refused.code == -2999
            assert f"[{sum_no}]已生成报关单[490020261000000001]" in refused.info
        assert read(session_factory, sum_no).status == "live"


class TestPreview:
    @pytest.mark.parametrize(
        ("fields", "expected"),
        [({}, BY_EBC), ({"summaryFlag": "2", "itemNameFlag": "1"}, BY_OWNER_AND_NAME)],
    )
    def test_the_preview_is_what_a_701_commits(
        self,
        fields: dict[str, str],
        expected: list[Any],
        session_factory: Factory,
        month: dict[str, int],
    ) -> None:
        head = head_701(**fields, **OCTOBER_WINDOW)
        with session_factory.begin() as session:
            plan = summaries.preview(session, caller=AGENT_CALLER, head=head, lines=[])
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Summary)) == 0
        sum_no = summarise(session_factory, head)
        committed = read(session_factory, sum_no)
        assert shape(plan.declarations) == shape(committed.declarations) == expected
        assert plan.list_count == committed.list_count == 5
