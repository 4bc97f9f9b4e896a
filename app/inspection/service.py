"""Inspection use cases: filings and their review, the lists, screening accepted lists, tasks."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit, outbox
from app.auth import Agency, Caller, PrincipalKind
from app.errors import Conflict, Forbidden, NotFound, RuleViolation
from app.inspection import rules
from app.inspection.events import (
    EnterpriseFailedInspection,
    InspectionCleared,
    InspectionFailed,
    InspectionHeld,
)
from app.inspection.models import (
    CustomsExamination,
    EnterpriseFiling,
    GoodsFiling,
    ListVersion,
    Screening,
    Task,
)
from app.inspection.schemas import (
    TIER_ORDER,
    BanList,
    EnterpriseFilingCreate,
    FilingInvalidation,
    FilingReview,
    FilingStatus,
    GoodsFilingCreate,
    NegativeList,
    PositiveList,
    ReviewDecision,
    RiskTier,
    Sampling,
    TaskOutcome,
    TaskResult,
    enterprise_filing_no,
    goods_filing_id,
    goods_filing_no,
)
from app.registry import service as registry_service
from app.registry.schemas import CreditClass

SYSTEM = "system:inspection"
INSPECTION = 500
# Customs ended the list (rejected, returned abroad, withdrawn): an open task has no object.
_LIST_ENDED = frozenset({100, 700, 1001})
_LIVE = (FilingStatus.RECEIVED.value, FilingStatus.APPROVED.value)


class FilingNotFound(NotFound):
    pass


class FilingExists(Conflict):
    pass


class FilingStateConflict(Conflict):
    pass


class EnterpriseNotFiled(RuleViolation):
    pass


class TaskNotFound(NotFound):
    pass


class TaskClosed(Conflict):
    pass


class ScreeningNotFound(NotFound):
    pass


class ListChangedConcurrently(Conflict):
    pass


class FilingKind(StrEnum):
    ENTERPRISE = "enterprise"
    GOODS = "goods"


class ListKind(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"
    BANS = "bans"
    SAMPLING = "sampling"


Filing = EnterpriseFiling | GoodsFiling
F = TypeVar("F", EnterpriseFiling, GoodsFiling)
M = TypeVar("M", bound=BaseModel)
_LIST_DEFAULT: dict[ListKind, BaseModel] = {
    ListKind.NEGATIVE: rules.DEFAULT_NEGATIVE,
    ListKind.POSITIVE: rules.DEFAULT_POSITIVE,
    ListKind.BANS: rules.DEFAULT_BANS,
    ListKind.SAMPLING: rules.DEFAULT_SAMPLING,
}


# ---------------------------------------------------------------- filings


def _filing_no(filing: Filing) -> str:
    if isinstance(filing, EnterpriseFiling):
        return enterprise_filing_no(filing.id)
    return goods_filing_no(filing.id)


def _record(session: Session, filing: Filing, *, actor: str, action: str, detail: Any) -> None:
    kind = "enterprise_filing" if isinstance(filing, EnterpriseFiling) else "goods_filing"
    audit.record(
        session,
        actor=actor,
        action=f"inspection.{kind}.{action}",
        subject_type=kind,
        subject_id=_filing_no(filing),
        detail=detail,
    )


def _approved_enterprise_filing(
    session: Session, code: str, *, lock: bool = False
) -> EnterpriseFiling | None:
    query = select(EnterpriseFiling).where(
        EnterpriseFiling.enterprise_code == code,
        EnterpriseFiling.status == FilingStatus.APPROVED.value,
    )
    if lock:
        # A concurrent cancel (FOR UPDATE) then waits and takes the new goods filing with it.
        query = query.with_for_update(read=True)
    return session.scalars(query).first()


def file_enterprise(
    session: Session, *, caller: Caller, data: EnterpriseFilingCreate, at: datetime
) -> EnterpriseFiling:
    """An enterprise files with inspection before business; one live filing per enterprise."""
    code = caller.require_enterprise()
    filing = EnterpriseFiling(
        enterprise_code=code,
        **data.model_dump(),
        status=FilingStatus.RECEIVED.value,
        created_at=at,
        updated_at=at,
    )
    session.add(filing)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise FilingExists(f"enterprise {code} already has a filing received or approved") from exc
    _record(
        session, filing, actor=audit.actor_of(caller), action="received", detail=data.model_dump()
    )
    return filing


def file_goods(
    session: Session, *, caller: Caller, data: GoodsFilingCreate, at: datetime
) -> GoodsFiling:
    """An e-commerce enterprise files goods before their first list, under its approved filing."""
    code = caller.require_enterprise()
    if "ebc" not in caller.roles:
        raise Forbidden("goods are filed by the e-commerce enterprise (ebc) that sells them")
    enterprise_filing = _approved_enterprise_filing(session, code, lock=True)
    if enterprise_filing is None:
        raise EnterpriseNotFiled(f"enterprise {code} has no approved inspection filing")
    filing = GoodsFiling(
        enterprise_code=code,
        enterprise_filing_id=enterprise_filing.id,
        **data.model_dump(),
        risk_tier=RiskTier.MEDIUM.value,
        quarantine=False,
        status=FilingStatus.RECEIVED.value,
        created_at=at,
        updated_at=at,
    )
    session.add(filing)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise FilingExists(
            f"goods {data.item_no} of {code} already have a filing received or approved"
        ) from exc
    _record(
        session, filing, actor=audit.actor_of(caller), action="received", detail=data.model_dump()
    )
    return filing


def _may_see(caller: Caller, filing: Filing) -> bool:
    if caller.is_admin:
        return True
    if caller.kind is PrincipalKind.ENTERPRISE:
        return filing.enterprise_code == caller.enterprise_code
    return caller.agency is Agency.INSPECTION and filing.customs_code in caller.customs_codes


def _fetch(
    session: Session, kind: FilingKind, filing_id: int, caller: Caller, *, lock: bool = False
) -> Filing:
    filing: Filing | None
    if kind is FilingKind.ENTERPRISE:
        filing = session.get(EnterpriseFiling, filing_id, with_for_update=lock)
    else:
        filing = session.get(GoodsFiling, filing_id, with_for_update=lock)
    if filing is None or not _may_see(caller, filing):
        raise FilingNotFound(f"no {kind.value} filing {filing_id}")
    return filing


def get_filing(session: Session, *, kind: FilingKind, filing_id: int, caller: Caller) -> Filing:
    """A filing its enterprise, an inspection officer of its district or an admin may see."""
    return _fetch(session, kind, filing_id, caller)


def list_filings(
    session: Session,
    *,
    kind: FilingKind,
    caller: Caller,
    status: FilingStatus | None = None,
    customs_code: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[Filing]:
    """An enterprise's own filings, or those of an inspection officer's districts, oldest first."""
    if kind is FilingKind.ENTERPRISE:
        return _select_filings(
            session, EnterpriseFiling, caller, status, customs_code, after_id, limit
        )
    return _select_filings(session, GoodsFiling, caller, status, customs_code, after_id, limit)


def _select_filings(
    session: Session,
    model: type[F],
    caller: Caller,
    status: FilingStatus | None,
    customs_code: str | None,
    after_id: int,
    limit: int,
) -> Sequence[F]:
    query = select(model).where(model.id > after_id).order_by(model.id).limit(limit)
    if caller.kind is PrincipalKind.ENTERPRISE:
        query = query.where(model.enterprise_code == caller.enterprise_code)
    elif not caller.is_admin:
        caller.require_officer(Agency.INSPECTION, customs_code)
        query = query.where(model.customs_code.in_(caller.customs_codes))
    if customs_code:
        query = query.where(model.customs_code == customs_code)
    if status is not None:
        query = query.where(model.status == status.value)
    return session.scalars(query).all()


def review_filing(
    session: Session,
    *,
    kind: FilingKind,
    filing_id: int,
    officer: Caller,
    data: FilingReview,
    at: datetime,
) -> Filing:
    """An inspection officer of the filing's district approves or rejects a received filing.

    Approving goods sets their risk tier and quarantine flag; it needs the enterprise's
    filing to be approved still.
    """
    officer.require_officer(Agency.INSPECTION)
    filing = _fetch(session, kind, filing_id, officer, lock=True)
    officer.require_officer(Agency.INSPECTION, filing.customs_code)
    if filing.status != FilingStatus.RECEIVED.value:
        raise FilingStateConflict(f"filing {_filing_no(filing)} is {filing.status}, not received")
    if isinstance(filing, GoodsFiling):
        if data.decision is ReviewDecision.APPROVE:
            parent = session.get(EnterpriseFiling, filing.enterprise_filing_id)
            if parent is None or parent.status != FilingStatus.APPROVED.value:
                raise EnterpriseNotFiled(
                    f"enterprise {filing.enterprise_code} has no approved inspection filing"
                )
        filing.risk_tier = (data.risk_tier or RiskTier.MEDIUM).value
        filing.quarantine = bool(data.quarantine)
    elif data.risk_tier is not None or data.quarantine is not None:
        raise RuleViolation("risk tier and quarantine belong to goods filings")
    approved = data.decision is ReviewDecision.APPROVE
    filing.status = (FilingStatus.APPROVED if approved else FilingStatus.REJECTED).value
    filing.reason = data.reason
    filing.decided_by = audit.actor_of(officer)
    filing.decided_at = at
    _record(
        session,
        filing,
        actor=audit.actor_of(officer),
        action=filing.status,
        detail=data.model_dump(mode="json"),
    )
    return filing


def cancel_filing(
    session: Session, *, kind: FilingKind, filing_id: int, caller: Caller, reason: str, at: datetime
) -> Filing:
    """The enterprise withdraws its filing; an enterprise's filing takes its goods' with it."""
    caller.require_enterprise()
    filing = _fetch(session, kind, filing_id, caller, lock=True)
    _end(
        session, filing, FilingStatus.CANCELLED, actor=audit.actor_of(caller), reason=reason, at=at
    )
    return filing


def invalidate_filing(
    session: Session,
    *,
    kind: FilingKind,
    filing_id: int,
    officer: Caller,
    data: FilingInvalidation,
    at: datetime,
) -> Filing:
    """A filing found false, not matching the platform, or for prohibited goods is void."""
    officer.require_officer(Agency.INSPECTION)
    filing = _fetch(session, kind, filing_id, officer, lock=True)
    officer.require_officer(Agency.INSPECTION, filing.customs_code)
    _end(
        session,
        filing,
        FilingStatus.INVALIDATED,
        actor=audit.actor_of(officer),
        reason=f"{data.ground.value}: {data.reason}",
        at=at,
    )
    return filing


def _end(
    session: Session,
    filing: Filing,
    status: FilingStatus,
    *,
    actor: str,
    reason: str,
    at: datetime,
) -> None:
    if filing.status not in _LIVE:
        raise FilingStateConflict(f"filing {_filing_no(filing)} is already {filing.status}")
    filing.status = status.value
    filing.reason = reason
    filing.decided_by = actor
    filing.decided_at = at
    _record(session, filing, actor=actor, action=status.value, detail={"reason": reason})
    if isinstance(filing, EnterpriseFiling):
        session.execute(
            update(GoodsFiling)
            .where(GoodsFiling.enterprise_filing_id == filing.id, GoodsFiling.status.in_(_LIVE))
            .values(
                status=status.value,
                reason=f"企业备案 {_filing_no(filing)} {status.value}: {reason}"[:500],
                decided_by=actor,
                decided_at=at,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )


# ---------------------------------------------------------------- lists


@dataclass(frozen=True)
class ListInForce:
    version: int  # 0: the built-in default
    created_by: str | None
    created_at: datetime | None
    body: BaseModel


# A stored version never changes, so its parsed body is kept per database and version (the
# creation time tells apart databases that reuse version numbers): screening every list then
# reads one small row per list kind instead of parsing thousands of entries.
_PARSED: dict[tuple[str, str, int, datetime], BaseModel] = {}
_PARSED_LIMIT = 64


def current_list(session: Session, *, kind: ListKind) -> ListInForce:
    """The list in force: its newest stored version, or the built-in default (version 0)."""
    head = session.execute(
        select(ListVersion.version, ListVersion.created_by, ListVersion.created_at)
        .where(ListVersion.kind == kind.value)
        .order_by(ListVersion.version.desc())
        .limit(1)
    ).first()
    if head is None:
        return ListInForce(0, None, None, _LIST_DEFAULT[kind])
    version, created_by, created_at = head
    key = (str(session.get_bind().engine.url), kind.value, version, created_at)
    body = _PARSED.get(key)
    if body is None:
        stored = session.scalar(
            select(ListVersion.body).where(
                ListVersion.kind == kind.value, ListVersion.version == version
            )
        )
        body = type(_LIST_DEFAULT[kind]).model_validate(stored)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[key] = body
    return ListInForce(version, created_by, created_at, body)


def replace_list(session: Session, *, kind: ListKind, body: BaseModel, actor: str) -> ListVersion:
    """Store a new version of a list; screenings from now on use it and record its version."""
    version = (
        session.scalar(select(func.max(ListVersion.version)).where(ListVersion.kind == kind.value))
        or 0
    ) + 1
    row = ListVersion(
        kind=kind.value, version=version, body=body.model_dump(mode="json"), created_by=actor
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ListChangedConcurrently(f"the {kind.value} list changed meanwhile; retry") from exc
    audit.record(
        session,
        actor=actor,
        action=f"inspection.{kind.value}_list.replaced",
        subject_type="inspection_list",
        subject_id=f"{kind.value}:{version}",
        detail=body.model_dump(mode="json"),
    )
    return row


# ---------------------------------------------------------------- screening accepted lists


def _in_force(session: Session, kind: ListKind, model: type[M], versions: dict[str, int]) -> M:
    in_force = current_list(session, kind=kind)
    versions[kind.value] = in_force.version
    body = in_force.body
    if not isinstance(body, model):  # pragma: no cover - _LIST_DEFAULT pairs kinds and models
        raise TypeError(f"the {kind.value} list is not a {model.__name__}")
    return body


def _matching_filing(line: rules.Line, filings: Sequence[GoodsFiling]) -> GoodsFiling | None:
    candidates = [f for f in filings if f.hs_code == line.gcode]
    record_id = goods_filing_id(line.item_record_no) if line.item_record_no else None
    if record_id is not None:
        return next((f for f in candidates if f.id == record_id), None)
    if line.item_no:
        return next((f for f in candidates if f.item_no == line.item_no), None)
    return candidates[0] if candidates else None


def screen_list(
    session: Session,
    *,
    inventory_id: int,
    invt_no: str,
    direction: str,
    customs_code: str,
    trade_mode: str,
    ebc_code: str,
    lines: Sequence[rules.Line],
    accepted_at: datetime,
    event_id: UUID,
    at: datetime,
) -> Screening | None:
    """Decide on an accepted list: refuse, clear, or open a task; announce it to customs.

    Refused: the ebc or any goods not filed (approved), negative list, for imports not on
    the positive list (or bonded-only goods imported directly) or from a banned origin.
    Otherwise exports and bonded imports (1210) are cleared unless goods need quarantine;
    other imports are sampled at the tier's base rate × the credit class's factor.
    """
    if session.scalar(select(Screening.id).where(Screening.invt_no == invt_no)):
        return None
    versions: dict[str, int] = {}
    negative = _in_force(session, ListKind.NEGATIVE, NegativeList, versions)
    positive = _in_force(session, ListKind.POSITIVE, PositiveList, versions)
    bans = _in_force(session, ListKind.BANS, BanList, versions)
    sampling = _in_force(session, ListKind.SAMPLING, Sampling, versions)

    hits: list[rules.Hit] = []
    if _approved_enterprise_filing(session, ebc_code) is None:
        hits.append(rules.Hit("filing:enterprise", f"电商企业 {ebc_code} 未办理检验检疫备案"))
    filings = session.scalars(
        select(GoodsFiling).where(
            GoodsFiling.enterprise_code == ebc_code,
            GoodsFiling.status == FilingStatus.APPROVED.value,
            GoodsFiling.hs_code.in_({line.gcode for line in lines}),
        )
    ).all()
    matched: list[GoodsFiling] = []
    for line in lines:
        filing = _matching_filing(line, filings)
        if filing is None:
            hits.append(
                rules.Hit("filing:goods", f"第{line.gnum}项 {line.gcode} {line.gname} 商品未备案")
            )
        else:
            matched.append(filing)
    hits += rules.negative_hits(negative, lines, direction=direction)
    if direction == "I":
        hits += rules.positive_hits(positive, lines, trade_mode=trade_mode)
        hits += rules.ban_hits(bans, lines, at=accepted_at)

    screening = Screening(
        inventory_id=inventory_id,
        invt_no=invt_no,
        direction=direction,
        customs_code=customs_code,
        trade_mode=trade_mode,
        ebc_code=ebc_code,
        list_versions=versions,
        source_event_id=event_id,
        decided_at=at,
    )
    quarantine = [f for f in matched if f.quarantine]
    if hits:
        screening.outcome = "rejected"
        screening.rule_ids = sorted({hit.rule_id for hit in hits})
        screening.reason = "; ".join(hit.reason for hit in hits)[:1000]
    elif quarantine and not (direction == "I" and trade_mode == rules.BONDED):
        screening.outcome = "quarantine"
        screening.rule_ids = ["quarantine"]
        screening.reason = "须检疫商品: " + ", ".join(sorted({f.hs_code for f in quarantine}))
    elif direction == "E":
        screening.outcome = "cleared"
        screening.rule_ids = ["export"]
        screening.reason = "出口商品: 无须检疫的不实施检验"
    elif trade_mode == rules.BONDED:
        screening.outcome = "cleared"
        screening.rule_ids = ["bonded"]
        screening.reason = "保税进口: 入区时已检疫，不重复检验"
    else:
        _sample(session, screening, sampling, matched)
    session.add(screening)
    session.flush()
    if screening.outcome in ("quarantine", "selected"):
        task = _open_task(session, screening, at=at)
        outbox.publish(
            session,
            InspectionHeld(
                inventory_id=inventory_id, task_id=str(task.id), reason=screening.reason
            ),
        )
    elif screening.outcome == "rejected":
        outbox.publish(
            session,
            InspectionFailed(inventory_id=inventory_id, disposal="reject", reason=screening.reason),
        )
    else:
        outbox.publish(
            session, InspectionCleared(inventory_id=inventory_id, reason=screening.reason)
        )
    audit.record(
        session,
        actor=SYSTEM,
        action="inspection.screened",
        subject_type="inventory",
        subject_id=invt_no,
        detail={
            "outcome": screening.outcome,
            "rule_ids": screening.rule_ids,
            "reason": screening.reason,
            "list_versions": versions,
            "credit_class": screening.credit_class,
            "risk_tier": screening.risk_tier,
            "rate": str(screening.rate) if screening.rate is not None else None,
            "seed": screening.seed,
        },
        at=at,
    )
    return screening


def _sample(
    session: Session, screening: Screening, sampling: Sampling, filings: Sequence[GoodsFiling]
) -> None:
    tier = max((RiskTier(f.risk_tier) for f in filings), key=TIER_ORDER.__getitem__)
    credit = CreditClass(
        registry_service.get_enterprise(session, code=screening.ebc_code).credit_class
    )
    rate = rules.sampling_rate(sampling, tier=tier, credit_class=credit)
    seed = secrets.token_hex(16)
    hit = rules.selected(rate, seed=seed, key=screening.invt_no)
    screening.outcome = "selected" if hit else "not_selected"
    screening.rule_ids = ["sampling"]
    screening.credit_class = credit.value
    screening.risk_tier = tier.value
    screening.rate = rate
    screening.seed = seed
    verdict = "抽中布控" if hit else "未抽中"
    screening.reason = f"{verdict}: rate {rate} ({tier.value} × {credit.value}), seed {seed}"


def _open_task(session: Session, screening: Screening, *, at: datetime) -> Task:
    joint = session.get(CustomsExamination, screening.invt_no) is not None
    task = Task(
        inventory_id=screening.inventory_id,
        invt_no=screening.invt_no,
        direction=screening.direction,
        customs_code=screening.customs_code,
        ebc_code=screening.ebc_code,
        joint=joint,
        status="open",
        reason=screening.reason,
        opened_at=at,
    )
    session.add(task)
    session.flush()
    screening.task_id = task.id
    return task


def note_customs_status(
    session: Session, *, invt_no: str | None, to_status: int, event_id: UUID, at: datetime
) -> None:
    """Customs' examination (500) makes the task joint; a list customs ended closes its task."""
    if invt_no is None:
        return
    task = session.scalars(select(Task).where(Task.invt_no == invt_no).with_for_update()).first()
    if to_status == INSPECTION:
        if session.get(CustomsExamination, invt_no) is None:
            session.add(CustomsExamination(invt_no=invt_no, source_event_id=event_id, at=at))
        if task is not None and task.status == "open" and not task.joint:
            task.joint = True
            audit.record(
                session,
                actor=SYSTEM,
                action="inspection.task.joint",
                subject_type="inspection_task",
                subject_id=str(task.id),
                detail={"invt_no": task.invt_no},
                at=at,
            )
    elif to_status in _LIST_ENDED and task is not None and task.status == "open":
        task.status = "closed"
        task.result_reason = f"customs ended the list ({to_status})"
        task.decided_by = SYSTEM
        task.decided_at = at


