"""汇总申报: released B export lists consolidated by a 701 into customs declarations (792).

A 701 names its lists, or a time window of release (which then wins). The lists are
grouped into declarations by ebc [+ ownerCode with summaryFlag 2], transport mode, arrival
country and exit port, and their lines into declaration items by final destination
country, 10-digit gcode, currency and unit [+ item name with itemNameFlag 1]; items are
numbered (gseqno) in the order their goods first appear in the lists. All grouping runs in
the database; Python only reads the (few) groups back.

The result goes out as CEB792 messages of at most 100 SummaryResults (the standard's entity
limit), each a declaration's head with at most 100 of its list lines: a declaration with
more lines repeats its head in the following entities. Every head carries its message's
msgCount/msgSeqNo, so the receiver knows when it has the whole result.
"""

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby, islice
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    any_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from app import audit
from app.auth import Agency, Caller, PrincipalKind
from app.ceb.catalogue import INBOUND, DocKind
from app.ceb.codes import ReturnStatus
from app.ceb.times import CHINA, app_time, parse_app_time, return_time
from app.customs import effects, numbers, receipting
from app.customs.models import (
    Document,
    Inventory,
    InventoryLine,
    Summary,
    SummaryDeclaration,
    SummaryLine,
    SummaryMember,
)
from app.customs.summary_schemas import (
    DeclarationPlan,
    DeclarationRead,
    OverdueReport,
    OverdueRow,
    SummaryDraftRead,
    SummaryLineRead,
    SummaryPlan,
    SummaryRead,
)
from app.errors import Forbidden, NotFound, RuleViolation
from app.receipts import service as receipts_service
from app.receipts.schemas import ReceiptDraft
from app.registry import service as registry_service

SPEC = INBOUND["CEB701"]
ERRORS = SPEC.errors
RESULTS_PER_MESSAGE = 100
LINES_PER_RESULT = 100
RELEASED = (int(ReturnStatus.RELEASED), int(ReturnStatus.CLOSED))
# Consolidation is due by the 15th of the month after release (DOMAIN.md §5).
DUE_DAY = 15
LIVE, SUPERSEDED, WITHDRAWN = "live", "superseded", "withdrawn"
# decState is customs' own code list; the window only ever reports the drafted declaration.
DEC_STATE_DRAFTED = "1"
_INFO_MAX = 1000
_SHOWN_PER_REASON = 20
_ONE_SECOND = timedelta(seconds=1)
_EMPTY = literal_column("''", String)
_Query = Select[*tuple[Any, ...]]
_GNUM_SPAN = 100_000  # gnum is N5


class SummaryNotFound(NotFound):
    pass


class SummaryRefused(RuleViolation):
    pass


@dataclass(frozen=True)
class _Request:
    """What a 701 asks for, checked: whose lists, which, and how to group them."""

    agent_code: str
    ebc_code: str
    customs_code: str
    by_owner: bool
    by_item_name: bool
    start: datetime | None
    end: datetime | None
    invt_nos: tuple[str, ...]

    @property
    def windowed(self) -> bool:
        return self.start is not None


# ---------------------------------------------------------------- the 701


def apply_summary(
    session: Session,
    *,
    head: Mapping[str, str],
    lines: Sequence[Mapping[str, str]],
    at: datetime,
) -> dict[str, str]:
    """A declared 701 consolidates its lists, or changes (2) or deletes (3) a live summary.

    A list joins at most one live summary; a change or delete frees the lists of the one it
    replaces, until a declaration of it is filed. Raises effects.Refusal naming the lists
    that may not be consolidated. Returns the sumNo for the 702.
    """
    # All or nothing: a refusal must not leave a half-replaced summary behind.
    with session.begin_nested():
        return _apply(session, head, lines, at)


def _apply(
    session: Session, head: Mapping[str, str], lines: Sequence[Mapping[str, str]], at: datetime
) -> dict[str, str]:
    agent_code, cop_no = head.get("agentCode", ""), head.get("copNo", "")
    current = session.scalars(
        select(Summary)
        .where(Summary.agent_code == agent_code, Summary.cop_no == cop_no, Summary.status == LIVE)
        .with_for_update()
    ).first()
    if current is not None:
        _refuse_if_declared(session, current)
    if head.get("appType") == "3":
        if current is None:
            return {}
        _end(session, current, WITHDRAWN, at=at)
        return {"sumNo": current.sum_no}
    request = _parse(head, lines)
    if current is not None:
        _end(session, current, SUPERSEDED, at=at)
        sum_no, version = current.sum_no, current.version + 1
    else:
        serial = numbers.allocate(session, 1)[0]
        sum_no, version = _number(serial, request.customs_code, "S", at), 1
    summary = Summary(
        sum_no=sum_no,
        version=version,
        status=LIVE,
        guid=head.get("guid", ""),
        customs_code=request.customs_code,
        cop_no=cop_no,
        agent_code=agent_code,
        agent_name=head.get("agentName", ""),
        ebc_code=request.ebc_code,
        ebc_name=head.get("ebcName", ""),
        decl_agent_code=head.get("declAgentCode", ""),
        decl_agent_name=head.get("declAgentName", ""),
        summary_flag="2" if request.by_owner else "1",
        item_name_flag="1" if request.by_item_name else "0",
        start_time=request.start,
        end_time=request.end,
        note=head.get("note") or None,
        list_count=0,
        created_at=at,
    )
    session.add(summary)
    session.flush()
    _consolidate(session, summary, request, at=at)
    _issue_results(session, summary, doc_key=receipting.document_key(SPEC, head), at=at)
    return {"sumNo": sum_no}


