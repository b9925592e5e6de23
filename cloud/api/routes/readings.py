from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from cloud.api.deps import CurrentUser, SessionDep
from cloud.schemas.telemetry import ReadingsPublic
from cloud.services import telemetry

router = APIRouter(prefix="/readings", tags=["readings"])

MAX_PAGE = 10_000


@router.get("", response_model=ReadingsPublic)
def read_range(
    session: SessionDep,
    user: CurrentUser,
    gateway_id: str,
    device_id: str,
    point: str,
    start: Annotated[AwareDatetime | None, Query(description="Inclusive.")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Exclusive.")] = None,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
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
    )
    rows, count = telemetry.readings_in_range(session, user.organization_id, query)
    return {"data": rows, "count": count}
