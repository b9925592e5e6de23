"""Gateways: registration, placement in a building, tokens, health."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Building, Gateway
from cloud.services import security
from cloud.services.access import Permission, Scope
from cloud.services.errors import AuthenticationError, ConflictError

logger = logging.getLogger(__name__)

GATEWAY_TOKEN_PREFIX = "pgw_"  # noqa: S105 (a label, not a secret)
TOKEN_PREFIX_LENGTH = 12


class GatewayHealth(StrEnum):
    NEVER_SEEN = "never_seen"
    OK = "ok"
    STALE = "stale"  # no batch within the stale time
    REVOKED = "revoked"


@dataclass(frozen=True)
class IssuedToken:
    """A gateway and its token in clear, which exists only in this answer."""

    gateway: Gateway
    token: str


def create_gateway(
    session: Session,
    *,
    organization_id: int,
    gateway_id: str,
    name: str = "",
    building: Building | None = None,
) -> IssuedToken:
    """Register a gateway (flushed); the caller checked it may, and commits."""
    if session.get(Gateway, gateway_id) is not None:
        raise ConflictError(
            f"A gateway with id {gateway_id!r} already exists.", field="id"
        )
    token = security.new_token(GATEWAY_TOKEN_PREFIX)
    gateway = Gateway(
        id=gateway_id,
        organization_id=organization_id,
        name=name,
        building_id=building.id if building else None,
        property_id=building.property_id if building else None,
        token_hash=security.token_digest(token),
        token_prefix=token[:TOKEN_PREFIX_LENGTH],
    )
    session.add(gateway)
    session.flush()
    logger.info("%s registered, token %s…", gateway_id, gateway.token_prefix)
    return IssuedToken(gateway, token)


def register(
    session: Session,
    scope: Scope,
    *,
    gateway_id: str,
    name: str,
    building_id: int | None,
) -> IssuedToken:
    """A gateway placed in a building needs gateways:write on its property; one
    placed nowhere yet, an organization administrator."""
    building = _building(session, scope, building_id)
    scope.require_on(
        Permission.GATEWAYS_WRITE, building.property_id if building else None
    )
    return create_gateway(
        session,
        organization_id=scope.organization_id,
        gateway_id=gateway_id,
        name=name,
        building=building,
    )


def update(
    session: Session,
    scope: Scope,
    gateway_id: str,
    *,
    name: str | None,
    building_id: int | None,
    move: bool,
) -> Gateway:
    """Rename, and when ``move``, place in ``building_id`` (None: unplace)."""
    gateway = scope.get_for_write(session, Gateway, gateway_id)
    if move:
        building = _building(session, scope, building_id)
        scope.require_on(
            Permission.GATEWAYS_WRITE, building.property_id if building else None
        )
        gateway.building_id = building.id if building else None
        gateway.property_id = building.property_id if building else None
    if name is not None:
        gateway.name = name
    session.flush()
    return gateway


def _building(
    session: Session, scope: Scope, building_id: int | None
) -> Building | None:
    if building_id is None:
        return None
    return scope.get(session, Building, building_id, field="building_id")


def rotate_token(session: Session, scope: Scope, gateway_id: str) -> IssuedToken:
    """Give the gateway a new token; the old one stops working at once.

    Rotating a revoked gateway re-activates it with the new token.
    """
    gateway = scope.get_for_write(session, Gateway, gateway_id)
    token = security.new_token(GATEWAY_TOKEN_PREFIX)
    gateway.token_hash = security.token_digest(token)
    gateway.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    gateway.revoked_at = None
    session.flush()
    logger.info("%s token rotated, now %s…", gateway_id, gateway.token_prefix)
    return IssuedToken(gateway, token)


def revoke(session: Session, scope: Scope, gateway_id: str) -> Gateway:
    gateway = scope.get_for_write(session, Gateway, gateway_id)
    if gateway.revoked_at is None:
        gateway.revoked_at = datetime.now(UTC)
        session.flush()
        logger.info("%s token revoked", gateway_id)
    return gateway


def health(gateway: Gateway, *, now: datetime, stale_after: timedelta) -> GatewayHealth:
    if gateway.revoked_at is not None:
        return GatewayHealth.REVOKED
    if gateway.last_seen_at is None:
        return GatewayHealth.NEVER_SEEN
    if now - gateway.last_seen_at > stale_after:
        return GatewayHealth.STALE
    return GatewayHealth.OK


def record_rejection(session: Session, gateway: Gateway, reason: str) -> None:
    """Count a refused batch against its gateway and keep the latest reason."""
    session.rollback()
    gateway.rejected_batches += 1
    gateway.last_rejection = reason[:1000]
    gateway.last_rejected_at = datetime.now(UTC)
    session.commit()
    logger.warning("%s batch refused: %s", gateway.id, reason)


def stage_token(gateway: Gateway) -> str:
    """A new token for the gateway, accepted beside the current one until used."""
    token = security.new_token(GATEWAY_TOKEN_PREFIX)
    gateway.pending_token_hash = security.token_digest(token)
    return token


def authenticate(session: Session, token: str) -> Gateway:
    digest = security.token_digest(token)
    gateway = session.scalar(sa.select(Gateway).where(Gateway.token_hash == digest))
    if gateway is None:
        gateway = session.scalar(
            sa.select(Gateway).where(Gateway.pending_token_hash == digest)
        )
        if gateway is not None:  # first use of a rotated token: the old one ends
            gateway.token_hash = digest
            gateway.token_prefix = token[:TOKEN_PREFIX_LENGTH]
            gateway.pending_token_hash = None
            logger.info("%s now uses its rotated token %s…", gateway.id, token[:8])
    if gateway is None:
        raise AuthenticationError("The gateway token is not known.")
    if gateway.revoked_at is not None:
        raise AuthenticationError(f"The token of gateway {gateway.id!r} is revoked.")
    return gateway