def _parse(head: Mapping[str, str], lines: Sequence[Mapping[str, str]]) -> _Request:
    flag = head.get("summaryFlag", "")
    if flag not in ("1", "2"):
        raise effects.Refusal(
            ERRORS.invalid,
            f"summaryFlag [{flag}] 应为 1 (按收发货人) 或 2 (按收发货人和生产销售单位)",
        )
    if (head.get("msgCount") or "1") != "1" or (head.get("msgSeqNo") or "1") != "1":
        raise effects.Refusal(
            ERRORS.invalid,
            "不接受拆分的汇总申请 (msgCount/msgSeqNo 应为 1): "
            "表体不限条数，或改用 startTime/endTime",
        )
    start_text, end_text = head.get("startTime") or "", head.get("endTime") or ""
    start = end = None
    if start_text or end_text:
        if not (start_text and end_text):
            raise effects.Refusal(ERRORS.invalid, "汇总开始时间和结束时间须成对填写")
        try:
            start, end = parse_app_time(start_text), parse_app_time(end_text)
        except ValueError as exc:
            raise effects.Refusal(ERRORS.invalid, f"汇总时间格式错误: {exc}") from None
        if end < start:
            raise effects.Refusal(ERRORS.invalid, "汇总结束时间须大于等于开始时间")
    names = tuple(dict.fromkeys(n for line in lines if (n := line.get("invtNo", "").strip())))
    if start is None and not names:
        raise effects.Refusal(ERRORS.invalid, "汇总申请既未列出清单，也未指定时间范围")
    return _Request(
        agent_code=head.get("agentCode", ""),
        ebc_code=head.get("ebcCode", ""),
        customs_code=head.get("customsCode", ""),
        by_owner=flag == "2",
        by_item_name=head.get("itemNameFlag") == "1",
        start=start,
        end=end,
        invt_nos=() if start is not None else names,
    )


def _refuse_if_declared(session: Session, summary: Summary) -> None:
    filed = session.scalars(
        select(SummaryDeclaration.entry_id).where(
            SummaryDeclaration.summary_id == summary.id, SummaryDeclaration.entry_id.is_not(None)
        )
    ).first()
    if filed is not None:
        raise effects.Refusal(
            ERRORS.wrong_state,
            f"汇总申请[{summary.sum_no}]已生成报关单[{filed}]，不能再变更或删除",
        )


def _end(session: Session, summary: Summary, status: str, *, at: datetime) -> None:
    summary.status = status
    summary.ended_at = at
    session.execute(
        update(SummaryMember).where(SummaryMember.summary_id == summary.id).values(live=False)
    )
    audit.record(
        session,
        actor=f"enterprise:{summary.agent_code}",
        action=f"summary.{status}",
        subject_type="summary",
        subject_id=summary.sum_no,
        detail={"version": summary.version, "lists_freed": summary.list_count},
        at=at,
    )


# ---------------------------------------------------------------- selecting the lists


