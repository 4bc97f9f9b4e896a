"""A worker process for the crash tests: an outbox relay whose only handler audits a probe.

Run from the repository root: ``python -m tests.resilience.probe_worker <db_url> [--drain]``.
Without ``--drain`` it relays until killed; with it, it exits once nothing is left to do.
Each handled ``ProbeHappened`` appends one audit entry whose subject is the probe's ``n``, so
the test can count the effect of every event after a ``kill -9``.
"""

import sys
import time

from sqlalchemy.orm import Session

from app import audit
from app.config import OutboxSettings
from app.db import make_engine, make_sessionmaker
from app.outbox import Dispatcher, Event, Relay

# Small batches and a handler that takes a moment make a kill land inside a claiming
# transaction. The relay's own round trips already cost a few ms an event, so a longer
# delay would only slow the 10,000 events down.
BATCH_SIZE = 20
HANDLER_DELAY_S = 0.0005
PROBE_ACTION = "probe.handled"


class ProbeHappened(Event):
    n: int


def handle_probe(session: Session, event: ProbeHappened) -> None:
    time.sleep(HANDLER_DELAY_S)
    audit.record(
        session,
        actor="system:probe",
        action=PROBE_ACTION,
        subject_type="probe",
        subject_id=str(event.n),
    )


def main(argv: list[str]) -> int:
    url, drain = argv[0], "--drain" in argv[1:]
    dispatcher = Dispatcher()
    dispatcher.register(ProbeHappened, handle_probe)
    engine = make_engine(url, pool_size=1)
    relay = Relay(
        make_sessionmaker(engine),
        dispatcher,
        OutboxSettings(batch_size=BATCH_SIZE, poll_interval_s=0.05),
    )
    while True:
        if relay.run_once():
            continue
        if drain:
            break
        time.sleep(0.05)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
