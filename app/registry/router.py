import base64
import binascii
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, status

from app.audit import actor_of
from app.deps import CallerDep, SessionDep
from app.errors import NotFound, RuleViolation
from app.registry import service
from app.registry.schemas import (
    BankMandateItem,
    BankMandateRead,
    CertificateFacts,
    CertificateRead,
    CertificateUpload,
    EnterpriseCreate,
    EnterpriseRead,
    EnterpriseUpdate,
    KeyIssue,
    KeyIssued,
    KeyRead,
    PrincipalCreate,
    PrincipalCreated,
    PrincipalRead,
)
from app.responses import error_responses
from app.window.signature import load_certificate

router = APIRouter(tags=["registry"])


class InvalidCertificate(RuleViolation):
    pass


@router.post(
    "/enterprises",
    response_model=EnterpriseRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_enterprise(data: EnterpriseCreate, session: SessionDep, caller: CallerDep) -> object:
    """File an enterprise (administrators only)."""
    caller.require_admin()
    return service.create_enterprise(session, data=data, actor=actor_of(caller))


@router.get(
    "/enterprises", response_model=list[EnterpriseRead], responses=error_responses(401, 403)
)
def list_enterprises(
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """All enterprises for an administrator; an enterprise sees only itself."""
    if caller.is_admin:
        return service.list_enterprises(session, after=after, limit=limit)
    code = caller.require_enterprise()
    return [service.get_enterprise(session, code=code)]


@router.get(
    "/enterprises/{code}",
    response_model=EnterpriseRead,
    responses=error_responses(401, 403, 404),
)
def get_enterprise(code: str, session: SessionDep, caller: CallerDep) -> object:
    """One enterprise: administrators, or the enterprise itself."""
    caller.require_self_or_admin(code)
    return service.get_enterprise(session, code=code)


@router.patch(
    "/enterprises/{code}",
    response_model=EnterpriseRead,
    responses=error_responses(401, 403, 404, 422),
)
def update_enterprise(
    code: str, data: EnterpriseUpdate, session: SessionDep, caller: CallerDep
) -> object:
    """Change an enterprise's filing (administrators only)."""
    caller.require_admin()
    return service.update_enterprise(session, code=code, data=data, actor=actor_of(caller))


@router.post(
    "/enterprises/{code}/keys",
    response_model=KeyIssued,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404),
)
def issue_enterprise_key(
    code: str,
    session: SessionDep,
    caller: CallerDep,
    data: Annotated[KeyIssue | None, Body()] = None,
) -> object:
    """Issue an API key for the enterprise; the key is in this response and nowhere else."""
    caller.require_self_or_admin(code)
    label = data.label if data else None
    return service.issue_enterprise_key(session, code=code, label=label, actor=actor_of(caller))


@router.get(
    "/enterprises/{code}/keys",
    response_model=list[KeyRead],
    responses=error_responses(401, 403, 404),
)
def list_enterprise_keys(code: str, session: SessionDep, caller: CallerDep) -> object:
    """The enterprise's keys (prefix, dates), never the keys themselves."""
    caller.require_self_or_admin(code)
    return service.list_keys(
        session, principal_id=service.enterprise_principal_id(session, code=code)
    )


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404),
)
def revoke_key(key_id: UUID, session: SessionDep, caller: CallerDep) -> None:
    """Revoke a key: its owner or an administrator."""
    service.revoke_key(session, key_id=key_id, caller=caller, actor=actor_of(caller))


@router.get(
    "/enterprises/{code}/bank-mandates",
    response_model=list[BankMandateRead],
    responses=error_responses(401, 403, 404),
)
def get_bank_mandates(code: str, session: SessionDep, caller: CallerDep) -> object:
    """The banks the enterprise lets see its trade lists."""
    caller.require_self_or_admin(code)
    service.get_enterprise(session, code=code)
    return service.bank_mandates(session, code=code)


@router.put(
    "/enterprises/{code}/bank-mandates",
    response_model=list[BankMandateRead],
    responses=error_responses(401, 403, 404, 409, 422),
)
def put_bank_mandates(
    code: str,
    mandates: Annotated[list[BankMandateItem], Body(max_length=200)],
    session: SessionDep,
    caller: CallerDep,
) -> object:
    """Replace the enterprise's bank mandates (the enterprise itself or an administrator)."""
    caller.require_self_or_admin(code)
    return service.replace_bank_mandates(
        session, code=code, mandates=mandates, actor=actor_of(caller)
    )


@router.post(
    "/principals",
    response_model=PrincipalCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_principal(data: PrincipalCreate, session: SessionDep, caller: CallerDep) -> object:
    """Register an officer, bank or administrator; its first key is in this response only."""
    caller.require_admin()
    principal, key = service.create_principal(session, data=data, actor=actor_of(caller))
    return PrincipalCreated(principal=PrincipalRead.model_validate(principal), key=key)


@router.get("/principals", response_model=list[PrincipalRead], responses=error_responses(401, 403))
def list_principals(session: SessionDep, caller: CallerDep) -> object:
    """Officers, banks and administrators (administrators only)."""
    caller.require_admin()
    return service.list_principals(session)


@router.post(
    "/principals/{principal_id}/keys",
    response_model=KeyIssued,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404),
)
def issue_principal_key(
    principal_id: UUID,
    session: SessionDep,
    caller: CallerDep,
    data: Annotated[KeyIssue | None, Body()] = None,
) -> object:
    """Another key for a principal: an administrator, or the principal for itself."""
    if not caller.is_admin and caller.principal_id != principal_id:
        raise NotFound(f"no principal {principal_id}")
    label = data.label if data else None
    return service.issue_principal_key(
        session, principal_id=principal_id, label=label, actor=actor_of(caller)
    )


@router.post(
    "/enterprises/{code}/certificates",
    response_model=CertificateRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def file_certificate(
    code: str, data: CertificateUpload, session: SessionDep, caller: CallerDep
) -> object:
    """File a signing certificate (RSA or SM2, PEM or base64 DER) for the enterprise."""
    caller.require_self_or_admin(code)
    raw = data.certificate.strip().encode()
    try:
        parsed = load_certificate(raw if raw.startswith(b"-----") else base64.b64decode(raw))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCertificate(f"not a usable certificate: {exc}") from None
    facts = CertificateFacts(
        serial=parsed.serial,
        subject=parsed.subject,
        key_algorithm=parsed.key_algorithm,
        der=parsed.der,
        not_before=parsed.not_before,
        not_after=parsed.not_after,
    )
    return service.file_certificate(session, code=code, facts=facts, actor=actor_of(caller))


@router.get(
    "/enterprises/{code}/certificates",
    response_model=list[CertificateRead],
    responses=error_responses(401, 403, 404),
)
def list_certificates(code: str, session: SessionDep, caller: CallerDep) -> object:
    """The enterprise's filed certificates."""
    caller.require_self_or_admin(code)
    service.get_enterprise(session, code=code)
    return service.certificates(session, code=code)


@router.delete(
    "/enterprises/{code}/certificates/{certificate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
def revoke_certificate(
    code: str, certificate_id: UUID, session: SessionDep, caller: CallerDep
) -> None:
    """Revoke a certificate: signatures made with it are refused from now on."""
    caller.require_self_or_admin(code)
    service.revoke_certificate(
        session, code=code, certificate_id=certificate_id, actor=actor_of(caller)
    )
