"""Meter points (what is billed) and meters (the devices installed at them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import Meter, MeterKind, MeterPoint
from cloud.schemas.common import Listing
from cloud.schemas.meters import (
    MeterCreate,
    MeterPointCreate,
    MeterPointHistory,
    MeterPointPublic,
    MeterPublic,
    MeterRemoval,
    MeterReplacement,
    MeterUpdate,
)
from cloud.services import meters
from cloud.services.records import delete_record, list_visible

points_router = APIRouter(prefix="/meter-points", tags=["meters"])
router = APIRouter(prefix="/meters", tags=["meters"])


@points_router.get("", response_model=Listing[MeterPointPublic])
def list_meter_points(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    building_id: IdQuery = None,
    unit_id: IdQuery = None,
    kind: MeterKind | None = None,
) -> Any:
    filters = {
        MeterPoint.property_id: property_id,
        MeterPoint.building_id: building_id,
        MeterPoint.unit_id: unit_id,
        MeterPoint.kind: kind,
    }
    rows, count = list_visible(session, scope, MeterPoint, page, filters=filters)
    return {"data": rows, "count": count}


@points_router.post(
    "", response_model=MeterPointPublic, status_code=status.HTTP_201_CREATED
)
def create_meter_point(
    session: SessionDep, scope: ScopeDep, body: MeterPointCreate
) -> Any:
    """A unit's point when unit_id is given, a common area's otherwise."""
    record = meters.create_meter_point(session, scope, body)
    session.commit()
    return record


@points_router.get("/{meter_point_id}", response_model=MeterPointHistory)
def read_meter_point(
    session: SessionDep, scope: ScopeDep, meter_point_id: IdPath
) -> Any:
    """The point with every meter installed at it, oldest first."""
    point = scope.get(session, MeterPoint, meter_point_id)
    history = meters.history(session, scope, meter_point_id)
    return MeterPointHistory.model_validate(
        {**MeterPointPublic.model_validate(point).model_dump(), "meters": history}
    )


@points_router.delete("/{meter_point_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_meter_point(
    session: SessionDep, scope: ScopeDep, meter_point_id: IdPath
) -> None:
    """Only a point that never had a meter (409 otherwise)."""
    delete_record(session, scope, MeterPoint, meter_point_id)
    session.commit()


@router.get("", response_model=Listing[MeterPublic])
def list_meters(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    meter_point_id: IdQuery = None,
    in_service: bool | None = None,
) -> Any:
    conditions = []
    if in_service is not None:
        removed = Meter.removed_at.is_(None)
        conditions.append(removed if in_service else ~removed)
    filters = {Meter.property_id: property_id, Meter.meter_point_id: meter_point_id}
    rows, count = list_visible(
        session, scope, Meter, page, filters=filters, conditions=conditions
    )
    return {"data": rows, "count": count}


@router.post("", response_model=MeterPublic, status_code=status.HTTP_201_CREATED)
def install_meter(session: SessionDep, scope: ScopeDep, body: MeterCreate) -> Any:
    """Install a meter at a point with none in service (409 otherwise)."""
    record = meters.install_meter(session, scope, body)
    session.commit()
    return record


@router.get("/{meter_id}", response_model=MeterPublic)
def read_meter(session: SessionDep, scope: ScopeDep, meter_id: IdPath) -> Any:
    return scope.get(session, Meter, meter_id)


@router.patch("/{meter_id}", response_model=MeterPublic)
def update_meter(
    session: SessionDep, scope: ScopeDep, meter_id: IdPath, body: MeterUpdate
) -> Any:
    """Serial, make and gateway point; readings and register stay as installed."""
    record = meters.update_meter(session, scope, meter_id, body)
    session.commit()
    return record


@router.post("/{meter_id}/remove", response_model=MeterPublic)
def remove_meter(
    session: SessionDep, scope: ScopeDep, meter_id: IdPath, body: MeterRemoval
) -> Any:
    record = meters.remove_meter(session, scope, meter_id, body)
    session.commit()
    return record


@router.post(
    "/{meter_id}/replace",
    response_model=MeterPublic,
    status_code=status.HTTP_201_CREATED,
)
def replace_meter(
    session: SessionDep, scope: ScopeDep, meter_id: IdPath, body: MeterReplacement
) -> Any:
    """Remove the meter and install ``new`` at the same point; answers the new
    meter. The point's history keeps both."""
    record = meters.replace_meter(session, scope, meter_id, body)
    session.commit()
    return record
