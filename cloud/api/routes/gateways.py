"""Gateway registration and tokens (administrators), and per-gateway statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from cloud.api.deps import AdminUser, CurrentUser, SessionDep
from cloud.schemas.gateways import (
    GatewayCreate,
    GatewayIntegrity,
    GatewayPublic,
    GatewayStats,
    GatewayTokenPublic,
)
from cloud.services import gateways, telemetry

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.post("", response_model=GatewayTokenPublic, status_code=status.HTTP_201_CREATED)
def create_gateway(session: SessionDep, admin: AdminUser, body: GatewayCreate) -> Any:
    """Register a gateway; the answer holds its token, which is never shown again."""
    issued = gateways.create_gateway(
        session,
        organization_id=admin.organization_id,
        gateway_id=body.id,
        name=body.name,
    )
    return _with_token(issued)


@router.get("", response_model=list[GatewayPublic])
def list_gateways(session: SessionDep, user: CurrentUser) -> Any:
    return gateways.list_gateways(session, user.organization_id)


@router.post("/{gateway_id}/rotate-token", response_model=GatewayTokenPublic)
def rotate_token(session: SessionDep, admin: AdminUser, gateway_id: str) -> Any:
    """Issue a new token; the old one is refused from now on."""
    return _with_token(
        gateways.rotate_token(session, admin.organization_id, gateway_id)
    )


@router.post("/{gateway_id}/revoke", response_model=GatewayPublic)
def revoke(session: SessionDep, admin: AdminUser, gateway_id: str) -> Any:
    return gateways.revoke(session, admin.organization_id, gateway_id)


@router.get("/{gateway_id}/stats", response_model=GatewayStats)
def stats(session: SessionDep, user: CurrentUser, gateway_id: str) -> Any:
    return telemetry.gateway_stats(session, user.organization_id, gateway_id)


@router.get("/{gateway_id}/integrity", response_model=GatewayIntegrity)
def integrity(
    session: SessionDep,
    admin: AdminUser,
    gateway_id: str,
    upto: Annotated[int, Query(ge=1, le=10**15, description="Last seq to check.")],
) -> Any:
    """Which of the gateway's seqs 1..upto the cloud holds: stored, declared, lost."""
    return telemetry.gateway_integrity(session, admin.organization_id, gateway_id, upto)


def _with_token(issued: gateways.IssuedToken) -> GatewayTokenPublic:
    public = GatewayPublic.model_validate(issued.gateway)
    return GatewayTokenPublic(**public.model_dump(), token=issued.token)
