"""Organizations, users, login and token refresh."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from cloud.models import Organization, RefreshToken, User
from cloud.services import security
from cloud.services.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
)

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
REFRESH_TOKEN_PREFIX = "prt_"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True)
class TokenPolicy:
    """How tokens are signed and how long they live."""

    signing_key: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def create_organization_with_admin(
    session: Session,
    hasher: PasswordHasher,
    *,
    organization_name: str,
    email: str,
    password: str,
) -> User:
    """Create an organization and its first administrator, and commit."""
    organization = Organization(name=organization_name)
    user = User(
        organization=organization,
        email=_checked_email(email),
        password_hash=hasher.hash(checked_password(password)),
        is_org_admin=True,
    )
    _add_user(session, user)
    session.commit()
    logger.info(
        "Created organization %d with administrator %d", organization.id, user.id
    )
    return user


def create_user(
    session: Session,
    hasher: PasswordHasher,
    *,
    organization_id: int,
    email: str,
    password: str,
    is_org_admin: bool = False,
    full_name: str | None = None,
    person_id: int | None = None,
) -> User:
    """Add a user (flushed, not committed); roles on properties are granted after."""
    user = User(
        organization_id=organization_id,
        email=_checked_email(email),
        password_hash=hasher.hash(checked_password(password)),
        is_org_admin=is_org_admin,
        full_name=full_name,
        person_id=person_id,
    )
    _add_user(session, user)
    return user


def _checked_email(email: str) -> str:
    try:
        return normalize_email(
            validate_email(email, check_deliverability=False).normalized
        )
    except EmailNotValidError as exc:
        raise InvalidInputError(
            f"Email address {email!r} is not valid: {exc}", field="email"
        ) from exc


def checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"The password has {len(password)} characters; at least "
            f"{MIN_PASSWORD_LENGTH} are needed.",
            field="password",
        )
    return password


def _add_user(session: Session, user: User) -> None:
    if session.scalar(sa.select(User.id).where(User.email == user.email)) is not None:
        raise ConflictError(
            f"A user with email {user.email!r} already exists.", field="email"
        )
    session.add(user)
    session.flush()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def authenticate(
    session: Session, hasher: PasswordHasher, *, email: str, password: str
) -> User:
    user = None
    if email.isprintable():  # PostgreSQL refuses NUL; no address holds one
        user = session.scalar(
            sa.select(User).where(User.email == normalize_email(email))
        )
    if user is None or not security.verify_password(
        hasher, user.password_hash, password
    ):
        raise AuthenticationError("Incorrect email or password.")
    if not user.is_active:
        raise AuthenticationError("This user account is disabled.")
    return user


def issue_tokens(session: Session, user: User, policy: TokenPolicy) -> TokenPair:
    """A fresh access token and a single-use refresh token; commits."""
    refresh_token = security.new_token(REFRESH_TOKEN_PREFIX)
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.token_digest(refresh_token),
            expires_at=datetime.now(UTC) + policy.refresh_lifetime,
        )
    )
    session.commit()
    access_token = security.create_access_token(
        user_id=user.id,
        organization_id=user.organization_id,
        key=policy.signing_key,
        lifetime=policy.access_lifetime,
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(policy.access_lifetime.total_seconds()),
    )


def refresh(session: Session, refresh_token: str, policy: TokenPolicy) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    stored = session.scalar(
        sa.select(RefreshToken)
        .where(RefreshToken.token_hash == security.token_digest(refresh_token))
        .with_for_update()
    )
    now = datetime.now(UTC)
    if stored is None:
        raise AuthenticationError("The refresh token is not known.")
    if stored.used_at is not None:
        raise AuthenticationError("The refresh token has already been used.")
    if stored.expires_at <= now:
        raise AuthenticationError("The refresh token has expired; log in again.")
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("This user account is disabled.")
    stored.used_at = now
    return issue_tokens(session, user, policy)


def user_for_access_token(session: Session, token: str, signing_key: str) -> User:
    claims = security.decode_access_token(token, signing_key)
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("The user of this access token is disabled.")
    return user