def _among(session: Session, column: QueryableAttribute[str | None], values: Sequence[str]) -> Any:
    """``column IN values`` as one bound parameter, however many values (no 65k limit)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("names", list(values), type_=ARRAY(String)))
    rows = select(literal_column("value", String)).select_from(
        func.json_each(json.dumps(list(values)))
    )
    return column.in_(rows)


def live_summary_of(session: Session, *, inventory_id: int) -> str | None:
    """The sumNo of the live summary that consolidated a list, if any."""
    return session.scalar(
        select(Summary.sum_no)
        .join(SummaryMember, SummaryMember.summary_id == Summary.id)
        .where(SummaryMember.inventory_id == inventory_id, SummaryMember.live)
    )


def _live_member() -> Any:
    return exists().where(SummaryMember.inventory_id == Inventory.id, SummaryMember.live)


def _summarisable() -> list[Any]:
    """Released export lists declared for consolidation (B) and in no live summary yet."""
    return [
        Inventory.direction == "E",
        Inventory.statistics_flag == "B",
        Inventory.status.in_(RELEASED),
        ~_live_member(),
    ]


def _selection(session: Session, request: _Request) -> list[Any]:
    where = [
        *_summarisable(),
        Inventory.agent_code == request.agent_code,
        Inventory.ebc_code == request.ebc_code,
        Inventory.customs_code == request.customs_code,
    ]
    if request.start is not None and request.end is not None:
        where += _window(request.start, request.end)
    else:
        where.append(_among(session, Inventory.invt_no, request.invt_nos))
    return where


def _window(start: datetime, end: datetime) -> list[Any]:
    # endTime is a whole second: a list released during it is still inside the window.
    return [Inventory.released_at >= start, Inventory.released_at < end + _ONE_SECOND]


def _check_named(session: Session, request: _Request) -> None:
    """Every named list must be the agent's and ebc's, released, B, free, at this customs."""
    rows = session.execute(
        select(
            Inventory.invt_no,
            Inventory.agent_code,
            Inventory.ebc_code,
            Inventory.customs_code,
            Inventory.statistics_flag,
            Inventory.status,
            Summary.sum_no,
        )
        .outerjoin(
            SummaryMember, and_(SummaryMember.inventory_id == Inventory.id, SummaryMember.live)
        )
        .outerjoin(Summary, Summary.id == SummaryMember.summary_id)
        .where(Inventory.direction == "E", _among(session, Inventory.invt_no, request.invt_nos))
    ).all()
    found = {row.invt_no for row in rows}
    problems: dict[str, list[str]] = {}

    def problem(reason: str, invt_no: str) -> None:
        problems.setdefault(reason, []).append(invt_no)

    for invt_no in request.invt_nos:
        if invt_no not in found:
            problem("系统中不存在的出口清单", invt_no)
    for row in rows:
        if row.agent_code != request.agent_code:
            problem(f"不属于申报企业[{request.agent_code}]", row.invt_no)
        elif row.ebc_code != request.ebc_code:
            problem(f"收发货人不是[{request.ebc_code}]", row.invt_no)
        elif row.customs_code != request.customs_code:
            problem(f"申报地海关不是[{request.customs_code}]", row.invt_no)
        elif row.status not in RELEASED:
            problem("未放行", row.invt_no)
        elif row.statistics_flag != "B":
            problem("不是汇总申报(B)清单", row.invt_no)
        elif row.sum_no is not None:
            problem(f"已在汇总申请[{row.sum_no}]中", row.invt_no)
    if problems:
        raise effects.Refusal(ERRORS.invalid, _listing("清单不符合汇总条件", problems))


def _listing(title: str, problems: Mapping[str, Sequence[str]]) -> str:
    """The refusal text naming the lists by reason, within the receipt's 1000 characters."""
    parts = []
    for reason, names in problems.items():
        shown = ",".join(names[:_SHOWN_PER_REASON])
        more = f" 等{len(names)}票" if len(names) > _SHOWN_PER_REASON else ""
        parts.append(f"{reason}: [{shown}]{more}")
    info = f"{title} — " + "; ".join(parts)
    return info if len(info) <= _INFO_MAX else info[: _INFO_MAX - 1] + "…"


def _taken_by_others(session: Session, request: _Request, summary_id: int) -> str:
    """After losing a race, the lists another summary took first (now committed)."""
    if request.start is not None and request.end is not None:
        scope = _window(request.start, request.end)
    else:
        scope = [_among(session, Inventory.invt_no, request.invt_nos)]
    rows = session.execute(
        select(Summary.sum_no, Inventory.invt_no)
        .join(SummaryMember, SummaryMember.inventory_id == Inventory.id)
        .join(Summary, Summary.id == SummaryMember.summary_id)
        .where(*scope, Inventory.agent_code == request.agent_code, SummaryMember.live)
        .where(Summary.id != summary_id)
        .order_by(Summary.sum_no, Inventory.invt_no)
    ).all()
    problems: dict[str, list[str]] = {}
    for sum_no, invt_no in rows:
        problems.setdefault(f"已在汇总申请[{sum_no}]中", []).append(str(invt_no))
    return _listing("清单已被同时提交的另一汇总申请占用", problems)


# ---------------------------------------------------------------- grouping, in SQL


def _head_keys(by_owner: bool) -> list[ColumnElement[Any]]:
    owner = func.coalesce(Inventory.owner_code, _EMPTY) if by_owner else _EMPTY
    return [
        Inventory.ebc_code.label("ebc_code"),
        owner.label("owner_code"),
        func.coalesce(Inventory.head["trafMode"].as_string(), _EMPTY).label("traf_mode"),
        Inventory.country.label("arrival_country"),
        Inventory.port_code.label("port_code"),
    ]


