"""The SLA clock driven event by event, each in its own transaction as a relay would run it."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import clock as business_clock
from app.config import SlaSettings
from app.sla import service
from app.sla.models import Clock

Headers = dict[str, str]
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 11:00 in Changsha
H = timedelta(hours=1)


class Lists:
    """Feeds the SLA service what customs announces, at chosen business times."""

    def __init__(self, factory: sessionmaker[Session], policy: SlaSettings) -> None:
        self.factory = factory
        self.policy = policy

    def accept(
        self,
        inventory_id: int,
        at: datetime,
        *,
        direction: str = "E",
        trade_mode: str = "9610",
        customs_code: str = "4900",
        waybill: str | None = None,
    ) -> None:
        with self.factory.begin() as session:
            service.accept(
                session,
                inventory_id=inventory_id,
                invt_no=f"{customs_code}2026{direction}{inventory_id:09d}",
                direction=direction,
                customs_code=customs_code,
                trade_mode=trade_mode,
                logistics_code="4301990004",
                logistics_no=waybill or f"WB{inventory_id}",
                accepted_at=at,
                policy=self.policy,
            )

    def arrive(self, at: datetime, *waybills: str, customs_code: str = "4900") -> int:
        with self.factory.begin() as session:
            return service.arrive(
                session,
                customs_code=customs_code,
                logistics_code="4301990004",
                logistics_nos=list(waybills),
                arrived_at=at,
                event_id=uuid.uuid4(),
                policy=self.policy,
            )

    def change(
        self,
        inventory_id: int,
        from_status: int,
        to_status: int,
        at: datetime,
        *,
        direction: str = "E",
        customs_code: str = "4900",
    ) -> None:
        with self.factory.begin() as session:
            service.status_changed(
                session,
                inventory_id=inventory_id,
                invt_no=f"{customs_code}2026{direction}{inventory_id:09d}",
                direction=direction,
                customs_code=customs_code,
                from_status=from_status,
                to_status=to_status,
                changed_at=at,
            )

    def started(self, inventory_id: int, at: datetime, **fields: Any) -> None:
        """A bonded list: accepted, so its clock runs from ``at``."""
        self.accept(inventory_id, at, direction="I", trade_mode="1210", **fields)

    def release(self, inventory_id: int, at: datetime, **fields: Any) -> None:
        self.change(inventory_id, 399, 800, at, **fields)

    def scan(self, now: datetime) -> tuple[int, int]:
        with self.factory.begin() as session:
            counts = service.scan(session, now=now, policy=self.policy)
        return counts.at_risk, counts.breached

    def clock(self, inventory_id: int) -> Clock | None:
        with self.factory() as session:
            return session.scalars(select(Clock).where(Clock.inventory_id == inventory_id)).first()


@pytest.fixture
def policy() -> SlaSettings:
    return SlaSettings()


@pytest.fixture
def lists(session_factory: sessionmaker[Session], policy: SlaSettings) -> Lists:
    return Lists(session_factory, policy)


@pytest.fixture
def at() -> Iterator[Callable[[datetime], None]]:
    """Move business time (the API's "now") to a chosen instant."""
    current = [T0]
    with business_clock.using(lambda: current[0]):
        yield lambda moment: current.__setitem__(0, moment)


@pytest.fixture
def officer(principal: Callable[..., Headers]) -> Headers:
    return principal("officer", agency="customs", customs_codes=["4900"])
