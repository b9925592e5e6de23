"""Users and their roles; managing them is for organization administrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import (
    CurrentUser,
    IdPath,
    IdQuery,
    PageDep,
    PasswordHasherDep,
    ScopeDep,
    SessionDep,
)
from cloud.models import User
from cloud.schemas.common import Listing
from cloud.schemas.users import (
    GrantCreate,
    GrantPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from cloud.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> Any:
    """The caller, with the roles they hold on each property."""
    return user


@router.get("", response_model=Listing[UserPublic])
def list_users(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    rows, count = users.list_users(session, scope, page, property_id=property_id)
    return {"data": rows, "count": count}


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(
    session: SessionDep, scope: ScopeDep, hasher: PasswordHasherDep, body: UserCreate
) -> Any:
    user = users.create_user(session, scope, hasher, body)
    session.commit()
    return user


@router.get("/{user_id}", response_model=UserPublic)
def read_user(session: SessionDep, scope: ScopeDep, user_id: IdPath) -> Any:
    return scope.get(session, User, user_id)


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    session: SessionDep,
    scope: ScopeDep,
    hasher: PasswordHasherDep,
    user_id: IdPath,
    body: UserUpdate,
) -> Any:
    user = users.update_user(session, scope, hasher, user_id, body)
    session.commit()
    return user


@router.post(
    "/{user_id}/grants",
    response_model=GrantPublic,
    status_code=status.HTTP_201_CREATED,
)
def grant_role(
    session: SessionDep, scope: ScopeDep, user_id: IdPath, body: GrantCreate
) -> Any:
    """Give the user a role on a property."""
    grant = users.grant_role(session, scope, user_id, body)
    session.commit()
    return grant


@router.delete("/{user_id}/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_grant(
    session: SessionDep, scope: ScopeDep, user_id: IdPath, grant_id: IdPath
) -> None:
    users.revoke_grant(session, scope, user_id, grant_id)
    session.commit()