def _ranked(session: Session, request: _Request) -> _Query:
    """The selected lists, each with the number of the declaration its head keys lead to."""
    keyed = (
        select(Inventory.id.label("inventory_id"), *_head_keys(request.by_owner))
        .where(*_selection(session, request))
        .subquery("keyed")
    )
    order = [keyed.c.ebc_code, keyed.c.owner_code, keyed.c.traf_mode]
    order += [keyed.c.arrival_country, keyed.c.port_code]
    return select(
        keyed.c.inventory_id,
        func.dense_rank().over(order_by=order).label("declaration_seq"),
    )


def _declaration_groups(members: Subquery, by_owner: bool) -> _Query:
    lists = (
        select(
            members.c.declaration_seq,
            *_head_keys(by_owner),
            Inventory.gross_weight,
            Inventory.net_weight,
        )
        .join(Inventory, Inventory.id == members.c.inventory_id)
        .subquery("lists")
    )
    keys = [lists.c.declaration_seq, lists.c.ebc_code, lists.c.owner_code, lists.c.traf_mode]
    keys += [lists.c.arrival_country, lists.c.port_code]
    return (
        select(
            *keys,
            func.sum(lists.c.gross_weight).label("gross_weight"),
            func.sum(lists.c.net_weight).label("net_weight"),
            func.count().label("list_count"),
        )
        .group_by(*keys)
        .order_by(lists.c.declaration_seq)
    )


def _item_name(by_item_name: bool) -> ColumnElement[Any]:
    # The original goods name: itemName where the list gave one, its gname otherwise.
    if by_item_name:
        return func.coalesce(InventoryLine.item_name, InventoryLine.gname)
    return literal(None, String)


def _line_groups(members: Subquery, by_item_name: bool) -> _Query:
    lines = (
        select(
            members.c.declaration_seq,
            # Where a line stands among the summary's: list (in declaration order), then gnum.
            (InventoryLine.inventory_id * _GNUM_SPAN + InventoryLine.gnum).label("position"),
            InventoryLine.country,
            InventoryLine.gcode,
            InventoryLine.currency,
            InventoryLine.unit,
            _item_name(by_item_name).label("item_name"),
            InventoryLine.gname,
            InventoryLine.unit1,
            InventoryLine.unit2,
            InventoryLine.qty,
            InventoryLine.qty1,
            InventoryLine.qty2,
            InventoryLine.total_price,
        )
        .join(InventoryLine, InventoryLine.inventory_id == members.c.inventory_id)
        .subquery("lines")
    )
    keys = [lines.c.country, lines.c.gcode, lines.c.currency, lines.c.unit]
    if by_item_name:
        keys.append(lines.c.item_name)
        names = [lines.c.item_name, lines.c.item_name.label("gname")]
    else:
        names = [literal(None, String).label("item_name"), func.min(lines.c.gname).label("gname")]
    return (
        select(
            lines.c.declaration_seq,
            # Items are numbered in the order their goods first appear in the lists.
            func.row_number()
            .over(partition_by=lines.c.declaration_seq, order_by=func.min(lines.c.position))
            .label("gseqno"),
            *keys[:4],
            *names,
            # The legal units follow from the HS code, so lines of one item share them.
            func.min(lines.c.unit1).label("unit1"),
            func.min(lines.c.unit2).label("unit2"),
            func.sum(lines.c.qty).label("qty"),
            func.sum(lines.c.qty1).label("qty1"),
            func.sum(lines.c.qty2).label("qty2"),
            func.sum(lines.c.total_price).label("total_price"),
            func.count().label("line_count"),
        )
        .group_by(lines.c.declaration_seq, *keys)
        .order_by(lines.c.declaration_seq, "gseqno")
    )


