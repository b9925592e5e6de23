from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep
from cloud.api.routes.attachments import add_attachment_routes
from cloud.models import Lease, LeaseStatus, LeaseUnit
from cloud.schemas.common import Listing
from cloud.schemas.leases import LeaseCreate, LeasePublic, LeaseUpdate
from cloud.services import leases
from cloud.services.records import list_visible

router = APIRouter(prefix="/leases", tags=["leases"])


@router.get("", response_model=Listing[LeasePublic])
def list_leases(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    unit_id: IdQuery = None,
    tenant_id: IdQuery = None,
    status: LeaseStatus | None = None,
) -> Any:
    """Owners see the leases of their units, tenants their own leases."""
    conditions = []
    if unit_id is not None:
        units = sa.select(LeaseUnit.lease_id).where(LeaseUnit.unit_id == unit_id)
        conditions.append(Lease.id.in_(units))
    filters = {
        Lease.property_id: property_id,
        Lease.tenant_id: tenant_id,
        Lease.status: status,
    }
    rows, count = list_visible(
        session, scope, Lease, page, filters=filters, conditions=conditions
    )
    return {"data": rows, "count": count}


@router.post("", response_model=LeasePublic, status_code=status.HTTP_201_CREATED)
def create_lease(session: SessionDep, scope: ScopeDep, body: LeaseCreate) -> Any:
    """409 when an active lease would overlap another active lease of a unit."""
    record = leases.create_lease(session, scope, body)
    session.commit()
    return record


@router.get("/{lease_id}", response_model=LeasePublic)
def read_lease(session: SessionDep, scope: ScopeDep, lease_id: IdPath) -> Any:
    return scope.get(session, Lease, lease_id)


@router.patch("/{lease_id}", response_model=LeasePublic)
def update_lease(
    session: SessionDep, scope: ScopeDep, lease_id: IdPath, body: LeaseUpdate
) -> Any:
    """Status moves draft → active → ended or terminated (draft → terminated)."""
    record = leases.update_lease(session, scope, lease_id, body)
    session.commit()
    return record


@router.delete("/{lease_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_lease(session: SessionDep, scope: ScopeDep, lease_id: IdPath) -> None:
    """Only drafts; a lease that was in force is ended or terminated instead."""
    leases.delete_draft(session, scope, lease_id)
    session.commit()


add_attachment_routes(router, Lease, "lease")
