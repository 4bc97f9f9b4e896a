"""Every table of every module, for Alembic and the drift test."""

from app.audit import AuditEntry
from app.customs.models import (
    BuyerQuota,
    Decision,
    Document,
    Inventory,
    InventoryLine,
    NumberCounter,
    RuleSet,
    TaxRate,
)
from app.db import Base
from app.outbox import OutboxMessage
from app.receipts.models import Receipt
from app.registry.models import ApiKey, BankMandate, Certificate, Enterprise, Principal
from app.window.models import RawMessage

__all__ = [
    "ApiKey",
    "AuditEntry",
    "BankMandate",
    "Base",
    "BuyerQuota",
    "Certificate",
    "Decision",
    "Document",
    "Enterprise",
    "Inventory",
    "InventoryLine",
    "NumberCounter",
    "OutboxMessage",
    "Principal",
    "RawMessage",
    "Receipt",
    "RuleSet",
    "TaxRate",
]