def _consolidate(session: Session, summary: Summary, request: _Request, *, at: datetime) -> None:
    if not request.windowed:
        _check_named(session, request)
    ranked = _ranked(session, request).subquery("ranked")
    try:
        with session.begin_nested():
            claimed = (
                session.connection()
                .execute(
                    insert(SummaryMember).from_select(
                        ["summary_id", "inventory_id", "declaration_seq", "live"],
                        select(
                            literal(summary.id),
                            ranked.c.inventory_id,
                            ranked.c.declaration_seq,
                            literal(True),
                        ),
                    ),
                    # SQLAlchemy keeps an INSERT's rowcount only when asked to.
                    execution_options={"preserve_rowcount": True},
                )
                .rowcount
            )
    except IntegrityError:
        # Another 701 claimed some of these lists and committed while this one was checking.
        raise effects.Refusal(
            ERRORS.exists, _taken_by_others(session, request, summary.id)
        ) from None
    if not claimed:
        raise effects.Refusal(
            ERRORS.invalid,
            f"时间范围内没有可汇总的清单 (申报企业[{request.agent_code}]、"
            f"收发货人[{request.ebc_code}]、海关[{request.customs_code}]、已放行、B、未汇总)",
        )
    summary.list_count = claimed
    _analyze(session, "customs_summary_member")
    members = (
        select(SummaryMember.inventory_id, SummaryMember.declaration_seq)
        .where(SummaryMember.summary_id == summary.id)
        .subquery("members")
    )
    groups = session.execute(_declaration_groups(members, request.by_owner)).all()
    serials = numbers.allocate(session, len(groups))
    session.add_all(
        SummaryDeclaration(
            summary_id=summary.id,
            seq=group.declaration_seq,
            decl_seq_no=_number(serial, summary.customs_code, "D", at),
            ebc_code=group.ebc_code,
            owner_code=group.owner_code or None,
            traf_mode=group.traf_mode or None,
            arrival_country=group.arrival_country,
            port_code=group.port_code,
            gross_weight=group.gross_weight,
            net_weight=group.net_weight,
            list_count=group.list_count,
            dec_state=DEC_STATE_DRAFTED,
        )
        for group, serial in zip(groups, serials, strict=True)
    )
    session.flush()
    items = _line_groups(members, request.by_item_name).subquery("items")
    columns = ["gseqno", "country", "gcode", "currency", "unit", "item_name", "gname"]
    columns += ["unit1", "unit2", "qty", "qty1", "qty2", "total_price", "line_count"]
    session.execute(
        insert(SummaryLine).from_select(
            ["declaration_id", *columns],
            select(SummaryDeclaration.id, *(items.c[name] for name in columns)).join(
                SummaryDeclaration,
                and_(
                    SummaryDeclaration.summary_id == summary.id,
                    SummaryDeclaration.seq == items.c.declaration_seq,
                ),
            ),
        )
    )
    _analyze(session, "customs_summary_declaration", "customs_summary_line")
    audit.record(
        session,
        actor=f"enterprise:{summary.agent_code}",
        action="summary.consolidated",
        subject_type="summary",
        subject_id=summary.sum_no,
        detail={
            "version": summary.version,
            "lists": claimed,
            "declarations": len(groups),
            "window": [app_time(request.start), app_time(request.end)]
            if request.start and request.end
            else None,
        },
        at=at,
    )


