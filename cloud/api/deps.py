"""Dependencies of the routes, as ``Annotated`` aliases to keep signatures short.

Authentication and scoping are deny-by-default: the user router requires
``get_scope`` (a logged-in user's ``Scope``) for every route under it, the ingest
router a gateway token; only the routers in ``cloud.api.main`` mounted without
these dependencies (token, refresh, health) are open. Routes read and write only
through the scope's methods (``cloud.services.access``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Path, Query, Request, UploadFile
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from sqlalchemy.orm import Session

from cloud.api.state import AppState
from cloud.models import Gateway, User
from cloud.schemas.common import MAX_ID
from cloud.services import accounts, gateways
from cloud.services.access import Scope, load_scope
from cloud.services.audit import Actor, act_as
from cloud.services.errors import AuthenticationError, PayloadTooLargeError
from cloud.services.records import MAX_PAGE, Page


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.pams
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_password_hasher(state: StateDep) -> PasswordHasher:
    return state.password_hasher


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]

_user_token = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_gateway_token = HTTPBearer(auto_error=False, scheme_name="GatewayToken")


def get_current_user(
    session: SessionDep,
    state: StateDep,
    token: Annotated[str | None, Depends(_user_token)],
) -> User:
    if not token:
        raise AuthenticationError(
            "Not authenticated: send 'Authorization: Bearer <access token>'."
        )
    return accounts.user_for_access_token(
        session, token, state.token_policy.signing_key
    )


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_scope(session: SessionDep, user: CurrentUser) -> Scope:
    """The caller's scope, bound to the request's session as the audit actor."""
    scope = load_scope(session, user)
    scope.bind(session)
    return scope


ScopeDep = Annotated[Scope, Depends(get_scope)]


def get_current_gateway(
    session: SessionDep,
    credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_gateway_token)
    ],
) -> Gateway:
    if credentials is None or not credentials.credentials:
        raise AuthenticationError(
            "Not authenticated: send 'Authorization: Bearer <gateway token>'."
        )
    gateway = gateways.authenticate(session, credentials.credentials)
    act_as(
        session,
        Actor(label=f"gateway {gateway.id}", organization_id=gateway.organization_id),
    )
    return gateway


CurrentGateway = Annotated[Gateway, Depends(get_current_gateway)]


def get_page(
    skip: Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")] = 0,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE, description=f"Rows to return, {MAX_PAGE} at most."),
    ] = 100,
) -> Page:
    return Page(skip=skip, limit=limit)


PageDep = Annotated[Page, Depends(get_page)]

# Ids in paths and filters: a number past 32 bits is a 422, not a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def read_upload(file: UploadFile, limit: int) -> bytes:
    """The bytes of an uploaded file, refused (413) past ``limit``."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"{file.filename!r} has more than {limit} bytes, the limit.", field="file"
        )
    return data
