from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, utcnow


class Enterprise(Base):
    __tablename__ = "registry_enterprise"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(JSONDoc)
    credit_class: Mapped[str] = mapped_column(String(16))
    fx_directory_status: Mapped[str] = mapped_column(String(16))
    fx_class: Mapped[str | None] = mapped_column(String(1))
    callback_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Principal(Base):
    """Who may call the API: an enterprise, a customs or inspection officer, a bank, an admin."""

    __tablename__ = "registry_principal"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    enterprise_code: Mapped[str | None] = mapped_column(
        ForeignKey("registry_enterprise.code"), unique=True
    )
    agency: Mapped[str | None] = mapped_column(String(16))
    customs_codes: Mapped[list[str]] = mapped_column(JSONDoc)
    bank_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Only the SHA-256 of a key is kept; the key itself is shown once, when issued."""

    __tablename__ = "registry_api_key"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    principal_id: Mapped[UUID] = mapped_column(ForeignKey("registry_principal.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class BankMandate(Base):
    """An enterprise lets a bank see its trade lists, possibly for a collecting third party."""

    __tablename__ = "registry_bank_mandate"
    __table_args__ = (UniqueConstraint("enterprise_code", "bank_code"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    enterprise_code: Mapped[str] = mapped_column(ForeignKey("registry_enterprise.code"))
    bank_code: Mapped[str] = mapped_column(String(32), index=True)
    exception_kind: Mapped[str | None] = mapped_column(String(32))
    collecting_entity: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(Base):
    """A signing certificate filed by an enterprise; message signatures must use one of them."""

    __tablename__ = "registry_certificate"
    __table_args__ = (UniqueConstraint("enterprise_code", "serial"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    enterprise_code: Mapped[str] = mapped_column(ForeignKey("registry_enterprise.code"))
    serial: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(500))
    key_algorithm: Mapped[str] = mapped_column(String(8))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StandingEvent(Base):
    """Something that lowers an enterprise's standing, such as goods failing inspection."""

    __tablename__ = "registry_standing_event"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    enterprise_code: Mapped[str] = mapped_column(ForeignKey("registry_enterprise.code"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int]
    subject: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(1000))
    source_event_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    at: Mapped[datetime]
