from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import Unit, UnitStatus, UnitUse
from cloud.schemas.common import Listing
from cloud.schemas.properties import (
    OwnershipShareCreate,
    OwnershipSharePublic,
    UnitCreate,
    UnitPublic,
    UnitStatusChangePublic,
    UnitUpdate,
)
from cloud.services import properties
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/units", tags=["units"])


@router.get("", response_model=Listing[UnitPublic])
def list_units(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    building_id: IdQuery = None,
    status: UnitStatus | None = None,
    use: UnitUse | None = None,
) -> Any:
    """Owners and tenants see their own units only."""
    filters = {
        Unit.property_id: property_id,
        Unit.building_id: building_id,
        Unit.status: status,
        Unit.use: use,
    }
    rows, count = list_visible(session, scope, Unit, page, filters=filters)
    return {"data": rows, "count": count}


@router.post("", response_model=UnitPublic, status_code=status.HTTP_201_CREATED)
def create_unit(session: SessionDep, scope: ScopeDep, body: UnitCreate) -> Any:
    record = properties.create_unit(session, scope, body)
    session.commit()
    return record


@router.get("/{unit_id}", response_model=UnitPublic)
def read_unit(session: SessionDep, scope: ScopeDep, unit_id: IdPath) -> Any:
    return scope.get(session, Unit, unit_id)


@router.patch("/{unit_id}", response_model=UnitPublic)
def update_unit(
    session: SessionDep, scope: ScopeDep, unit_id: IdPath, body: UnitUpdate
) -> Any:
    """A new status is added to the unit's status history."""
    record = properties.update_unit(session, scope, unit_id, body)
    session.commit()
    return record


@router.delete("/{unit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_unit(session: SessionDep, scope: ScopeDep, unit_id: IdPath) -> None:
    """Only a unit nothing refers to: 409 while it has leases, shares or meters."""
    delete_record(session, scope, Unit, unit_id)
    session.commit()


@router.get("/{unit_id}/status-history", response_model=list[UnitStatusChangePublic])
def status_history(session: SessionDep, scope: ScopeDep, unit_id: IdPath) -> Any:
    """Every status the unit has had, oldest first."""
    return properties.status_history(session, scope, unit_id)


@router.get("/{unit_id}/ownership-shares", response_model=list[OwnershipSharePublic])
def list_ownership_shares(session: SessionDep, scope: ScopeDep, unit_id: IdPath) -> Any:
    return properties.list_ownership_shares(session, scope, unit_id)


@router.post(
    "/{unit_id}/ownership-shares",
    response_model=OwnershipSharePublic,
    status_code=status.HTTP_201_CREATED,
)
def add_ownership_share(
    session: SessionDep, scope: ScopeDep, unit_id: IdPath, body: OwnershipShareCreate
) -> Any:
    """Current shares of a unit add up to 1 at most (409 beyond)."""
    record = properties.add_ownership_share(session, scope, unit_id, body)
    session.commit()
    return record


@router.delete(
    "/{unit_id}/ownership-shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT
)
def remove_ownership_share(
    session: SessionDep, scope: ScopeDep, unit_id: IdPath, share_id: IdPath
) -> None:
    properties.remove_ownership_share(session, scope, unit_id, share_id)
    session.commit()
