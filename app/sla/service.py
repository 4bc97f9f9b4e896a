"""The 24-hour clearance clock: when it starts and stops, what is at risk, breaches, statistics.

Hunan's 2015 opinion: customs formalities finished within 24 hours of the goods reaching the
supervision site, every day of the year. The clock counts calendar time with no pause; the
time a list spends in review (300), taken as waiting on the enterprise for a document an
officer asked for, is recorded beside the total and never subtracted from it. Every time is
the business time of the event that caused it (the window's receipt of the arrival, customs'
acceptance or status change), so a slow worker neither shortens nor lengthens a clock.
"""

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, cast
from uuid import UUID

from sqlalchemy import Table, and_, case, func, literal_column, or_, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app import outbox
from app.auth import Agency, Caller
from app.ceb.codes import ReturnStatus
from app.config import SlaSettings
from app.feeds import Feed
from app.metrics import SLA_CLEARANCE, SLA_LISTS
from app.sla.events import SlaAtRisk, SlaBreached, SlaClockStarted
from app.sla.models import ALERT_NUMBERS, Alert, Arrival, Clock, ClockState
from app.sla.schemas import (
    AlertRead,
    ClockRead,
    Durations,
    ListState,
    Overview,
    ScanCounts,
    WindowStats,
)

# Bonded goods (网购保税进口) are in the zone before they are sold: acceptance starts the clock.
BONDED = "1210"
# The window's mark for a list withdrawn by an approved cancel (InventoryStatusChanged).
CANCELLED = 1001
ENDED_WITHOUT_RELEASE = frozenset(
    {int(ReturnStatus.REJECTED), int(ReturnStatus.RETURNED), CANCELLED}
)
REVIEW = int(ReturnStatus.REVIEW)
RELEASED = int(ReturnStatus.RELEASED)
SCAN_BATCH = 500
_OPEN = (ClockState.PENDING, ClockState.RUNNING)
# Alerts are read by position, not id (app.feeds); the key is held by their publisher.
ALERT_FEED = Feed(cast(Table, Alert.__table__), ALERT_NUMBERS, lock_key=7_310_005)


def _state_is(*states: ClockState) -> ColumnElement[bool]:
    # Literals, not bound parameters: a partial index is matched against the query's text.
    values: list[ColumnElement[str]] = [literal_column(f"'{state.value}'") for state in states]
    return Clock.state == values[0] if len(values) == 1 else Clock.state.in_(values)


def allowance(policy: SlaSettings, *, customs_code: str) -> timedelta:
    """The time a customs code has to clear a list: its own setting, else the 24 h default."""
    return timedelta(hours=policy.hours_by_customs_code.get(customs_code, policy.hours))


# ---------------------------------------------------------------- what moves a clock


def accept(
    session: Session,
    *,
    inventory_id: int,
    invt_no: str,
    direction: str,
    customs_code: str,
    trade_mode: str,
    logistics_code: str,
    logistics_no: str,
    accepted_at: datetime,
    policy: SlaSettings,
) -> Clock:
    """Customs accepted a list (120): its clock starts if its goods are where the mode needs."""
    _lock(session, f"waybill:{logistics_code}|{logistics_no}")
    clock = _clock(
        session,
        inventory_id=inventory_id,
        invt_no=invt_no,
        direction=direction,
        customs_code=customs_code,
    )
    if clock.accepted_at is not None:
        return clock
    clock.trade_mode = trade_mode
    clock.logistics_code = logistics_code
    clock.logistics_no = logistics_no
    clock.accepted_at = accepted_at
    arrival = session.scalars(
        select(Arrival).where(
            Arrival.logistics_code == logistics_code, Arrival.logistics_no == logistics_no
        )
    ).first()
    if arrival is not None:
        clock.arrived_at = arrival.arrived_at
    _advance(session, clock, policy)
    return clock


def arrive(
    session: Session,
    *,
    customs_code: str,
    logistics_code: str,
    logistics_nos: Sequence[str],
    arrived_at: datetime,
    event_id: UUID,
    policy: SlaSettings,
) -> int:
    """Goods reached a supervision site (507, or 711 for imports); the first arrival counts.

    Starts the clock of accepted export lists on those waybills, and restarts that of direct
    imports accepted before their goods arrived. Returns how many clocks it (re)started.
    """
    started = 0
    # Sorted, so two arrivals naming the same waybills lock them in one order.
    for logistics_no in sorted(set(logistics_nos)):
        _lock(session, f"waybill:{logistics_code}|{logistics_no}")
        known = session.scalars(
            select(Arrival.id).where(
                Arrival.logistics_code == logistics_code, Arrival.logistics_no == logistics_no
            )
        ).first()
        if known is not None:
            continue
        session.add(
            Arrival(
                logistics_code=logistics_code,
                logistics_no=logistics_no,
                customs_code=customs_code,
                arrived_at=arrived_at,
                source_event_id=event_id,
            )
        )
        clocks = session.scalars(
            select(Clock)
            .where(
                Clock.logistics_code == logistics_code,
                Clock.logistics_no == logistics_no,
                _state_is(*_OPEN),
            )
            .with_for_update()
        ).all()
        for clock in clocks:
            if clock.arrived_at is None:
                clock.arrived_at = arrived_at
                started += _advance(session, clock, policy)
    return started


def status_changed(
    session: Session,
    *,
    inventory_id: int,
    invt_no: str | None,
    direction: str,
    customs_code: str,
    from_status: int,
    to_status: int,
    changed_at: datetime,
) -> None:
    """Release (800) stops a clock; rejection, return or cancel end it without release.

    Entering review (300) starts the enterprise's waiting time and leaving it ends it.
    """
    if invt_no is None or from_status == ReturnStatus.DECLARING:
        return  # never accepted: no clock; the acceptance itself comes as InventoryAccepted
    if to_status not in (REVIEW, RELEASED, *ENDED_WITHOUT_RELEASE) and from_status != REVIEW:
        return
    clock = _clock(
        session,
        inventory_id=inventory_id,
        invt_no=invt_no,
        direction=direction,
        customs_code=customs_code,
    )
    if clock.state not in _OPEN:
        return
    if from_status == REVIEW:
        _end_review(clock, changed_at)
    if to_status == REVIEW and clock.review_since is None:
        clock.review_since = changed_at
    elif to_status == RELEASED or to_status in ENDED_WITHOUT_RELEASE:
        _stop(clock, to_status, changed_at)


def _clock(
    session: Session, *, inventory_id: int, invt_no: str, direction: str, customs_code: str
) -> Clock:
    """The list's clock, locked; created when the first event about the list arrives.

    Relays may run a list's events out of order (a cancel can overtake the acceptance), so
    either may create it; the acceptance then fills in what only it knows.
    """
    _lock(session, f"inventory:{inventory_id}")
    clock = session.scalars(
        select(Clock).where(Clock.inventory_id == inventory_id).with_for_update()
    ).first()
    if clock is None:
        clock = Clock(
            inventory_id=inventory_id,
            invt_no=invt_no,
            direction=direction,
            customs_code=customs_code,
            state=ClockState.PENDING,
            enterprise_wait_s=0,
        )
        session.add(clock)
        session.flush()
    return clock


def _start_of(clock: Clock) -> datetime | None:
    """Acceptance and arrival both hold: export needs its 507; a bonded import's goods are
    in the zone; a direct import starts at acceptance unless its goods arrive later."""
    if clock.accepted_at is None:
        return None
    if clock.direction == "E":
        return None if clock.arrived_at is None else max(clock.accepted_at, clock.arrived_at)
    if clock.trade_mode == BONDED or clock.arrived_at is None:
        return clock.accepted_at
    return max(clock.accepted_at, clock.arrived_at)


