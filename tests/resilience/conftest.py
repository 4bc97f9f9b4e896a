"""Real processes for the crash tests, killed whatever happens to the test, and a private
PostgreSQL cluster for the test that restarts the database."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.resilience.cluster import ClusterUnavailable, PrivateCluster
from tests.resilience.processes import Spawn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``python -m <module> args…`` from the repository root; all are killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def _spawn(
        module: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{module}-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started.append(process)
        return process

    yield _spawn
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A started PostgreSQL cluster of the test's own, stopped and deleted at teardown."""
    if PG_URL is None:
        pytest.skip("needs PostgreSQL (set SW_TEST_DATABASE_URL)")
    try:
        cluster = PrivateCluster()
    except ClusterUnavailable as missing:
        pytest.skip(f"no private PostgreSQL cluster: {missing}")
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