# ---------------------------------------------------------------- tasks


def list_tasks(
    session: Session,
    *,
    officer: Caller,
    status: str | None = "open",
    customs_code: str | None = None,
    limit: int = 100,
) -> Sequence[Task]:
    """Tasks of the inspection officer's districts, oldest first."""
    query = select(Task).order_by(Task.opened_at, Task.invt_no).limit(limit)
    if not officer.is_admin:
        officer.require_officer(Agency.INSPECTION, customs_code)
        query = query.where(Task.customs_code.in_(officer.customs_codes))
    if customs_code:
        query = query.where(Task.customs_code == customs_code)
    if status:
        query = query.where(Task.status == status)
    return session.scalars(query).all()


def get_task(session: Session, *, task_id: UUID, officer: Caller) -> Task:
    """One task, for inspection officers of its district and administrators."""
    if not officer.is_admin:
        officer.require_officer(Agency.INSPECTION)
    task = session.get(Task, task_id)
    if task is None or not (officer.is_admin or task.customs_code in officer.customs_codes):
        raise TaskNotFound(f"no inspection task {task_id}")
    return task


def record_result(
    session: Session, *, task_id: UUID, officer: Caller, data: TaskResult, at: datetime
) -> Task:
    """An inspection officer records an open task's result, once.

    Pass clears the list; fail refuses it with a disposal (return 700, destroy, rectify) and
    lowers the enterprise's standing.
    """
    officer.require_officer(Agency.INSPECTION)
    task = session.get(Task, task_id)
    if task is None:
        raise TaskNotFound(f"no inspection task {task_id}")
    officer.require_officer(Agency.INSPECTION, task.customs_code)
    actor = audit.actor_of(officer)
    passed = data.outcome is TaskOutcome.PASS
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == "open")
        .values(
            status="passed" if passed else "failed",
            disposal=data.disposal.value if data.disposal else None,
            result_reason=data.reason,
            decided_by=actor,
            decided_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise TaskClosed(f"inspection task {task_id} is not open")
    session.refresh(task)
    if passed:
        outbox.publish(
            session,
            InspectionCleared(
                inventory_id=task.inventory_id, task_id=str(task.id), reason=data.reason
            ),
        )
    else:
        assert data.disposal is not None  # noqa: S101 - the schema requires it for a fail
        outbox.publish(
            session,
            InspectionFailed(
                inventory_id=task.inventory_id,
                task_id=str(task.id),
                disposal=data.disposal.value,
                reason=data.reason,
            ),
        )
        outbox.publish(
            session,
            EnterpriseFailedInspection(
                enterprise_code=task.ebc_code,
                inventory_id=task.inventory_id,
                invt_no=task.invt_no,
                task_id=str(task.id),
                disposal=data.disposal.value,
                reason=data.reason,
                failed_at=at,
            ),
        )
    audit.record(
        session,
        actor=actor,
        action=f"inspection.task.{task.status}",
        subject_type="inspection_task",
        subject_id=str(task.id),
        detail={"invt_no": task.invt_no, **data.model_dump(mode="json")},
        at=at,
    )
    return task


def get_screening(session: Session, *, invt_no: str, officer: Caller) -> Screening:
    """Inspection's decision on a list with its rule ids, list versions, rate and seed."""
    if not officer.is_admin:
        officer.require_officer(Agency.INSPECTION)
    screening = session.scalars(select(Screening).where(Screening.invt_no == invt_no)).first()
    if screening is None or not (
        officer.is_admin or screening.customs_code in officer.customs_codes
    ):
        raise ScreeningNotFound(f"inspection has not decided on list {invt_no}")
    return screening
