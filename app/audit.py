"""Append-only, hash-chained audit log of every decision and registry change.

Business transactions only append rows; they never wait for one another. A sealer (the
worker's periodic job, or ``singlewindow audit seal``) then chains committed rows one after
the other: each sealed entry stores its place in the chain, the previous entry's hash and
its own hash over (previous hash, content). An edited, inserted or deleted sealed row breaks
the chain at that point. The database refuses DELETE, and UPDATE of anything but the seal of
an unsealed row (triggers in the migrations); the chain catches what a privileged user does
around them.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import rowbuffer
from app.auth import Caller
from app.db import Base, JSONDoc, utcnow

GENESIS_HASH = "0" * 64
# Only one sealer extends the chain at a time.
_SEAL_LOCK_KEY = 7_310_003


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
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


def actor_of(caller: Caller | None) -> str:
    if caller is None:
        return "system"
    who = caller.enterprise_code or caller.bank_code or str(caller.principal_id or caller.name)
    return f"{caller.kind.value}:{who}"


def _content_hash(prev_hash: str, entry: AuditEntry) -> str:
    content = json.dumps(
        [
            entry.chain_seq,
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
    at: datetime | None = None,
) -> None:
    """Append one entry in the caller's transaction (sealed into the chain after commit)."""
    rowbuffer.add(
        session,
        AuditEntry,
        {
            "at": at or utcnow(),
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            # JSON round-trip so the hashed content is exactly what the database gives back.
            "detail": json.loads(json.dumps(detail or {}, default=str)),
            "chain_seq": None,
            "prev_hash": None,
            "entry_hash": None,
        },
    )


def seal(session: Session, *, limit: int = 1000) -> int:
    """Chain committed unsealed entries in id order; returns how many were sealed."""
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _SEAL_LOCK_KEY}
    ):
        return 0
    last = session.execute(
        select(AuditEntry.chain_seq, AuditEntry.entry_hash)
        .where(AuditEntry.chain_seq.is_not(None))
        .order_by(AuditEntry.chain_seq.desc())
        .limit(1)
    ).first()
    seq, prev = (int(last[0] or 0), str(last[1])) if last else (0, GENESIS_HASH)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain_seq.is_(None))
        .order_by(AuditEntry.id)
        .limit(limit)
    ).all()
    for entry in entries:
        seq += 1
        entry.chain_seq = seq
        entry.prev_hash = prev
        entry.entry_hash = prev = _content_hash(prev, entry)
    return len(entries)


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    unsealed: int
    first_broken: int | None  # id of the first entry that does not fit


def verify(session: Session) -> ChainReport:
    """Recompute the chain; names the first entry that was edited, inserted or removed."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for entry in session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain_seq.is_not(None))
        .order_by(AuditEntry.chain_seq)
        .execution_options(yield_per=1000)
    ):
        if (
            entry.chain_seq != expected_seq
            or entry.prev_hash != expected_prev
            or entry.entry_hash != _content_hash(expected_prev, entry)
        ):
            return ChainReport(count, _unsealed(session), entry.id)
        expected_prev, expected_seq, count = str(entry.entry_hash), expected_seq + 1, count + 1
    return ChainReport(count, _unsealed(session), None)


def _unsealed(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.chain_seq.is_(None))
        )
        or 0
    )
