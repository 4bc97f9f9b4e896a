"""The schema is built only by migrations: each steps up and down, and none drifts."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app import migrate
from app.models import Base


def test_every_revision_upgrades_downgrades_and_upgrades_again(db_url: str) -> None:
    migrate.downgrade(db_url, "base")
    script = ScriptDirectory.from_config(migrate.alembic_config(db_url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        migrate.upgrade(db_url, revision.revision)
        migrate.downgrade(db_url, revision.down_revision or "base")
        migrate.upgrade(db_url, revision.revision)


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_audit_log_can_only_be_appended_and_sealed(engine: Engine) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app import audit
    from app.db import make_sessionmaker

    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        audit.record(session, actor="a", action="b", subject_type="c", subject_id="d")
    with factory.begin() as session:
        assert audit.seal(session) == 1
    for statement in (
        "UPDATE audit_entry SET actor = 'forged'",
        "UPDATE audit_entry SET entry_hash = 'resealed'",
        "DELETE FROM audit_entry",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
