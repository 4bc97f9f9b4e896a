"""API keys and the caller's identity; the checks every module uses to scope what it shows."""

import hashlib
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from app.errors import Forbidden

KEY_PREFIX = "sw_"


class PrincipalKind(StrEnum):
    ENTERPRISE = "enterprise"
    OFFICER = "officer"
    BANK = "bank"
    ADMIN = "admin"


class Agency(StrEnum):
    CUSTOMS = "customs"
    INSPECTION = "inspection"


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    principal_id: UUID | None
    kind: PrincipalKind
    name: str
    enterprise_code: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    agency: Agency | None = None
    customs_codes: frozenset[str] = field(default_factory=frozenset)
    bank_code: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind is PrincipalKind.ADMIN

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only an administrator may do this")

    def require_enterprise(self, code: str | None = None) -> str:
        """The caller's enterprise code; with ``code``, the caller must be that enterprise."""
        if self.kind is not PrincipalKind.ENTERPRISE or self.enterprise_code is None:
            raise Forbidden("only an enterprise may do this")
        if code is not None and code != self.enterprise_code:
            raise Forbidden("an enterprise may act only for itself")
        return self.enterprise_code

    def require_self_or_admin(self, enterprise_code: str) -> None:
        if not self.is_admin:
            self.require_enterprise(enterprise_code)

    def require_officer(self, agency: Agency, customs_code: str | None = None) -> None:
        if self.kind is not PrincipalKind.OFFICER or self.agency is not agency:
            raise Forbidden(f"only a {agency.value} officer may do this")
        if customs_code is not None and customs_code not in self.customs_codes:
            raise Forbidden(f"customs code {customs_code} is outside the officer's jurisdiction")

    def require_bank(self) -> str:
        if self.kind is not PrincipalKind.BANK or self.bank_code is None:
            raise Forbidden("only a bank may do this")
        return self.bank_code


def new_api_key() -> str:
    """A fresh key: 32 random bytes, URL-safe, with a recognisable prefix for secret scanners."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 bits of entropy, so a fast hash cannot be brute-forced; a slow KDF would
    # only cost latency on every request.
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]
