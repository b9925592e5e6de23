from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cloud.api.deps import PageDep, ScopeDep, SessionDep
from cloud.schemas.telemetry import DevicesPublic, ReadingPublic
from cloud.services import telemetry
from sync.schema import DeviceId

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=DevicesPublic)
def list_devices(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    gateway_id: DeviceId | None = None,
) -> Any:
    """Devices the caller's gateways have reported, with when last seen."""
    devices, count = telemetry.list_devices(session, scope, page, gateway_id)
    return {"data": devices, "count": count}


@router.get("/{gateway_id}/{device_id}/latest", response_model=list[ReadingPublic])
def latest(
    session: SessionDep, scope: ScopeDep, gateway_id: DeviceId, device_id: DeviceId
) -> Any:
    """The newest reading of each point of the device."""
    return telemetry.latest_readings(session, scope, gateway_id, device_id)
