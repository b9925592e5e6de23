from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cloud.api.deps import CurrentUser, SessionDep
from cloud.schemas.telemetry import DevicesPublic, ReadingPublic
from cloud.services import telemetry

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=DevicesPublic)
def list_devices(
    session: SessionDep, user: CurrentUser, gateway_id: str | None = None
) -> Any:
    """Devices the organization's gateways have reported, with when last seen."""
    devices = telemetry.list_devices(session, user.organization_id, gateway_id)
    return {"data": devices, "count": len(devices)}


@router.get("/{gateway_id}/{device_id}/latest", response_model=list[ReadingPublic])
def latest(
    session: SessionDep, user: CurrentUser, gateway_id: str, device_id: str
) -> Any:
    """The newest reading of each point of the device."""
    return telemetry.latest_readings(
        session, user.organization_id, gateway_id, device_id
    )
