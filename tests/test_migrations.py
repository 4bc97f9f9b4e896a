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


def test_receipts_written_before_positions_keep_their_ids_as_cursors(
    db_url: str, engine: Engine
) -> None:
    from sqlalchemy import text

    from app import clock
    from app.db import make_sessionmaker
    from app.receipts import service as receipts_service
    from app.receipts.schemas import ReceiptDraft

    migrate.downgrade(db_url, "0010_subscriptions")
    with engine.begin() as conn:
        for n in range(3):
            conn.execute(
                text(
                    "INSERT INTO receipt (recipient_code, message_type, doc_kind, doc_key,"
                    " return_status, return_info, returned_at, fields, created_at) VALUES"
                    " ('3301000001', 'CEB312', 'order', :key, 2, 'ok',"
                    " '2026-11-01 00:00:00+00:00', '{}', '2026-11-01 00:00:00+00:00')"
                ),
                {"key": f"doc-{n}"},
            )
    migrate.upgrade(db_url)
    factory = make_sessionmaker(engine)
    draft = ReceiptDraft(
        recipient_code="3301000001",
        message_type="CEB312",
        doc_kind="order",
        doc_key="doc-new",
        return_status=2,
        return_info="ok",
        fields={},
    )
    with factory.begin() as session:
        receipts_service.issue(session, drafts=[draft], at=clock.now())

    with factory.begin() as session:
        page = receipts_service.page(session, recipient_code="3301000001", after=0, limit=10)
        old_ids = [r.id for r in page.receipts[:3]]
        # A poller that had read the old receipts by id goes on from that id.
        later = receipts_service.page(
            session, recipient_code="3301000001", after=old_ids[-1], limit=10
        )
    assert [r.position for r in page.receipts[:3]] == old_ids
    assert [r.doc_key for r in later.receipts] == ["doc-new"]
