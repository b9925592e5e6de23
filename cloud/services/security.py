"""Passwords, access tokens and the opaque tokens of gateways and refresh."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from cloud.services.errors import AuthenticationError

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 (a claim value, not a secret)

ARGON2_PROFILES = {
    "rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY,
    # Meant for test suites: a hash costs microseconds instead of a tenth of a second.
    "cheapest": profiles.CHEAPEST,
}


def password_hasher(profile: str) -> PasswordHasher:
    try:
        return PasswordHasher.from_parameters(ARGON2_PROFILES[profile])
    except KeyError:
        raise ValueError(
            f"Unknown argon2 profile {profile!r}; use one of {sorted(ARGON2_PROFILES)}."
        ) from None


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A 32-byte random token; ``prefix`` tells a reader what kind it is."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The lookup key of a high-entropy random token (never use this for passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    organization_id: int
    expires_at: datetime


def create_access_token(
    *, user_id: int, organization_id: int, key: str, lifetime: timedelta
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org": organization_id,
        "type": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, key: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "type"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError(
            "The access token has expired; get a new one from /api/v1/auth/refresh."
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"The access token is invalid: {exc}.") from exc
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise AuthenticationError("The token is not an access token.")
    try:
        return AccessClaims(
            user_id=int(claims["sub"]),
            organization_id=int(claims["org"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuthenticationError("The access token has malformed claims.") from exc
