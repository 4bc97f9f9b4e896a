"""Append-only, hash-chained audit log of every decision and registry change.

Each entry stores the previous entry's hash and its own hash over (previous hash, content),
so an edited, inserted or deleted row breaks the chain at that point. The database refuses
UPDATE and DELETE on the table (triggers in the migration); the chain catches what a
privileged user does around them.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.auth import Caller
from app.db import Base, JSONDoc, utcnow

GENESIS_HASH = "0" * 64
# Appends are serialised so that two transactions never chain onto the same predecessor.
_CHAIN_LOCK_KEY = 7_310_003


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


def actor_of(caller: Caller | None) -> str:
    if caller is None:
        return "system"
    who = caller.enterprise_code or caller.bank_code or str(caller.principal_id or caller.name)
    return f"{caller.kind.value}:{who}"


def _content_hash(prev_hash: str, entry: AuditEntry) -> str:
    content = json.dumps(
        [
            entry.at.isoformat(),
            entry.actor,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            entry.detail,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    # JSON round-trip so the hashed content is exactly what the database will give back.
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=json.loads(json.dumps(detail or {}, default=str)),
        prev_hash=prev or GENESIS_HASH,
    )
    entry.entry_hash = _content_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


def first_broken_entry(session: Session) -> int | None:
    """Recompute the chain; the id of the first entry that does not fit, or None if intact."""
    expected_prev = GENESIS_HASH
    for entry in session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    ):
        if entry.prev_hash != expected_prev or entry.entry_hash != _content_hash(
            entry.prev_hash, entry
        ):
            return entry.id
        expected_prev = entry.entry_hash
    return None
