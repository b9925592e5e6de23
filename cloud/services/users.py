"""Users of an organization and the roles they hold on its properties.

Managing users is for organization administrators only (``users:manage``).
"""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from cloud.models import Person, Property, Role, RoleGrant, User
from cloud.schemas.users import GrantCreate, UserCreate, UserUpdate
from cloud.services import accounts
from cloud.services.access import Permission, Scope
from cloud.services.errors import ConflictError, InvalidInputError, NotFoundError
from cloud.services.records import Page, apply_changes, changes, fetch_page


def list_users(
    session: Session, scope: Scope, page: Page, *, property_id: int | None = None
) -> tuple[list[User], int]:
    scope.require_org_wide(Permission.USERS_MANAGE)
    query = scope.visible(User).order_by(User.id)
    if property_id is not None:
        query = query.where(
            User.id.in_(
                sa.select(RoleGrant.user_id).where(RoleGrant.property_id == property_id)
            )
        )
    return fetch_page(session, query, page)


def create_user(
    session: Session, scope: Scope, hasher: PasswordHasher, body: UserCreate
) -> User:
    scope.require_org_wide(Permission.USERS_MANAGE)
    if body.person_id is not None:
        _person_in_organization(session, scope, body.person_id)
    return accounts.create_user(
        session,
        hasher,
        organization_id=scope.organization_id,
        email=body.email,
        password=body.password,
        is_org_admin=body.is_org_admin,
        full_name=body.full_name,
        person_id=body.person_id,
    )


def update_user(
    session: Session,
    scope: Scope,
    hasher: PasswordHasher,
    user_id: int,
    body: UserUpdate,
) -> User:
    user = scope.get_for_write(session, User, user_id)
    given = changes(body, required=frozenset({"is_org_admin", "is_active", "password"}))
    if given.get("person_id") is not None:
        _person_in_organization(session, scope, given["person_id"])
    if False in (given.get("is_org_admin"), given.get("is_active")) and (
        user.is_org_admin
    ):
        _keep_an_administrator(session, user)
    if "password" in given:
        password = accounts.checked_password(given.pop("password"))
        user.password_hash = hasher.hash(password)
    apply_changes(user, given)
    session.flush()
    return user


def _keep_an_administrator(session: Session, user: User) -> None:
    others = session.scalar(
        sa.select(sa.func.count()).where(
            User.organization_id == user.organization_id,
            User.id != user.id,
            User.is_org_admin,
            User.is_active,
        )
    )
    if not others:
        raise ConflictError(
            f"User {user.id} is the organization's last active administrator; "
            "make another user an administrator first."
        )


def _person_in_organization(session: Session, scope: Scope, person_id: int) -> None:
    person = session.get(Person, person_id)
    if person is None or person.organization_id != scope.organization_id:
        raise NotFoundError(f"Person {person_id} not found.", field="person_id")


def grant_role(
    session: Session, scope: Scope, user_id: int, body: GrantCreate
) -> RoleGrant:
    user = scope.get_for_write(session, User, user_id)
    scope.get(session, Property, body.property_id, field="property_id")
    role = Role(body.role)
    if role in (Role.OWNER, Role.TENANT) and user.person_id is None:
        raise InvalidInputError(
            f"The {role} role shows a user their own units and leases, found through "
            "their person record; set the user's person_id first.",
            field="role",
        )
    taken = session.scalar(
        sa.select(RoleGrant.id).where(
            RoleGrant.user_id == user.id,
            RoleGrant.property_id == body.property_id,
            RoleGrant.role == role,
        )
    )
    if taken is not None:
        raise ConflictError(
            f"User {user.id} already holds {role} on property {body.property_id}."
        )
    grant = RoleGrant(user_id=user.id, property_id=body.property_id, role=role.value)
    user.grants.append(grant)
    session.flush()
    return grant


def revoke_grant(session: Session, scope: Scope, user_id: int, grant_id: int) -> None:
    user = scope.get_for_write(session, User, user_id)
    grant = next((g for g in user.grants if g.id == grant_id), None)
    if grant is None:
        raise NotFoundError(f"Grant {grant_id} of user {user_id} not found.")
    user.grants.remove(grant)
    session.flush()
