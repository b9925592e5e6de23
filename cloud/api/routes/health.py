from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cloud.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> Any:
    """Open to all: says whether the service and its database answer."""
    try:
        session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"}, status_code=503
        )
    return {"status": "ok", "database": "ok"}
