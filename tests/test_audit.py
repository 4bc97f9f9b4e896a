"""The audit chain catches what a privileged user does around the append-only triggers."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app import audit
from app.audit import AuditEntry
from app.cli import cli
from app.config import get_settings


@pytest.fixture
def sealed_ids(
    register: Callable[..., dict[str, str]], session_factory: sessionmaker[Session]
) -> list[int]:
    """Entries written by real registry actions (filings and keys), sealed, in chain order."""
    for code in ("3301000001", "3301000002", "3301000003"):
        register(code, "ebc")
    with session_factory.begin() as session:
        assert audit.seal(session) >= 6
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.chain_seq)))


@contextmanager
def tampering(session_factory: sessionmaker[Session], backend: str) -> Iterator[Session]:
    """A privileged transaction that the append-only triggers do not stop."""
    with session_factory.begin() as session:
        if backend == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            session.execute(text("DROP TRIGGER audit_entry_no_update"))
            session.execute(text("DROP TRIGGER audit_entry_no_delete"))
        yield session


def _verify(session_factory: sessionmaker[Session]) -> audit.ChainReport:
    with session_factory() as session:
        return audit.verify(session)


def test_an_untouched_chain_verifies(
    sealed_ids: list[int], session_factory: sessionmaker[Session]
) -> None:
    report = _verify(session_factory)
    assert report == audit.ChainReport(sealed=len(sealed_ids), unsealed=0, first_broken=None)


def test_an_edited_entry_is_named(
    sealed_ids: list[int], session_factory: sessionmaker[Session], backend: str
) -> None:
    victim = sealed_ids[2]
    with tampering(session_factory, backend) as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.id == victim).values(detail={"forged": True})
        )
    assert _verify(session_factory).first_broken == victim


def test_a_deleted_middle_entry_names_the_next_one(
    sealed_ids: list[int], session_factory: sessionmaker[Session], backend: str
) -> None:
    with tampering(session_factory, backend) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == sealed_ids[2]))
    report = _verify(session_factory)
    assert report.first_broken == sealed_ids[3]
    assert report.sealed == 2


def test_a_forged_entry_with_the_next_chain_seq_is_named(
    sealed_ids: list[int], session_factory: sessionmaker[Session], backend: str
) -> None:
    with session_factory() as session:
        last = session.scalars(select(AuditEntry).where(AuditEntry.id == sealed_ids[-1])).one()
    with tampering(session_factory, backend) as session:
        forged = session.scalar(
            insert(AuditEntry)
            .values(
                at=last.at,
                actor="admin:cli",
                action="enterprise.updated",
                subject_type="enterprise",
                subject_id="3301000001",
                detail={"credit_class": "advanced"},
                chain_seq=last.chain_seq + 1 if last.chain_seq else None,
                prev_hash=last.entry_hash,
                entry_hash="f" * 64,
            )
            .returning(AuditEntry.id)
        )
    assert _verify(session_factory).first_broken == forged


def test_a_forged_entry_spliced_in_with_a_correct_hash_breaks_the_next_link(
    sealed_ids: list[int], session_factory: sessionmaker[Session], backend: str
) -> None:
    """Even knowing the hash recipe, a forger cannot splice an entry in without re-hashing
    every later entry: the original successor still points at the old predecessor."""
    with session_factory() as session:
        before = session.scalars(select(AuditEntry).where(AuditEntry.id == sealed_ids[1])).one()
    seq = int(before.chain_seq or 0)
    forged = AuditEntry(
        at=before.at,
        actor="admin:cli",
        action="enterprise.updated",
        subject_type="enterprise",
        subject_id="3301000001",
        detail={"credit_class": "advanced"},
        chain_seq=seq + 1,
        prev_hash=before.entry_hash,
    )
    forged.entry_hash = audit._content_hash(str(before.entry_hash), forged)
    with tampering(session_factory, backend) as session:
        # Make room one by one from the end, so the unique chain_seq never collides.
        for entry_id in reversed(sealed_ids[2:]):
            session.execute(
                update(AuditEntry)
                .where(AuditEntry.id == entry_id)
                .values(chain_seq=AuditEntry.chain_seq + 1)
            )
        session.add(forged)
    assert _verify(session_factory).first_broken == sealed_ids[2]


def test_the_triggers_refuse_edits_and_deletes_without_the_bypass(
    sealed_ids: list[int], session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.id == sealed_ids[0]).values(actor="someone else")
        )
    with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == sealed_ids[0]))
    with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as session:
        # Re-sealing a sealed row is an edit too.
        session.execute(
            update(AuditEntry).where(AuditEntry.id == sealed_ids[0]).values(entry_hash="0" * 64)
        )
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == len(sealed_ids)
    assert _verify(session_factory).first_broken is None


def _cli_verify(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("SW_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "verify"])
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_verifies_and_names_the_tampered_entry(
    sealed_ids: list[int],
    session_factory: sessionmaker[Session],
    backend: str,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = _cli_verify(db_url, monkeypatch)
    assert code == 0, out
    assert f"{len(sealed_ids)} sealed entries verified" in out

    victim = sealed_ids[1]
    with tampering(session_factory, backend) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == victim).values(actor="nobody"))
    code, _, err = _cli_verify(db_url, monkeypatch)
    assert code == 1
    assert f"chain broken at audit entry {victim}" in err
