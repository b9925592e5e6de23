from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cloud.api.deps import IdQuery, PageDep, ScopeDep, SessionDep
from cloud.models import AuditEntry
from cloud.schemas.audit import AuditEntryPublic
from cloud.schemas.common import Instant, Label, Listing
from cloud.services.records import list_visible

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Listing[AuditEntryPublic])
def list_audit(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    entity: Annotated[
        Label | None, Query(description="A table, such as leases.")
    ] = None,
    entity_id: Annotated[Label | None, Query()] = None,
    actor_user_id: IdQuery = None,
    property_id: IdQuery = None,
    since: Annotated[Instant | None, Query(description="Inclusive.")] = None,
) -> Any:
    """Every write in the organization, newest first (org_admin)."""
    filters = {
        AuditEntry.entity: entity,
        AuditEntry.entity_id: entity_id,
        AuditEntry.actor_user_id: actor_user_id,
        AuditEntry.property_id: property_id,
    }
    conditions = [AuditEntry.at >= since] if since is not None else []
    rows, count = list_visible(
        session,
        scope,
        AuditEntry,
        page,
        filters=filters,
        conditions=conditions,
        order_by=[AuditEntry.id.desc()],
    )
    return {"data": rows, "count": count}