def _analyze(session: Session, *tables: str) -> None:
    """Fresh planner statistics for rows this transaction just wrote (PostgreSQL).

    Without them the planner guesses a summary's members at 0.5 % of the table and joins a
    million list lines by nested loops (12 s instead of 0.9 s for 250,000 lines). ANALYZE
    sees the transaction's own rows; its lock only serialises concurrent 701s from here on.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {', '.join(tables)}"))


def _number(serial: int, customs_code: str, kind: str, at: datetime) -> str:
    """sumNo / declSeqNo: customs code, year, S or D, 9-digit serial (18 characters)."""
    return f"{customs_code}{at.astimezone(CHINA).year}{kind}{serial % 10**9:09d}"


# ---------------------------------------------------------------- the 792


def _mapping(summary: Summary) -> _Query:
    """Every list line of the summary with the declaration item (gseqno) it went into."""
    same_item = [
        SummaryLine.declaration_id == SummaryDeclaration.id,
        SummaryLine.country == InventoryLine.country,
        SummaryLine.gcode == InventoryLine.gcode,
        SummaryLine.currency == InventoryLine.currency,
        SummaryLine.unit == InventoryLine.unit,
    ]
    if summary.item_name_flag == "1":
        same_item.append(
            SummaryLine.item_name == func.coalesce(InventoryLine.item_name, InventoryLine.gname)
        )
    return (
        select(
            SummaryDeclaration.seq,
            Inventory.invt_no,
            Inventory.logistics_no,
            SummaryLine.gseqno,
            InventoryLine.gnum,
            InventoryLine.gcode,
        )
        .select_from(SummaryMember)
        .join(Inventory, Inventory.id == SummaryMember.inventory_id)
        .join(InventoryLine, InventoryLine.inventory_id == Inventory.id)
        .join(
            SummaryDeclaration,
            and_(
                SummaryDeclaration.summary_id == SummaryMember.summary_id,
                SummaryDeclaration.seq == SummaryMember.declaration_seq,
            ),
        )
        .join(SummaryLine, and_(*same_item))
        .where(SummaryMember.summary_id == summary.id)
        .order_by(SummaryDeclaration.seq, SummaryLine.gseqno, Inventory.invt_no, InventoryLine.gnum)
    )


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _result_head(
    summary: Summary, declaration: SummaryDeclaration, *, msg_count: int, msg_seq: int, at: datetime
) -> dict[str, str]:
    return {
        "guid": str(uuid.uuid4()).upper(),
        "customsCode": summary.customs_code,
        "sumNo": summary.sum_no,
        "opDate": return_time(at),
        "declSeqNo": declaration.decl_seq_no,
        "decState": declaration.dec_state,
        "agentCode": summary.agent_code,
        "agentName": summary.agent_name,
        "ebcCode": summary.ebc_code,
        "ebcName": summary.ebc_name,
        "declAgentCode": summary.decl_agent_code,
        "declAgentName": summary.decl_agent_name,
        "grossWeight": _decimal(declaration.gross_weight),
        "netWeight": _decimal(declaration.net_weight),
        "msgCount": str(msg_count),
        "msgSeqNo": str(msg_seq),
        "note": "按收发货人和生产销售单位汇总" if summary.summary_flag == "2" else "按收发货人汇总",
    }


def _issue_results(session: Session, summary: Summary, *, doc_key: str, at: datetime) -> None:
    """The 792 messages, streamed: memory stays bounded however many list lines there are."""
    declarations = {
        d.seq: d
        for d in session.scalars(
            select(SummaryDeclaration).where(SummaryDeclaration.summary_id == summary.id)
        )
    }
    line_counts = session.execute(
        select(SummaryLine.declaration_id, func.sum(SummaryLine.line_count))
        .where(SummaryLine.declaration_id.in_([d.id for d in declarations.values()]))
        .group_by(SummaryLine.declaration_id)
    ).all()
    entities = sum(-(-int(count) // LINES_PER_RESULT) for _, count in line_counts)
    msg_count = -(-entities // RESULTS_PER_MESSAGE)
    recipients = sorted({summary.agent_code, summary.decl_agent_code})
    results: list[dict[str, Any]] = []
    msg_seq = 1

    def send() -> None:
        receipts_service.issue(
            session,
            drafts=[
                ReceiptDraft(
                    recipient_code=recipient,
                    message_type="CEB792",
                    doc_kind=DocKind.SUMMARY.value,
                    doc_key=doc_key,
                    return_status=int(ReturnStatus.CONCLUDED),
                    return_info=f"汇总结果 {summary.sum_no} 第{msg_seq}/{msg_count}份",
                    fields={"results": results},
                )
                for recipient in recipients
            ],
            at=at,
        )
        # Flushed receipts leave the session's strong references, so memory stays flat.
        session.flush()

    if session.get_bind().dialect.name == "postgresql":
        # The rows stream from a server-side cursor, which PostgreSQL plans for its first
        # 10 %; this one is read to the end: plan for that.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1"))
    rows = session.execute(_mapping(summary), execution_options={"yield_per": 10_000})
    for seq, group in groupby(rows, key=lambda row: row.seq):
        declaration = declarations[seq]
        for chunk in _chunks(group, LINES_PER_RESULT):
            results.append(
                {
                    "head": _result_head(
                        summary, declaration, msg_count=msg_count, msg_seq=msg_seq, at=at
                    ),
                    "lines": [
                        {
                            "invtNo": row.invt_no,
                            "logisticsNo": row.logistics_no,
                            "gseqno": str(row.gseqno),
                            "gnum": str(row.gnum),
                            "gcode": row.gcode,
                        }
                        for row in chunk
                    ],
                }
            )
            if len(results) == RESULTS_PER_MESSAGE:
                send()
                results = []
                msg_seq += 1
    if results:
        send()


# ---------------------------------------------------------------- reading


def _line_read(row: Any) -> SummaryLineRead:
    return SummaryLineRead(
        gseqno=row.gseqno,
        country=row.country,
        gcode=row.gcode,
        currency=row.currency,
        unit=row.unit,
        item_name=row.item_name,
        gname=row.gname,
        unit1=row.unit1,
        unit2=row.unit2,
        qty=row.qty,
        qty1=row.qty1,
        qty2=row.qty2,
        total_price=row.total_price,
        line_count=row.line_count,
    )


def preview(
    session: Session, *, caller: Caller, head: Mapping[str, str], lines: Sequence[Mapping[str, str]]
) -> SummaryPlan:
    """The declarations a 701 would produce now, by the same checks and SQL, committing nothing."""
    agent_code = caller.require_enterprise(head.get("agentCode") or None)
    try:
        request = _parse({**head, "agentCode": agent_code}, lines)
        if not request.windowed:
            _check_named(session, request)
    except effects.Refusal as refusal:
        raise SummaryRefused(f"{refusal.code} {refusal.info}") from None
    members = _ranked(session, request).subquery("members")
    groups = session.execute(_declaration_groups(members, request.by_owner)).all()
    if not groups:
        raise SummaryRefused(f"{ERRORS.invalid} 时间范围内没有可汇总的清单")
    items: dict[int, list[SummaryLineRead]] = {}
    for row in session.execute(_line_groups(members, request.by_item_name)):
        items.setdefault(row.declaration_seq, []).append(_line_read(row))
    declarations = [
        DeclarationPlan(
            seq=group.declaration_seq,
            ebc_code=group.ebc_code,
            owner_code=group.owner_code or None,
            traf_mode=group.traf_mode or None,
            arrival_country=group.arrival_country,
            port_code=group.port_code,
            gross_weight=group.gross_weight,
            net_weight=group.net_weight,
            list_count=group.list_count,
            lines=items.get(group.declaration_seq, []),
        )
        for group in groups
    ]
    return SummaryPlan(
        list_count=sum(d.list_count for d in declarations), declarations=declarations
    )


def _may_see(caller: Caller, summary: Summary) -> bool:
    if caller.is_admin:
        return True
    if caller.kind is PrincipalKind.OFFICER:
        return caller.agency is Agency.CUSTOMS and summary.customs_code in caller.customs_codes
    if caller.kind is PrincipalKind.ENTERPRISE:
        return caller.enterprise_code in (
            summary.agent_code,
            summary.ebc_code,
            summary.decl_agent_code,
        )
    return False


def get_summary(session: Session, *, sum_no: str, caller: Caller) -> SummaryRead:
    """A summary's latest version with its declarations and items, for its parties and customs."""
    summary = session.scalars(
        select(Summary).where(Summary.sum_no == sum_no).order_by(Summary.version.desc()).limit(1)
    ).first()
    if summary is None or not _may_see(caller, summary):
        raise SummaryNotFound(f"no summary {sum_no}")
    declarations = session.scalars(
        select(SummaryDeclaration)
        .where(SummaryDeclaration.summary_id == summary.id)
        .order_by(SummaryDeclaration.seq)
    ).all()
    items: dict[int, list[SummaryLineRead]] = {}
    for line in session.scalars(
        select(SummaryLine)
        .where(SummaryLine.declaration_id.in_([d.id for d in declarations]))
        .order_by(SummaryLine.declaration_id, SummaryLine.gseqno)
    ):
        items.setdefault(line.declaration_id, []).append(SummaryLineRead.model_validate(line))
    return SummaryRead(
        sum_no=summary.sum_no,
        version=summary.version,
        status=summary.status,
        customs_code=summary.customs_code,
        cop_no=summary.cop_no,
        agent_code=summary.agent_code,
        ebc_code=summary.ebc_code,
        decl_agent_code=summary.decl_agent_code,
        summary_flag=summary.summary_flag,
        item_name_flag=summary.item_name_flag,
        start_time=summary.start_time,
        end_time=summary.end_time,
        list_count=summary.list_count,
        created_at=summary.created_at,
        ended_at=summary.ended_at,
        declarations=[
            DeclarationRead(
                seq=d.seq,
                decl_seq_no=d.decl_seq_no,
                ebc_code=d.ebc_code,
                owner_code=d.owner_code,
                traf_mode=d.traf_mode,
                arrival_country=d.arrival_country,
                port_code=d.port_code,
                gross_weight=d.gross_weight,
                net_weight=d.net_weight,
                list_count=d.list_count,
                dec_state=d.dec_state,
                entry_id=d.entry_id,
                lines=items.get(d.id, []),
            )
            for d in declarations
        ],
    )


