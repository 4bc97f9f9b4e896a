"""Periodic jobs the workers run beside the outbox relay (time-driven rules).

Each job runs in its own transaction and is safe to run from several workers at once
(row locks with SKIP LOCKED, or an advisory lock); a failing job is logged and retried at
its next tick without stopping the others.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app import audit, clock
from app.ceb.times import CHINA
from app.config import get_settings
from app.customs import service as customs_service
from app.customs import summaries
from app.delivery import service as delivery_service
from app.sla import service as sla_service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[Session, datetime], int]


def _seal_audit(session: Session, _now: datetime) -> int:
    return audit.seal(session)


def _expire_waiting_lists(session: Session, now: datetime) -> int:
    return customs_service.expire_waiting(session, now=now)


def _draft_summaries(session: Session, now: datetime) -> int:
    # 清单核放、汇总申报: on the 1st (China time) each agent gets last month's draft 701s;
    # running it again the same day changes nothing.
    if now.astimezone(CHINA).day != 1:
        return 0
    return len(summaries.draft_month(session, month=summaries.previous_month(now), now=now))


def _sla_scan(session: Session, now: datetime) -> int:
    counts = sla_service.scan(session, now=now, policy=get_settings().sla)
    return counts.at_risk + counts.breached


def _push_receipts(session: Session, now: datetime) -> int:
    return delivery_service.enqueue_and_send(session, now=now, policy=get_settings().delivery)


DEFAULT_JOBS: list[Job] = [
    Job("audit.seal", 2.0, _seal_audit),
    Job("customs.expire_waiting", 30.0, _expire_waiting_lists),
    Job("customs.draft_summaries", 3600.0, _draft_summaries),
    Job("sla.scan", 5.0, _sla_scan),
    Job("delivery.push", 2.0, _push_receipts),
]


class JobRunner:
    def __init__(self, factory: sessionmaker[Session], jobs: list[Job]) -> None:
        self._factory = factory
        self._jobs = jobs
        self._due = {job.name: 0.0 for job in jobs}

    def run_due(self) -> dict[str, int]:
        """Run every job whose interval has passed; returns what each did."""
        done: dict[str, int] = {}
        for job in self._jobs:
            if time.monotonic() < self._due[job.name]:
                continue
            self._due[job.name] = time.monotonic() + job.every_s
            try:
                with self._factory.begin() as session:
                    done[job.name] = job.run(session, clock.now())
            except Exception:
                log.exception("job %s failed; it runs again at its next tick", job.name)
        return done

    def run_forever(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        while not stop.is_set():
            self.run_due()
            stop.wait(tick_s)
