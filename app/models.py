"""Every table of every module, for Alembic and the drift test."""

from app.audit import AuditEntry
from app.db import Base
from app.outbox import OutboxMessage
from app.registry.models import ApiKey, BankMandate, Enterprise, Principal

__all__ = [
    "ApiKey",
    "AuditEntry",
    "BankMandate",
    "Base",
    "Enterprise",
    "OutboxMessage",
    "Principal",
]
