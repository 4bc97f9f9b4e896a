"""Every database test runs on SQLite and, with SW_TEST_DATABASE_URL, on PostgreSQL too.

Databases are built by the Alembic migrations, once per backend and session. Tests commit
for real (the outbox, races and commit-time errors need it); between tests a SQLite test gets
a fresh copy of the migrated file and PostgreSQL is truncated.
"""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import OutboxSettings, Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.models import Base

# CI must not fail on an example nobody saw before: the suite's property tests are seeded.
# SW_HYPOTHESIS_PROFILE=explore draws new examples (run it to hunt for bugs, not to gate).
hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", database=None)
hypothesis_settings.load_profile(os.environ.get("SW_HYPOTHESIS_PROFILE", "deterministic"))

ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789"
PG_URL = os.environ.get("SW_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@dataclass
class TestDatabase:
    backend: str
    url: str
    template: Path | None = None

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.db"
        migrate.upgrade(f"sqlite:///{template}")
        yield TestDatabase("sqlite", "", template)
        return
    assert PG_URL is not None
    server = make_url(PG_URL)
    name = f"sw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield TestDatabase("postgresql", url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Rows the migrations seed (reference data) survive between tests like the schema does.
REFERENCE_TABLES = frozenset({"customs_tax_rate", "customs_number_counter"})


def _truncate(url: str) -> None:
    # DELETE of a few rows is far cheaper than TRUNCATE, which makes new files for every
    # table; replica mode lets it past the audit log's append-only trigger.
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def db_url(database: TestDatabase, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for this test."""
    if database.template is not None:
        target = tmp_path / "sw.db"
        shutil.copyfile(database.template, target)
        yield f"sqlite:///{target}"
        return
    yield database.url
    _truncate(database.url)


@pytest.fixture
def backend(database: TestDatabase) -> str:
    return database.backend


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def settings(db_url: str) -> Settings:
    # Signatures are verified in the tests that sign (tests/window/test_signed_messages.py);
    # the others send the golden samples unsigned.
    return Settings(
        database_url=db_url,
        admin_key=ADMIN_KEY,  # type: ignore[arg-type]
        outbox=OutboxSettings(in_process=False),
        require_signatures=False,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def register(client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, str]]:
    """File an enterprise through the API and return auth headers for its first key."""

    def _register(code: str, *roles: str, **fields: Any) -> dict[str, str]:
        body = {
            "code": code,
            "name": fields.pop("name", f"enterprise {code}"),
            "roles": list(roles),
            **fields,
        }
        created = client.post("/api/v1/enterprises", json=body, headers=admin)
        assert created.status_code == 201, created.text
        issued = client.post(f"/api/v1/enterprises/{code}/keys", headers=admin)
        assert issued.status_code == 201, issued.text
        return bearer(issued.json()["key"])

    return _register


@pytest.fixture
def principal(client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, str]]:
    """Register an officer, bank or admin through the API and return its auth headers."""

    def _principal(kind: str, **fields: Any) -> dict[str, str]:
        body = {"kind": kind, "name": fields.pop("name", f"test {kind}"), **fields}
        created = client.post("/api/v1/principals", json=body, headers=admin)
        assert created.status_code == 201, created.text
        return bearer(created.json()["key"]["key"])

    return _principal


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if (
        request.node.get_closest_marker("postgres_only")
        and "database" in request.fixturenames
        and request.getfixturevalue("database").backend != "postgresql"
    ):
        pytest.skip("needs PostgreSQL (set SW_TEST_DATABASE_URL)")


@pytest.fixture
def run_outbox(session_factory: sessionmaker[Session]) -> Callable[[], int]:
    """Run every due outbox event (and the events they cause) now; returns how many ran."""
    from app.main import build_dispatcher
    from app.outbox import Relay

    relay = Relay(session_factory, build_dispatcher(), OutboxSettings(batch_size=500))

    def _run() -> int:
        total = 0
        while handled := relay.run_once():
            total += handled
        return total

    return _run