def _advance(session: Session, clock: Clock, policy: SlaSettings) -> int:
    if clock.state not in _OPEN:
        return 0
    start = _start_of(clock)
    if start is None or start == clock.started_at:
        return 0
    if clock.started_at is not None:
        # A restart: waiting before the new start lies outside the measured window.
        clock.enterprise_wait_s = 0
    clock.started_at = start
    clock.deadline = start + allowance(policy, customs_code=clock.customs_code)
    clock.state = ClockState.RUNNING
    outbox.publish(
        session,
        SlaClockStarted(
            inventory_id=clock.inventory_id,
            invt_no=clock.invt_no,
            customs_code=clock.customs_code,
            started_at=start,
            deadline=clock.deadline,
        ),
    )
    return 1


def _waited(clock: Clock, until: datetime) -> int:
    """Seconds of the review under way that fall inside the clock's window."""
    if clock.review_since is None or clock.started_at is None:
        return 0
    return max(0, _seconds(until - max(clock.review_since, clock.started_at)))


def _end_review(clock: Clock, at: datetime) -> None:
    clock.enterprise_wait_s += _waited(clock, at)
    clock.review_since = None


def _stop(clock: Clock, status: int, at: datetime) -> None:
    _end_review(clock, at)
    clock.stopped_at = at
    clock.end_status = status
    if status != RELEASED:
        clock.state = ClockState.ENDED
        return
    clock.state = ClockState.RELEASED
    # Released before its goods reached the site: nothing was left to wait for.
    clock.clearance_s = 0 if clock.started_at is None else max(0, _seconds(at - clock.started_at))
    SLA_CLEARANCE.labels(clock.customs_code).observe(clock.clearance_s)


def _seconds(delta: timedelta) -> int:
    return math.floor(delta.total_seconds())