# ---------------------------------------------------------------- the monthly round


def _month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=CHINA).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def previous_month(now: datetime) -> date:
    """The first day of the month before ``now`` (China time): what the 1st's draft covers."""
    today = now.astimezone(CHINA).date()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def overdue_cutoff(now: datetime) -> datetime:
    """Lists released before this instant have passed their 15th-of-next-month deadline."""
    return _month_start((now.astimezone(CHINA) - timedelta(days=DUE_DAY)).date())


def draft_month(session: Session, *, month: date, now: datetime) -> list[SummaryDraftRead]:
    """Per agent, ebc and customs code, stage a 701 covering the month's unsummarised B lists.

    The draft selects by time window, so it also covers lists released later in that month
    when the agent declares it; drafting again changes nothing (the copNo is the month's).
    """
    start, end = _month_start(month), _month_start(_next_month(month))
    groups = session.execute(
        select(Inventory.agent_code, Inventory.ebc_code, Inventory.customs_code, func.count())
        .where(*_summarisable(), Inventory.released_at >= start, Inventory.released_at < end)
        .group_by(Inventory.agent_code, Inventory.ebc_code, Inventory.customs_code)
        .order_by(Inventory.agent_code, Inventory.ebc_code, Inventory.customs_code)
    ).all()
    drafts = []
    for agent_code, ebc_code, customs_code, count in groups:
        cop_no = f"M{month:%Y%m}{customs_code}{ebc_code}"
        document = session.scalars(
            select(Document).where(
                Document.kind == DocKind.SUMMARY.value,
                Document.direction == "E",
                Document.business_key == f"{agent_code}|{cop_no}|1",
            )
        ).first()
        created = document is None
        if document is None:
            head = _draft_head(session, agent_code, ebc_code, customs_code, cop_no, start, end, now)
            document = _stage_draft(session, head, count=count, month=month, now=now)
        drafts.append(
            SummaryDraftRead(
                agent_code=agent_code,
                ebc_code=ebc_code,
                customs_code=customs_code,
                cop_no=cop_no,
                pre_no=document.pre_no,
                start_time=app_time(start),
                end_time=app_time(end - _ONE_SECOND),
                list_count=count,
                created=created,
            )
        )
    return drafts


