"""A worker killed with SIGKILL in the middle of a batch loses nothing and repeats nothing."""

import os
import signal
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import outbox
from app.audit import AuditEntry
from app.outbox import OutboxMessage
from tests.resilience.probe_worker import PROBE_ACTION, ProbeHappened
from tests.resilience.processes import Spawn, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.resilience]

EVENTS = 10_000
WORKER = "tests.resilience.probe_worker"
DRAIN_TIMEOUT_S = 180  # the restarted worker took ~40 s for them on a busy 2-core machine


def processed(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.processed_at.is_not(None))
            )
            or 0
        )


def test_killed_worker_leaves_every_effect_exactly_once(
    db_url: str, session_factory: sessionmaker[Session], spawn: Spawn
) -> None:
    with session_factory.begin() as session:
        for n in range(EVENTS):
            outbox.publish(session, ProbeHappened(n=n))

    worker = spawn(WORKER, db_url)
    wait_for(lambda: processed(session_factory) >= 200, timeout_s=30, what="the first batches")
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    done_at_kill = processed(session_factory)
    assert 0 < done_at_kill < EVENTS, "the kill must land while work remains"

    restarted = spawn(WORKER, db_url, "--drain")
    assert restarted.wait(timeout=DRAIN_TIMEOUT_S) == 0

    with session_factory() as session:
        assert outbox.pending_count(session) == 0
        rows = session.execute(
            select(OutboxMessage.attempts, OutboxMessage.failed_at, OutboxMessage.last_error)
        ).all()
        subjects = session.scalars(
            select(AuditEntry.subject_id).where(AuditEntry.action == PROBE_ACTION)
        ).all()
    assert len(rows) == EVENTS
    # The killed transaction's claims rolled back with it: no event ran (and counted) twice.
    assert {(attempts, failed, error) for attempts, failed, error in rows} == {(1, None, None)}
    per_probe = Counter(int(subject) for subject in subjects)
    assert set(per_probe) == set(range(EVENTS)), "an event's effect is missing"
    assert set(per_probe.values()) == {1}, "an event's effect happened twice"
