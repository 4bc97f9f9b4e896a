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
    Summary,
    SummaryDeclaration,
    SummaryLine,
    SummaryMember,
    TaxRate,
)
from app.db import Base
from app.delivery.models import AlertItem as DeliveryAlertItem
from app.delivery.models import Channel as DeliveryChannel
from app.delivery.models import Copy as DeliveryCopy
from app.delivery.models import Item as DeliveryItem
from app.delivery.models import Subscription as DeliverySubscription
from app.delivery.models import SubscriptionCode as DeliverySubscriptionCode
from app.forex.models import Alert as ForexAlert
from app.forex.models import Allocation as ForexAllocation
from app.forex.models import CheckRecord as ForexCheck
from app.forex.models import EnterpriseTotal as ForexEnterpriseTotal
from app.forex.models import ExchangeRate as ForexRate
from app.forex.models import Ledger as ForexLedger
from app.forex.models import LedgerLine as ForexLedgerLine
from app.forex.models import Policy as ForexPolicy
from app.forex.models import Settlement as ForexSettlement
from app.inspection.models import (
    CustomsExamination,
    EnterpriseFiling,
    GoodsFiling,
    ListVersion,
    Screening,
    Task,
)
from app.outbox import OutboxMessage
from app.receipts.models import Receipt
from app.registry.models import (
    ApiKey,
    BankMandate,
    Certificate,
    Enterprise,
    Principal,
    StandingEvent,
)
from app.sla.models import Alert as SlaAlert
from app.sla.models import Arrival as SlaArrival
from app.sla.models import Clock as SlaClock
from app.window.models import RawMessage

__all__ = [
    "ApiKey",
    "AuditEntry",
    "BankMandate",
    "Base",
    "BuyerQuota",
    "Certificate",
    "CustomsExamination",
    "Decision",
    "DeliveryAlertItem",
    "DeliveryChannel",
    "DeliveryCopy",
    "DeliveryItem",
    "DeliverySubscription",
    "DeliverySubscriptionCode",
    "Document",
    "Enterprise",
    "EnterpriseFiling",
    "ForexAlert",
    "ForexAllocation",
    "ForexCheck",
    "ForexEnterpriseTotal",
    "ForexLedger",
    "ForexLedgerLine",
    "ForexPolicy",
    "ForexRate",
    "ForexSettlement",
    "GoodsFiling",
    "Inventory",
    "InventoryLine",
    "ListVersion",
    "NumberCounter",
    "OutboxMessage",
    "Principal",
    "RawMessage",
    "Receipt",
    "RuleSet",
    "Screening",
    "SlaAlert",
    "SlaArrival",
    "SlaClock",
    "StandingEvent",
    "Summary",
    "SummaryDeclaration",
    "SummaryLine",
    "SummaryMember",
    "Task",
    "TaxRate",
]