def _stage_draft(
    session: Session, head: dict[str, str], *, count: int, month: date, now: datetime
) -> Document:
    """The draft is a staged 701 of the agent's (appStatus 1), announced by a 702 receipt."""
    document = Document(
        kind=DocKind.SUMMARY.value,
        direction="E",
        business_key=f"{head['agentCode']}|{head['copNo']}|1",
        guid=head["guid"],
        app_type="1",
        app_time=now,
        app_status="1",
        status=int(ReturnStatus.STAGED),
        pre_no=numbers.pre_no(numbers.allocate(session, 1)[0], now),
        sender_code=head["agentCode"],
        # No message was received: the window wrote it; the id only has to be unique.
        message_id=uuid.uuid4(),
        head=head,
        lines=[],
    )
    session.add(document)
    receipts_service.issue(
        session,
        drafts=[
            receipting.draft(
                SPEC,
                head,
                recipient=head["agentCode"],
                status=int(ReturnStatus.STAGED),
                info=f"单一窗口已生成 {month:%Y-%m} 汇总申请草稿: {count} 票清单待汇总，"
                "请核对后签名申报 (appType 1, appStatus 2)",
                extra={"preNo": document.pre_no or ""},
            )
        ],
        at=now,
    )
    return document


def _draft_head(
    session: Session,
    agent_code: str,
    ebc_code: str,
    customs_code: str,
    cop_no: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[str, str]:
    agent = registry_service.get_enterprise(session, code=agent_code)
    ebc = registry_service.get_enterprise(session, code=ebc_code)
    return {
        "guid": str(uuid.uuid4()).upper(),
        "appType": "1",
        "appTime": app_time(now),
        "appStatus": "1",
        "customsCode": customs_code,
        "copNo": cop_no,
        "agentCode": agent_code,
        "agentName": agent.name,
        "ebcCode": ebc_code,
        "ebcName": ebc.name,
        "declAgentCode": agent_code,
        "declAgentName": agent.name,
        "startTime": app_time(start),
        "endTime": app_time(end - _ONE_SECOND),
        "summaryFlag": "1",
        "itemNameFlag": "0",
        "msgCount": "1",
        "msgSeqNo": "1",
    }


def overdue(session: Session, *, caller: Caller, now: datetime) -> OverdueReport:
    """Released B lists not in a live summary after the 15th of the month after release.

    An agent sees its own; a customs officer those of its customs codes; an admin all.
    """
    cutoff = overdue_cutoff(now)
    query = (
        select(
            Inventory.agent_code,
            Inventory.ebc_code,
            Inventory.customs_code,
            func.count().label("lists"),
            func.min(Inventory.released_at).label("earliest"),
        )
        .where(*_summarisable(), Inventory.released_at < cutoff)
        .group_by(Inventory.agent_code, Inventory.ebc_code, Inventory.customs_code)
        .order_by(Inventory.agent_code, Inventory.ebc_code, Inventory.customs_code)
    )
    if caller.kind is PrincipalKind.ENTERPRISE:
        query = query.where(Inventory.agent_code == caller.require_enterprise())
    elif caller.kind is PrincipalKind.OFFICER:
        caller.require_officer(Agency.CUSTOMS)
        query = query.where(Inventory.customs_code.in_(caller.customs_codes))
    elif not caller.is_admin:
        raise Forbidden("the overdue report is for agents and customs officers")
    rows = [
        OverdueRow(
            agent_code=agent_code,
            ebc_code=ebc_code,
            customs_code=customs_code,
            lists=lists,
            earliest_released_at=earliest,
            # Never null: the query keeps only lists released before the cutoff.
            deadline=_due_date(cast(datetime, earliest)),
        )
        for agent_code, ebc_code, customs_code, lists, earliest in session.execute(query)
    ]
    return OverdueReport(as_of=now, released_before=cutoff, rows=rows)


def _due_date(released_at: datetime) -> date:
    return _next_month(released_at.astimezone(CHINA).date()).replace(day=DUE_DAY)
