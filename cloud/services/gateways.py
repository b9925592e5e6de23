"""Gateways: registration, their bearer tokens, rotation and revocation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Gateway
from cloud.services import security
from cloud.services.errors import AuthenticationError, ConflictError, NotFoundError

logger = logging.getLogger(__name__)

GATEWAY_TOKEN_PREFIX = "pgw_"  # noqa: S105 (a label, not a secret)
TOKEN_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class IssuedToken:
    """A gateway and its token in clear, which exists only in this answer."""

    gateway: Gateway
    token: str


def create_gateway(
    session: Session, *, organization_id: int, gateway_id: str, name: str = ""
) -> IssuedToken:
    if session.get(Gateway, gateway_id) is not None:
        raise ConflictError(f"A gateway with id {gateway_id!r} already exists.")
    token = security.new_token(GATEWAY_TOKEN_PREFIX)
    gateway = Gateway(
        id=gateway_id,
        organization_id=organization_id,
        name=name,
        token_hash=security.token_digest(token),
        token_prefix=token[:TOKEN_PREFIX_LENGTH],
    )
    session.add(gateway)
    session.commit()
    logger.info("%s registered, token %s…", gateway_id, gateway.token_prefix)
    return IssuedToken(gateway, token)


def list_gateways(session: Session, organization_id: int) -> list[Gateway]:
    query = (
        sa.select(Gateway)
        .where(Gateway.organization_id == organization_id)
        .order_by(Gateway.id)
    )
    return list(session.scalars(query))


def get_gateway(session: Session, organization_id: int, gateway_id: str) -> Gateway:
    gateway = session.get(Gateway, gateway_id)
    if gateway is None or gateway.organization_id != organization_id:
        raise NotFoundError(f"Gateway {gateway_id!r} not found.")
    return gateway


def rotate_token(
    session: Session, organization_id: int, gateway_id: str
) -> IssuedToken:
    """Give the gateway a new token; the old one stops working at once.

    Rotating a revoked gateway re-activates it with the new token.
    """
    gateway = get_gateway(session, organization_id, gateway_id)
    token = security.new_token(GATEWAY_TOKEN_PREFIX)
    gateway.token_hash = security.token_digest(token)
    gateway.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    gateway.revoked_at = None
    session.commit()
    logger.info("%s token rotated, now %s…", gateway_id, gateway.token_prefix)
    return IssuedToken(gateway, token)


def revoke(session: Session, organization_id: int, gateway_id: str) -> Gateway:
    gateway = get_gateway(session, organization_id, gateway_id)
    if gateway.revoked_at is None:
        gateway.revoked_at = datetime.now(UTC)
        session.commit()
        logger.info("%s token revoked", gateway_id)
    return gateway


def record_rejection(session: Session, gateway: Gateway, reason: str) -> None:
    """Count a refused batch against its gateway and keep the latest reason."""
    session.rollback()
    gateway.rejected_batches += 1
    gateway.last_rejection = reason[:1000]
    gateway.last_rejected_at = datetime.now(UTC)
    session.commit()
    logger.warning("%s batch refused: %s", gateway.id, reason)


def authenticate(session: Session, token: str) -> Gateway:
    gateway = session.scalar(
        sa.select(Gateway).where(Gateway.token_hash == security.token_digest(token))
    )
    if gateway is None:
        raise AuthenticationError("The gateway token is not known.")
    if gateway.revoked_at is not None:
        raise AuthenticationError(f"The token of gateway {gateway.id!r} is revoked.")
    return gateway
