"""``POST /imports/{kind}``: a CSV file of units, people, leases or equipment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse

from cloud.api.deps import ScopeDep, SessionDep, StateDep, read_upload
from cloud.schemas.imports import ImportRefused, ImportReportPublic
from cloud.services import imports

router = APIRouter(prefix="/imports", tags=["imports"])


@router.post(
    "/{kind}",
    response_model=ImportReportPublic,
    responses={422: {"model": ImportRefused}},
)
def import_csv(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    kind: imports.ImportKind,
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header row.")],
    dry_run: Annotated[
        bool, Query(description="Check every row, then roll back.")
    ] = False,
) -> Any:
    """Every row or none. Rows refer to existing records by natural keys:
    property_code, building_code, unit number(s), a person's external_ref. Errors
    come back per line and column (422), and nothing is kept."""
    content = read_upload(file, state.settings.max_upload_bytes)
    report = imports.run_import(
        session, scope, state.identity_cipher, kind, content, dry_run=dry_run
    )
    public = ImportReportPublic.model_validate(report)
    if report.ok:
        return public
    refused = ImportRefused(
        detail=f"{len(report.errors)} errors; nothing was imported.", report=public
    )
    return JSONResponse(refused.model_dump(mode="json"), status_code=422)
