"""事前备案: the parties, their roles and credit, who may call the API, and bank mandates."""

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.auth import Agency, Caller, PrincipalKind, hash_api_key, key_prefix, new_api_key
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.registry.models import ApiKey, BankMandate, Certificate, Enterprise, Principal
from app.registry.schemas import (
    BankMandateItem,
    CertificateFacts,
    EnterpriseCreate,
    EnterpriseUpdate,
    KeyIssued,
    PrincipalCreate,
)

# Writing last_used_at on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class EnterpriseNotFound(NotFound):
    pass


class EnterpriseExists(Conflict):
    pass


class PrincipalNotFound(NotFound):
    pass


class KeyNotFound(NotFound):
    pass


def create_enterprise(session: Session, *, data: EnterpriseCreate, actor: str) -> Enterprise:
    """File an enterprise with its roles before it may send any message (事前备案)."""
    if session.get(Enterprise, data.code) is not None:
        raise EnterpriseExists(f"enterprise {data.code} is already registered")
    enterprise = Enterprise(
        code=data.code,
        name=data.name,
        roles=sorted({r.value for r in data.roles}),
        credit_class=data.credit_class.value,
        fx_directory_status=data.fx_directory_status.value,
        fx_class=data.fx_class.value if data.fx_class else None,
        callback_url=str(data.callback_url) if data.callback_url else None,
        active=True,
    )
    session.add(enterprise)
    session.add(
        Principal(
            kind=PrincipalKind.ENTERPRISE.value,
            name=data.name,
            enterprise_code=data.code,
            customs_codes=[],
            active=True,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        # Two concurrent registrations of one code: the loser learns it here, not at commit.
        raise EnterpriseExists(f"enterprise {data.code} is already registered") from exc
    audit.record(
        session,
        actor=actor,
        action="enterprise.created",
        subject_type="enterprise",
        subject_id=data.code,
        detail=data.model_dump(mode="json"),
    )
    return enterprise


def get_enterprise(session: Session, *, code: str) -> Enterprise:
    """The registered enterprise with this code."""
    enterprise = session.get(Enterprise, code)
    if enterprise is None:
        raise EnterpriseNotFound(f"no enterprise {code} is registered")
    return enterprise


def list_enterprises(
    session: Session, *, after: str | None = None, limit: int = 100
) -> Sequence[Enterprise]:
    """Enterprises in code order, a page at a time."""
    query = select(Enterprise).order_by(Enterprise.code).limit(limit)
    if after:
        query = query.where(Enterprise.code > after)
    return session.scalars(query).all()


def update_enterprise(
    session: Session, *, code: str, data: EnterpriseUpdate, actor: str
) -> Enterprise:
    """Change an enterprise's filing (roles, credit class, FX status, callback, active)."""
    enterprise = get_enterprise(session, code=code)
    changes = data.model_dump(mode="json", exclude_unset=True)
    before = {name: getattr(enterprise, name) for name in changes}
    for name, value in changes.items():
        if name == "roles":
            value = sorted(set(value))
        setattr(enterprise, name, value)
    audit.record(
        session,
        actor=actor,
        action="enterprise.updated",
        subject_type="enterprise",
        subject_id=code,
        detail={"before": before, "after": changes},
    )
    return enterprise


# Built once, like _KEY_LOOKUP: the window runs it for every message.
_ROLES = select(Enterprise.code, Enterprise.roles).where(
    Enterprise.code.in_(bindparam("codes", expanding=True)), Enterprise.active.is_(True)
)


def enterprises_with_roles(session: Session, *, codes: set[str]) -> dict[str, frozenset[str]]:
    """Roles of the active enterprises among ``codes`` (absent codes are not registered)."""
    rows = session.execute(_ROLES, {"codes": list(codes)})
    return {code: frozenset(roles) for code, roles in rows}


def _enterprise_principal(session: Session, code: str) -> Principal:
    get_enterprise(session, code=code)
    principal = session.scalar(select(Principal).where(Principal.enterprise_code == code))
    if principal is None:  # pragma: no cover - created with the enterprise
        raise PrincipalNotFound(f"enterprise {code} has no principal")
    return principal


def _issue_key(session: Session, principal: Principal, label: str | None, actor: str) -> KeyIssued:
    key = new_api_key()
    row = ApiKey(
        principal_id=principal.id, key_hash=hash_api_key(key), prefix=key_prefix(key), label=label
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="key.issued",
        subject_type="principal",
        subject_id=str(principal.id),
        detail={"key_id": str(row.id), "prefix": row.prefix, "label": label},
    )
    return KeyIssued(id=row.id, key=key, prefix=row.prefix)


def issue_enterprise_key(
    session: Session, *, code: str, label: str | None, actor: str
) -> KeyIssued:
    """A new API key for the enterprise; the key is returned once and only its hash is kept."""
    return _issue_key(session, _enterprise_principal(session, code), label, actor)


def issue_principal_key(
    session: Session, *, principal_id: UUID, label: str | None, actor: str
) -> KeyIssued:
    """A new API key for an officer, bank or admin principal."""
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise PrincipalNotFound(f"no principal {principal_id}")
    return _issue_key(session, principal, label, actor)


def list_keys(session: Session, *, principal_id: UUID) -> Sequence[ApiKey]:
    """The principal's keys, newest first, without their secrets."""
    return session.scalars(
        select(ApiKey).where(ApiKey.principal_id == principal_id).order_by(ApiKey.created_at.desc())
    ).all()


def enterprise_principal_id(session: Session, *, code: str) -> UUID:
    """The principal that speaks for enterprise ``code``."""
    return _enterprise_principal(session, code).id


def revoke_key(session: Session, *, key_id: UUID, caller: Caller, actor: str) -> None:
    """Revoke a key at once; only its owner or an administrator may."""
    key = session.get(ApiKey, key_id)
    if key is None or (not caller.is_admin and key.principal_id != caller.principal_id):
        raise KeyNotFound(f"no key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="key.revoked",
            subject_type="principal",
            subject_id=str(key.principal_id),
            detail={"key_id": str(key_id), "prefix": key.prefix},
        )


def create_principal(
    session: Session, *, data: PrincipalCreate, actor: str
) -> tuple[Principal, KeyIssued]:
    """Register an officer, bank or admin and issue its first key."""
    principal = Principal(
        kind=data.kind,
        name=data.name,
        agency=data.agency.value if data.agency else None,
        customs_codes=sorted(set(data.customs_codes)),
        bank_code=data.bank_code,
        active=True,
    )
    session.add(principal)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"bank code {data.bank_code} is already registered") from exc
    audit.record(
        session,
        actor=actor,
        action="principal.created",
        subject_type="principal",
        subject_id=str(principal.id),
        detail=data.model_dump(mode="json"),
    )
    return principal, _issue_key(session, principal, None, actor)


def list_principals(session: Session) -> Sequence[Principal]:
    """Every principal that is not an enterprise."""
    return session.scalars(
        select(Principal)
        .where(Principal.kind != PrincipalKind.ENTERPRISE.value)
        .order_by(Principal.created_at)
    ).all()


# Built once: every request runs them, and building statements each time showed in the window's
# profile (bench/README.md, "Re-run after the intake rewrite").
_KEY_LOOKUP = (
    # Columns, not the three entities: nothing here needs objects in the identity map, and
    # every request pays for loading them.
    select(
        ApiKey.id.label("key_id"),
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        Principal.id.label("principal_id"),
        Principal.kind,
        Principal.name,
        Principal.enterprise_code,
        Principal.agency,
        Principal.customs_codes,
        Principal.bank_code,
        Principal.active.label("principal_active"),
        Enterprise.active.label("enterprise_active"),
        Enterprise.roles,
    )
    .join(Principal, Principal.id == ApiKey.principal_id)
    .outerjoin(Enterprise, Enterprise.code == Principal.enterprise_code)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


def authenticate(session: Session, *, key: str) -> Caller | None:
    """The caller a key belongs to, or None for an unknown, revoked or deactivated key."""
    row = session.execute(_KEY_LOOKUP, {"key_hash": hash_api_key(key)}).first()
    if row is None or row.revoked_at is not None or not row.principal_active:
        return None
    roles: frozenset[str] = frozenset()
    if row.enterprise_code is not None:
        if not row.enterprise_active:  # None: the enterprise row is gone
            return None
        roles = frozenset(row.roles)
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        # A concurrent request of the same key records it: never queue behind that row lock.
        unlocked = (
            select(ApiKey.id)
            .where(ApiKey.id == row.key_id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        session.execute(update(ApiKey).where(ApiKey.id == unlocked).values(last_used_at=now))
    return Caller(
        principal_id=row.principal_id,
        kind=PrincipalKind(row.kind),
        name=row.name,
        enterprise_code=row.enterprise_code,
        roles=roles,
        agency=Agency(row.agency) if row.agency else None,
        customs_codes=frozenset(row.customs_codes),
        bank_code=row.bank_code,
    )


def replace_bank_mandates(
    session: Session, *, code: str, mandates: list[BankMandateItem], actor: str
) -> Sequence[BankMandate]:
    """Replace the set of banks that may see the enterprise's trade lists."""
    get_enterprise(session, code=code)
    banks = [m.bank_code for m in mandates]
    if len(banks) != len(set(banks)):
        raise Conflict("a bank appears twice in the mandates")
    before = [
        BankMandateItem.model_validate(m).model_dump(mode="json")
        for m in bank_mandates(session, code=code)
    ]
    for old in bank_mandates(session, code=code):
        session.delete(old)
    session.flush()
    rows = [
        BankMandate(
            enterprise_code=code,
            bank_code=m.bank_code,
            exception_kind=m.exception_kind.value if m.exception_kind else None,
            collecting_entity=m.collecting_entity,
        )
        for m in mandates
    ]
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="bank_mandates.replaced",
        subject_type="enterprise",
        subject_id=code,
        detail={"before": before, "after": [m.model_dump(mode="json") for m in mandates]},
    )
    return rows


def bank_mandates(session: Session, *, code: str) -> Sequence[BankMandate]:
    """The banks mandated by an enterprise."""
    return session.scalars(
        select(BankMandate)
        .where(BankMandate.enterprise_code == code)
        .order_by(BankMandate.bank_code)
    ).all()


def mandating_enterprises(session: Session, *, bank_code: str) -> Sequence[BankMandate]:
    """The mandates a bank holds: which enterprises' trade lists it may see."""
    return session.scalars(select(BankMandate).where(BankMandate.bank_code == bank_code)).all()


class CertificateExists(Conflict):
    pass


class CertificateNotFound(NotFound):
    pass


def file_certificate(
    session: Session, *, code: str, facts: CertificateFacts, actor: str
) -> Certificate:
    """File a signing certificate for an enterprise; its messages may then be signed with it."""
    get_enterprise(session, code=code)
    if session.scalar(
        select(Certificate).where(
            Certificate.enterprise_code == code, Certificate.serial == facts.serial
        )
    ):
        raise CertificateExists(f"certificate {facts.serial} is already filed for {code}")
    certificate = Certificate(enterprise_code=code, **facts.model_dump())
    session.add(certificate)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="certificate.filed",
        subject_type="enterprise",
        subject_id=code,
        detail={
            "serial": facts.serial,
            "subject": facts.subject,
            "not_after": facts.not_after.isoformat(),
        },
    )
    return certificate


def certificates(session: Session, *, code: str) -> Sequence[Certificate]:
    """The enterprise's filed certificates, newest first."""
    return session.scalars(
        select(Certificate)
        .where(Certificate.enterprise_code == code)
        .order_by(Certificate.created_at.desc())
    ).all()


def revoke_certificate(session: Session, *, code: str, certificate_id: UUID, actor: str) -> None:
    """Stop accepting signatures made with a certificate (lost key, staff change)."""
    certificate = session.get(Certificate, certificate_id)
    if certificate is None or certificate.enterprise_code != code:
        raise CertificateNotFound(f"no certificate {certificate_id} for {code}")
    if certificate.revoked_at is None:
        certificate.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="certificate.revoked",
            subject_type="enterprise",
            subject_id=code,
            detail={"serial": certificate.serial},
        )


def filed_certificate(session: Session, *, code: str, der: bytes) -> Certificate | None:
    """The enterprise's filed, unrevoked certificate with exactly these bytes, if any."""
    return session.scalars(
        select(Certificate).where(
            Certificate.enterprise_code == code,
            Certificate.der == der,
            Certificate.revoked_at.is_(None),
        )
    ).first()
