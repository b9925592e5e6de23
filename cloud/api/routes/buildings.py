from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import Building
from cloud.schemas.common import Listing
from cloud.schemas.properties import BuildingCreate, BuildingPublic, BuildingUpdate
from cloud.services import properties
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/buildings", tags=["buildings"])


@router.get("", response_model=Listing[BuildingPublic])
def list_buildings(
    session: SessionDep, scope: ScopeDep, page: PageDep, property_id: IdQuery = None
) -> Any:
    rows, count = list_visible(
        session, scope, Building, page, filters={Building.property_id: property_id}
    )
    return {"data": rows, "count": count}


@router.post("", response_model=BuildingPublic, status_code=status.HTTP_201_CREATED)
def create_building(session: SessionDep, scope: ScopeDep, body: BuildingCreate) -> Any:
    record = properties.create_building(session, scope, body)
    session.commit()
    return record


@router.get("/{building_id}", response_model=BuildingPublic)
def read_building(session: SessionDep, scope: ScopeDep, building_id: IdPath) -> Any:
    return scope.get(session, Building, building_id)


@router.patch("/{building_id}", response_model=BuildingPublic)
def update_building(
    session: SessionDep, scope: ScopeDep, building_id: IdPath, body: BuildingUpdate
) -> Any:
    record = properties.update_building(session, scope, building_id, body)
    session.commit()
    return record


@router.delete("/{building_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_building(session: SessionDep, scope: ScopeDep, building_id: IdPath) -> None:
    """Only an empty building: 409 while it has units, equipment or gateways."""
    delete_record(session, scope, Building, building_id)
    session.commit()
