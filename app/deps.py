"""HTTP dependencies: one committed-before-response session per request, and the caller."""

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth import Caller, PrincipalKind
from app.config import Settings
from app.errors import Unauthorized
from app.registry import service as registry_service


async def get_settings_dep(request: Request) -> Settings:
    # async: FastAPI runs a plain def dependency in a worker thread, a hand-off per request
    # for what only reads the app's state.
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """Commit (or roll back) before the response is sent, so a failed commit is an error."""
    with request.app.state.sessionmaker.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="API key issued by the registry")


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_caller(session: SessionDep, settings: SettingsDep, credentials: CredentialsDep) -> Caller:
    """The authenticated principal; 401 for a missing, unknown or revoked key."""
    return caller_of(session, settings, credentials)


def api_key_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer key sent, or 401 before anything else is read or looked up."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    return credentials.credentials


def caller_of(
    session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """``get_caller`` for an endpoint that opens its own session (one worker thread)."""
    key = api_key_of(credentials)
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Caller(principal_id=None, kind=PrincipalKind.ADMIN, name="bootstrap admin")
    caller = registry_service.authenticate(session, key=key)
    if caller is None:
        raise Unauthorized("the API key is unknown or revoked")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