def _lock(session: Session, key: str) -> None:
    """Serialise the handlers that touch one waybill or list across relays (PostgreSQL).

    The acceptance and the arrival of one waybill each read what the other writes; without
    the lock, two relays could each miss the other and the clock would never start. SQLite
    already runs one writing transaction at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    number = int.from_bytes(hashlib.sha256(f"sla:{key}".encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})


# ---------------------------------------------------------------- alerts


def scan(session: Session, *, now: datetime, policy: SlaSettings) -> ScanCounts:
    """Raise the at-risk and breached alerts that are due, once per list and kind.

    Run every few seconds by workers, any number at once (rows are claimed with SKIP
    LOCKED). Also refreshes the per-customs-code gauges.
    """
    margin = timedelta(hours=policy.at_risk_margin_hours)
    # Spelled as the partial indexes of the clocks still due an alert are.
    breach_due = and_(_state_is(ClockState.RUNNING), Clock.breached_alerted_at.is_(None))
    breached = _claim(session, and_(breach_due, Clock.deadline < now))
    for clock in breached:
        _raise(session, clock, "breached", now)
    at_risk = _claim(
        session,
        and_(
            breach_due,
            Clock.at_risk_alerted_at.is_(None),
            Clock.deadline >= now,
            Clock.deadline < now + margin,
        ),
    )
    for clock in at_risk:
        _raise(session, clock, "at_risk", now)
    _refresh_gauges(session, now=now, margin=margin)
    return ScanCounts(at_risk=len(at_risk), breached=len(breached))


def _claim(session: Session, condition: ColumnElement[bool]) -> Sequence[Clock]:
    return session.scalars(
        select(Clock)
        .where(condition)
        .order_by(Clock.deadline)
        .limit(SCAN_BATCH)
        .with_for_update(skip_locked=True)
    ).all()


def _raise(
    session: Session, clock: Clock, kind: Literal["at_risk", "breached"], now: datetime
) -> None:
    facts = {
        "inventory_id": clock.inventory_id,
        "invt_no": clock.invt_no,
        "customs_code": clock.customs_code,
        "deadline": clock.deadline,
        "raised_at": now,
    }
    event: SlaAtRisk | SlaBreached
    if kind == "breached":
        event = SlaBreached.model_validate(facts)
        clock.breached_alerted_at = now
    else:
        event = SlaAtRisk.model_validate(facts)
        clock.at_risk_alerted_at = now
    session.add(Alert(kind=kind, event_id=event.event_id, **facts))
    outbox.publish(session, event)


def _refresh_gauges(session: Session, *, now: datetime, margin: timedelta) -> None:
    rows = session.execute(
        select(Clock.customs_code, *_running_counts(now=now, margin=margin))
        .where(_state_is(ClockState.RUNNING))
        .group_by(Clock.customs_code)
    ).all()
    SLA_LISTS.clear()
    for row in rows:
        running, at_risk, breached = (int(value or 0) for value in row[1:])
        SLA_LISTS.labels(row[0], "running").set(running)
        SLA_LISTS.labels(row[0], "at_risk").set(at_risk)
        SLA_LISTS.labels(row[0], "breached").set(breached)


# ---------------------------------------------------------------- what officers read


def overview(
    session: Session,
    *,
    caller: Caller,
    customs_code: str | None,
    now: datetime,
    policy: SlaSettings,
) -> Overview:
    """The 24 h picture of the caller's customs codes: open clocks now, and how the last day
    and week were cleared (nearest-rank percentiles of start-to-release time)."""
    codes = _jurisdiction(caller, customs_code)
    query = select(
        *_running_counts(now=now, margin=timedelta(hours=policy.at_risk_margin_hours))
    ).where(_state_is(ClockState.RUNNING))
    # A clock created by a status change that overtook the acceptance is no list waiting yet.
    waiting_query = select(func.count()).where(
        _state_is(ClockState.PENDING), Clock.accepted_at.is_not(None)
    )
    if codes is not None:
        query = query.where(Clock.customs_code.in_(codes))
        waiting_query = waiting_query.where(Clock.customs_code.in_(codes))
    running, at_risk, breached = (int(value or 0) for value in session.execute(query).one())
    waiting = session.scalar(waiting_query) or 0
    return Overview(
        at=now,
        customs_codes=codes,
        waiting_for_arrival=waiting,
        running=running,
        at_risk=at_risk,
        breached=breached,
        last_24h=_window(session, codes=codes, since=now - timedelta(hours=24), now=now),
        last_7d=_window(session, codes=codes, since=now - timedelta(days=7), now=now),
    )


def _running_counts(*, now: datetime, margin: timedelta) -> list[ColumnElement[int]]:
    """Running clocks, and of those at risk and breached: read from ix_sla_clock_open alone."""
    return [
        func.count(),
        _count(and_(Clock.deadline >= now, Clock.deadline < now + margin)),
        _count(Clock.deadline < now),
    ]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _window(
    session: Session, *, codes: list[str] | None, since: datetime, now: datetime
) -> WindowStats:
    stopped = [Clock.stopped_at >= since, Clock.stopped_at <= now]
    if codes is not None:
        stopped.append(Clock.customs_code.in_(codes))
    released = and_(*stopped, Clock.state == ClockState.RELEASED)
    is_released = Clock.state == ClockState.RELEASED
    in_time, late, ended = session.execute(
        select(
            _count(
                and_(is_released, or_(Clock.deadline.is_(None), Clock.stopped_at <= Clock.deadline))
            ),
            _count(and_(is_released, Clock.stopped_at > Clock.deadline)),
            _count(Clock.state == ClockState.ENDED),
        ).where(*stopped)
    ).one()
    clearance, enterprise_wait = _percentiles(session, released, count=(in_time or 0) + (late or 0))
    return WindowStats(
        since=since,
        released_in_time=in_time or 0,
        released_late=late or 0,
        ended_without_release=ended or 0,
        clearance=clearance,
        enterprise_wait=enterprise_wait,
    )


_RANKS = (0.5, 0.95, 1.0)


def _percentiles(
    session: Session, where: ColumnElement[bool], *, count: int
) -> tuple[Durations, Durations]:
    """Clearance and enterprise-wait times at the nearest ranks (the smallest value with at
    least p of the values at or below it): PostgreSQL's percentile_disc, in one pass; the
    same computed in Python on SQLite (embedded, small)."""
    if not count:
        empty = Durations(p50_s=None, p95_s=None, max_s=None)
        return empty, empty
    columns = (Clock.clearance_s, Clock.enterprise_wait_s)
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            select(
                *(func.percentile_disc(postgresql.array(_RANKS)).within_group(c) for c in columns)
            ).where(where)
        ).one()
        ranked = [[int(value) for value in values] for values in row]
    else:
        rows = session.execute(select(*columns).where(where)).all()
        ranked = [
            _nearest_ranks(sorted(value for row in rows if (value := row[i]) is not None))
            for i in (0, 1)
        ]
    clearance, wait = (Durations(p50_s=r[0], p95_s=r[1], max_s=r[2]) for r in ranked)
    return clearance, wait


def _nearest_ranks(ordered: Sequence[int]) -> list[int]:
    return [ordered[max(math.ceil(p * len(ordered)) - 1, 0)] for p in _RANKS]


def inventories(
    session: Session,
    *,
    caller: Caller,
    state: ListState,
    customs_code: str | None,
    now: datetime,
    policy: SlaSettings,
    limit: int = 100,
) -> list[ClockRead]:
    """Running lists of the caller's customs codes (all, at risk or breached), earliest
    deadline first, with the time left."""
    codes = _jurisdiction(caller, customs_code)
    query = select(Clock).where(_state_is(ClockState.RUNNING))
    if codes is not None:
        query = query.where(Clock.customs_code.in_(codes))
    if state is ListState.AT_RISK:
        margin = timedelta(hours=policy.at_risk_margin_hours)
        query = query.where(Clock.deadline >= now, Clock.deadline < now + margin)
    elif state is ListState.BREACHED:
        query = query.where(Clock.deadline < now)
    clocks = session.scalars(query.order_by(Clock.deadline).limit(limit)).all()
    return [_read(clock, now) for clock in clocks]


def _read(clock: Clock, now: datetime) -> ClockRead:
    return ClockRead(
        inventory_id=clock.inventory_id,
        invt_no=clock.invt_no,
        customs_code=clock.customs_code,
        direction=clock.direction,
        trade_mode=clock.trade_mode,
        state=clock.state,
        accepted_at=clock.accepted_at,
        arrived_at=clock.arrived_at,
        started_at=clock.started_at,
        deadline=clock.deadline,
        remaining_s=None if clock.deadline is None else _seconds(clock.deadline - now),
        enterprise_wait_s=clock.enterprise_wait_s + _waited(clock, now),
    )


def alerts(
    session: Session,
    *,
    caller: Caller,
    customs_code: str | None,
    after: int = 0,
    limit: int = 100,
) -> Sequence[Alert]:
    """The at-risk and breach alerts of the caller's customs codes after a position, in the
    order they committed, publishing what committed (app.feeds)."""
    codes = _jurisdiction(caller, customs_code)
    ALERT_FEED.publish(session)
    query = select(Alert).where(Alert.position > after).order_by(Alert.position).limit(limit)
    if codes is not None:
        query = query.where(Alert.customs_code.in_(codes))
    return session.scalars(query).all()


def _jurisdiction(caller: Caller, customs_code: str | None) -> list[str] | None:
    """Customs officers read their customs codes; administrators any (None: all)."""
    if caller.is_admin:
        return None if customs_code is None else [customs_code]
    caller.require_officer(Agency.CUSTOMS, customs_code)
    return [customs_code] if customs_code else sorted(caller.customs_codes)


def alerts_after(
    session: Session, *, after: int, customs_codes: Sequence[str], limit: int
) -> list[AlertRead]:
    """The published alerts of these customs codes after a position (for their subscribers)."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.position > after, Alert.customs_code.in_(customs_codes))
        .order_by(Alert.position)
        .limit(limit)
    )
    return [AlertRead.model_validate(row) for row in rows]
