from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AnyHttpUrl, Field, model_validator

from app.auth import Agency
from app.registry.codes import code_problem
from app.schemas import Schema


class Role(StrEnum):
    EBP = "ebp"
    EBC = "ebc"
    AGENT = "agent"
    LOGISTICS = "logistics"
    PAYMENT = "payment"
    OPERATOR = "operator"
    GUARANTOR = "guarantor"


class CreditClass(StrEnum):
    """Customs credit classes since 海关总署令第251号 (2021)."""

    ADVANCED = "advanced"
    GENERAL = "general"
    DISCREDITED = "discredited"


class FxDirectoryStatus(StrEnum):
    REGISTERED = "registered"
    NOT_REGISTERED = "not_registered"


class FxClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class MandateException(StrEnum):
    """Who may collect for the enterprise instead of itself (SAFE subject-consistency cases)."""

    FOREIGN_TRADE_SERVICE = "foreign_trade_service"
    PAYMENT_INSTITUTION = "payment_institution"
    MARKET_PROCUREMENT = "market_procurement"
    INDIVIDUAL_ACCOUNT = "individual_account"


def _valid_code(code: str) -> str:
    problem = code_problem(code)
    if problem:
        raise ValueError(problem)
    return code


EnterpriseCode = Annotated[str, AfterValidator(_valid_code)]
Roles = Annotated[list[Role], Field(min_length=1, max_length=7)]


class EnterpriseCreate(Schema):
    code: EnterpriseCode
    name: str = Field(min_length=1, max_length=100)
    roles: Roles
    credit_class: CreditClass = CreditClass.GENERAL
    fx_directory_status: FxDirectoryStatus = FxDirectoryStatus.NOT_REGISTERED
    fx_class: FxClass | None = None
    callback_url: AnyHttpUrl | None = None


class EnterpriseUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    roles: Roles | None = None
    credit_class: CreditClass | None = None
    fx_directory_status: FxDirectoryStatus | None = None
    fx_class: FxClass | None = None
    callback_url: AnyHttpUrl | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _only_optional_facts_are_cleared(self) -> "EnterpriseUpdate":
        # Leaving a field out keeps it; null clears it, which only the FX class and the
        # callback may be.
        cleared = {
            name
            for name in self.model_fields_set - {"fx_class", "callback_url"}
            if getattr(self, name) is None
        }
        if cleared:
            raise ValueError(f"{', '.join(sorted(cleared))} cannot be null")
        return self


class EnterpriseRead(Schema):
    code: str
    name: str
    roles: list[Role]
    credit_class: CreditClass
    fx_directory_status: FxDirectoryStatus
    fx_class: FxClass | None
    callback_url: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class KeyIssue(Schema):
    label: str | None = Field(None, max_length=100)


class KeyRead(Schema):
    id: UUID
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyIssued(Schema):
    """The only time a key is shown: keep it, it cannot be read back."""

    id: UUID
    key: str
    prefix: str


class BankMandateItem(Schema):
    bank_code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    exception_kind: MandateException | None = None
    collecting_entity: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _exception_names_collector(self) -> "BankMandateItem":
        if self.exception_kind and not self.collecting_entity:
            raise ValueError("an exception mandate names the collecting entity")
        return self


class BankMandateRead(BankMandateItem):
    model_config = Schema.model_config | {"extra": "ignore"}


class PrincipalCreate(Schema):
    kind: Annotated[str, Field(pattern=r"^(officer|bank|admin)$")]
    name: str = Field(min_length=1, max_length=100)
    agency: Agency | None = None
    customs_codes: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(default_factory=list)
    bank_code: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> "PrincipalCreate":
        if self.kind == "officer" and (self.agency is None or not self.customs_codes):
            raise ValueError("an officer needs an agency and at least one customs code")
        if self.kind == "bank" and not self.bank_code:
            raise ValueError("a bank needs its bank_code")
        if self.kind != "officer" and (self.agency or self.customs_codes):
            raise ValueError("only officers have an agency and customs codes")
        if self.kind != "bank" and self.bank_code:
            raise ValueError("only banks have a bank_code")
        return self


class PrincipalRead(Schema):
    id: UUID
    kind: str
    name: str
    enterprise_code: str | None
    agency: Agency | None
    customs_codes: list[str]
    bank_code: str | None
    active: bool
    created_at: datetime


class PrincipalCreated(Schema):
    principal: PrincipalRead
    key: KeyIssued


class CertificateUpload(Schema):
    certificate: str = Field(
        min_length=64, max_length=20_000, description="PEM, or base64 of the DER encoding"
    )


class CertificateRead(Schema):
    id: UUID
    serial: str = Field(description="lower-case hex, as KeyName carries it")
    subject: str
    key_algorithm: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None
    created_at: datetime


class CertificateFacts(Schema):
    """A parsed certificate, as the registry files it."""

    serial: str
    subject: str
    key_algorithm: str
    der: bytes
    not_before: datetime
    not_after: datetime
