from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cloud.api.deps import ScopeDep, SessionDep
from cloud.schemas.common import Instant, Label
from cloud.schemas.telemetry import ReadingsPublic
from cloud.services import telemetry
from sync.schema import DeviceId

router = APIRouter(prefix="/readings", tags=["readings"])

MAX_PAGE = 10_000


@router.get("", response_model=ReadingsPublic)
def read_range(
    session: SessionDep,
    scope: ScopeDep,
    gateway_id: DeviceId,
    device_id: DeviceId,
    point: Label,
    start: Annotated[Instant | None, Query(description="Inclusive.")] = None,
    end: Annotated[Instant | None, Query(description="Exclusive.")] = None,
    skip: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    include_quarantined: Annotated[
        bool,
        Query(description="Also readings still undated (gateway clock unknown)."),
    ] = False,
) -> Any:
    """One point of one device over [start, end), oldest first, one page at a time."""
    query = telemetry.ReadingQuery(
        gateway_id=gateway_id,
        device_id=device_id,
        point=point,
        start=start,
        end=end,
        skip=skip,
        limit=limit,
        include_quarantined=include_quarantined,
    )
    rows, count = telemetry.readings_in_range(session, scope, query)
    return {"data": rows, "count": count}
