from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import Inspection
from cloud.schemas.common import Day, Listing
from cloud.schemas.equipment import InspectionPublic, InspectionUpdate
from cloud.services import equipment
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/inspections", tags=["equipment"])


@router.get("", response_model=Listing[InspectionPublic])
def list_inspections(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    equipment_id: IdQuery = None,
    due_before: Annotated[
        Day | None, Query(description="Only those due on or before this day.")
    ] = None,
) -> Any:
    """Soonest due first."""
    conditions = []
    if due_before is not None:
        conditions.append(Inspection.next_due_on <= due_before)
    filters = {
        Inspection.property_id: property_id,
        Inspection.equipment_id: equipment_id,
    }
    rows, count = list_visible(
        session,
        scope,
        Inspection,
        page,
        filters=filters,
        conditions=conditions,
        order_by=[Inspection.next_due_on, Inspection.id],
    )
    return {"data": rows, "count": count}


@router.get("/{inspection_id}", response_model=InspectionPublic)
def read_inspection(session: SessionDep, scope: ScopeDep, inspection_id: IdPath) -> Any:
    return scope.get(session, Inspection, inspection_id)


@router.patch("/{inspection_id}", response_model=InspectionPublic)
def update_inspection(
    session: SessionDep, scope: ScopeDep, inspection_id: IdPath, body: InspectionUpdate
) -> Any:
    """A new last_inspected_on moves next_due_on on by the interval."""
    record = equipment.update_inspection(session, scope, inspection_id, body)
    session.commit()
    return record


@router.delete("/{inspection_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_inspection(
    session: SessionDep, scope: ScopeDep, inspection_id: IdPath
) -> None:
    delete_record(session, scope, Inspection, inspection_id)
    session.commit()
