"""Dependencies of the routes, as ``Annotated`` aliases to keep signatures short.

Authentication is deny-by-default: the API router requires a logged-in user for every
route, the ingest router a gateway token; only the routers in ``cloud.api.main`` that
are mounted without these dependencies (token, refresh, health) are open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from sqlalchemy.orm import Session

from cloud.api.state import AppState
from cloud.models import Gateway, Role, User
from cloud.services import accounts, gateways
from cloud.services.errors import AuthenticationError, PermissionDeniedError


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


def get_admin_user(user: CurrentUser) -> User:
    if user.role != Role.ORG_ADMIN:
        raise PermissionDeniedError(
            f"This needs the {Role.ORG_ADMIN.value} role; you have {user.role}."
        )
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


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
    return gateways.authenticate(session, credentials.credentials)


CurrentGateway = Annotated[Gateway, Depends(get_current_gateway)]
