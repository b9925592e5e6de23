from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, PageDep, ScopeDep, SessionDep
from cloud.models import Property, PropertyKind
from cloud.schemas.common import Listing
from cloud.schemas.properties import PropertyCreate, PropertyPublic, PropertyUpdate
from cloud.services import properties
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/properties", tags=["properties"])


@router.get("", response_model=Listing[PropertyPublic])
def list_properties(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    kind: PropertyKind | None = None,
) -> Any:
    rows, count = list_visible(
        session, scope, Property, page, filters={Property.kind: kind}
    )
    return {"data": rows, "count": count}


@router.post("", response_model=PropertyPublic, status_code=status.HTTP_201_CREATED)
def create_property(session: SessionDep, scope: ScopeDep, body: PropertyCreate) -> Any:
    """Organization administrators only: nobody else holds a role on it yet."""
    record = properties.create_property(session, scope, body)
    session.commit()
    return record


@router.get("/{property_id}", response_model=PropertyPublic)
def read_property(session: SessionDep, scope: ScopeDep, property_id: IdPath) -> Any:
    return scope.get(session, Property, property_id)


@router.patch("/{property_id}", response_model=PropertyPublic)
def update_property(
    session: SessionDep, scope: ScopeDep, property_id: IdPath, body: PropertyUpdate
) -> Any:
    record = properties.update_property(session, scope, property_id, body)
    session.commit()
    return record


@router.delete("/{property_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_property(session: SessionDep, scope: ScopeDep, property_id: IdPath) -> None:
    """Only an empty property: 409 while it has buildings, people or leases."""
    delete_record(session, scope, Property, property_id)
    session.commit()
