"""Login and token refresh: the only API routes open without a token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from cloud.api.deps import PasswordHasherDep, SessionDep, StateDep
from cloud.schemas.auth import RefreshCreate, TokenPublic
from cloud.services import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def login(
    session: SessionDep,
    state: StateDep,
    hasher: PasswordHasherDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Any:
    """OAuth2 password flow: ``username`` is the email."""
    user = accounts.authenticate(
        session, hasher, email=form.username, password=form.password
    )
    return _public(accounts.issue_tokens(session, user, state.token_policy))


@router.post("/refresh", response_model=TokenPublic)
def refresh(session: SessionDep, state: StateDep, body: RefreshCreate) -> Any:
    """Trade a refresh token (usable once) for a new access and refresh token."""
    return _public(accounts.refresh(session, body.refresh_token, state.token_policy))


def _public(pair: accounts.TokenPair) -> TokenPublic:
    return TokenPublic(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )
