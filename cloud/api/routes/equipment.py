from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.api.routes.attachments import add_attachment_routes
from cloud.models import Equipment, EquipmentCategory, EquipmentStatus
from cloud.schemas.common import Listing
from cloud.schemas.equipment import (
    EquipmentCreate,
    EquipmentPublic,
    EquipmentUpdate,
    InspectionCreate,
    InspectionPublic,
)
from cloud.services import equipment
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/equipment", tags=["equipment"])


@router.get("", response_model=Listing[EquipmentPublic])
def list_equipment(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    building_id: IdQuery = None,
    unit_id: IdQuery = None,
    parent_id: IdQuery = None,
    category: EquipmentCategory | None = None,
    status: EquipmentStatus | None = None,
) -> Any:
    filters = {
        Equipment.property_id: property_id,
        Equipment.building_id: building_id,
        Equipment.unit_id: unit_id,
        Equipment.parent_id: parent_id,
        Equipment.category: category,
        Equipment.status: status,
    }
    rows, count = list_visible(session, scope, Equipment, page, filters=filters)
    return {"data": rows, "count": count}


@router.post("", response_model=EquipmentPublic, status_code=status.HTTP_201_CREATED)
def create_equipment(
    session: SessionDep, scope: ScopeDep, body: EquipmentCreate
) -> Any:
    """Located by unit, building or property (the most precise given)."""
    record = equipment.create_equipment(session, scope, body)
    session.commit()
    return record


@router.get("/{equipment_id}", response_model=EquipmentPublic)
def read_equipment(session: SessionDep, scope: ScopeDep, equipment_id: IdPath) -> Any:
    return scope.get(session, Equipment, equipment_id)


@router.patch("/{equipment_id}", response_model=EquipmentPublic)
def update_equipment(
    session: SessionDep, scope: ScopeDep, equipment_id: IdPath, body: EquipmentUpdate
) -> Any:
    record = equipment.update_equipment(session, scope, equipment_id, body)
    session.commit()
    return record


@router.delete("/{equipment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_equipment(
    session: SessionDep, scope: ScopeDep, equipment_id: IdPath
) -> None:
    """Deletes its inspections and documents too; 409 while it has parts."""
    delete_record(session, scope, Equipment, equipment_id)
    session.commit()


@router.post(
    "/{equipment_id}/inspections",
    response_model=InspectionPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_inspection(
    session: SessionDep, scope: ScopeDep, equipment_id: IdPath, body: InspectionCreate
) -> Any:
    """A statutory inspection or certificate; next due = last + interval."""
    record = equipment.add_inspection(session, scope, equipment_id, body)
    session.commit()
    return record


add_attachment_routes(router, Equipment, "equipment")
