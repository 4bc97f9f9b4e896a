"""A throwaway PostgreSQL cluster of the test's own, which it may stop, crash and restart.

The shared server other tests use must never be restarted, so the database-restart test
runs ``initdb`` and ``pg_ctl`` on a private data directory and port. As root the binaries
run as the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.resilience.processes import free_port

BINARIES = Path("/usr/lib/postgresql")
OWNER = "postgres"


class ClusterUnavailable(Exception):
    """The PostgreSQL server binaries, or the OS user to run them as, are missing."""


def server_bin_dir() -> Path:
    """The bin directory of the newest PostgreSQL installed with initdb and pg_ctl."""
    candidates = sorted(
        (path for path in BINARIES.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not candidates or not (candidates[-1] / "pg_ctl").exists():
        raise ClusterUnavailable(f"no initdb and pg_ctl under {BINARIES}/<version>/bin")
    return candidates[-1]


class PrivateCluster:
    """One data directory on a free port, trust authentication, started and stopped by pg_ctl."""

    def __init__(self) -> None:
        self.bin_dir = server_bin_dir()
        self.as_owner: list[str] = []
        owner_uid = os.getuid()
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(OWNER)
            except KeyError:
                raise ClusterUnavailable(f"running as root and no OS user {OWNER!r}") from None
            self.as_owner = ["runuser", "-u", OWNER, "--"]
            owner_uid = owner.pw_uid
        self.home = Path(tempfile.mkdtemp(prefix="sw-pg-"))
        os.chown(self.home, owner_uid, -1)
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout_s: float = 60) -> None:
        command = [*self.as_owner, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.home}'",
            "max_connections": "100",
            # Only processes crash here, never the machine: what a commit wrote to the
            # kernel survives an immediate shutdown, so flushing it to disk buys nothing.
            "fsync": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends sessions and shuts down cleanly; ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def destroy(self) -> None:
        """Stop the server whatever state it is in, and delete its files."""
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill(pid)
        shutil.rmtree(self.home, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
