"""Gateways: registration and placement, tokens, health and statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from cloud.api.deps import IdQuery, PageDep, ScopeDep, SessionDep, StateDep
from cloud.api.state import AppState
from cloud.models import Gateway
from cloud.schemas.common import Listing
from cloud.schemas.gateways import (
    CommandCreate,
    CommandPublic,
    GatewayCreate,
    GatewayIntegrity,
    GatewayPublic,
    GatewayStats,
    GatewayTokenPublic,
    GatewayUpdate,
)
from cloud.services import commands, gateways, telemetry
from cloud.services.records import list_visible
from sync.schema import DeviceId

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.post("", response_model=GatewayTokenPublic, status_code=status.HTTP_201_CREATED)
def create_gateway(
    session: SessionDep, scope: ScopeDep, state: StateDep, body: GatewayCreate
) -> Any:
    """Register a gateway; the answer holds its token, which is never shown again."""
    issued = gateways.register(
        session,
        scope,
        gateway_id=body.id,
        name=body.name,
        building_id=body.building_id,
    )
    session.commit()
    return _with_token(state, issued)


@router.get("", response_model=Listing[GatewayPublic])
def list_gateways(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    page: PageDep,
    property_id: IdQuery = None,
    building_id: IdQuery = None,
) -> Any:
    filters = {Gateway.property_id: property_id, Gateway.building_id: building_id}
    rows, count = list_visible(session, scope, Gateway, page, filters=filters)
    return {"data": [_public(state, gateway) for gateway in rows], "count": count}


@router.get("/{gateway_id}", response_model=GatewayPublic)
def read_gateway(
    session: SessionDep, scope: ScopeDep, state: StateDep, gateway_id: DeviceId
) -> Any:
    return _public(state, scope.get(session, Gateway, gateway_id))


@router.patch("/{gateway_id}", response_model=GatewayPublic)
def update_gateway(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    gateway_id: DeviceId,
    body: GatewayUpdate,
) -> Any:
    """Rename, or place in a building (gateways:write there too)."""
    gateway = gateways.update(
        session,
        scope,
        gateway_id,
        name=body.name,
        building_id=body.building_id,
        move="building_id" in body.model_fields_set,
    )
    session.commit()
    return _public(state, gateway)


@router.post("/{gateway_id}/rotate-token", response_model=GatewayTokenPublic)
def rotate_token(
    session: SessionDep, scope: ScopeDep, state: StateDep, gateway_id: DeviceId
) -> Any:
    """Issue a new token; the old one is refused from now on."""
    issued = gateways.rotate_token(session, scope, gateway_id)
    session.commit()
    return _with_token(state, issued)


@router.post("/{gateway_id}/revoke", response_model=GatewayPublic)
def revoke(
    session: SessionDep, scope: ScopeDep, state: StateDep, gateway_id: DeviceId
) -> Any:
    gateway = gateways.revoke(session, scope, gateway_id)
    session.commit()
    return _public(state, gateway)


@router.get("/{gateway_id}/stats", response_model=GatewayStats)
def stats(session: SessionDep, scope: ScopeDep, gateway_id: DeviceId) -> Any:
    return telemetry.gateway_stats(session, scope, gateway_id)


@router.get("/{gateway_id}/integrity", response_model=GatewayIntegrity)
def integrity(
    session: SessionDep,
    scope: ScopeDep,
    gateway_id: DeviceId,
    upto: Annotated[int, Query(ge=1, le=10**15, description="Last seq to check.")],
) -> Any:
    """Which of the gateway's seqs 1..upto the cloud holds: stored, declared, lost."""
    return telemetry.gateway_integrity(session, scope, gateway_id, upto)


def _public(state: AppState, gateway: Gateway) -> GatewayPublic:
    fields = {
        name: getattr(gateway, name)
        for name in GatewayPublic.model_fields
        if name != "health"
    }
    stale_after = timedelta(minutes=state.settings.gateway_stale_minutes)
    health = gateways.health(gateway, now=datetime.now(UTC), stale_after=stale_after)
    return GatewayPublic(**fields, health=health)


def _with_token(state: AppState, issued: gateways.IssuedToken) -> GatewayTokenPublic:
    public = _public(state, issued.gateway)
    return GatewayTokenPublic(**public.model_dump(), token=issued.token)


@router.post(
    "/{gateway_id}/commands",
    response_model=CommandPublic,
    status_code=status.HTTP_201_CREATED,
)
def queue_command(
    session: SessionDep, scope: ScopeDep, gateway_id: str, body: CommandCreate
) -> Any:
    """Queue a command; it rides on the gateway's next sync answer."""
    command = commands.queue_command(
        session,
        scope,
        gateway_id,
        kind=body.kind,
        device_id=body.device_id,
        args=body.args,
        expires_in=timedelta(seconds=body.expires_in_s),
    )
    session.commit()
    return command


@router.post(
    "/{gateway_id}/rotate-token/deliver",
    response_model=CommandPublic,
    status_code=status.HTTP_201_CREATED,
)
def rotate_token_through_gateway(
    session: SessionDep, scope: ScopeDep, state: StateDep, gateway_id: str
) -> Any:
    """Rotate the token without anyone handling it: the new token rides, sealed, on
    the gateway's next sync answer; the old one works until the new one is used."""
    command = commands.queue_token_rotation(
        session, scope, gateway_id, tokens=state.token_cipher
    )
    session.commit()
    return command


@router.get("/{gateway_id}/commands", response_model=Listing[CommandPublic])
def list_commands(session: SessionDep, scope: ScopeDep, gateway_id: str) -> Any:
    rows = commands.list_commands(session, scope, gateway_id)
    return {"data": rows, "count": len(rows)}
