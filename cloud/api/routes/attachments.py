"""Attachment routes under a parent resource (equipment, leases): whoever may see
the parent sees its documents, whoever may change it attaches and deletes them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile, status
from fastapi.responses import FileResponse

from cloud.api.deps import IdPath, ScopeDep, SessionDep, StateDep, read_upload
from cloud.schemas.equipment import AttachmentPublic
from cloud.services import attachments
from cloud.services.attachments import Parent, Upload
from cloud.services.errors import NotFoundError


def add_attachment_routes(router: APIRouter, parent: Parent, noun: str) -> None:
    """``/{id}/attachments`` (list, upload), ``/{id}/attachments/{aid}/content``
    (download) and ``/{id}/attachments/{aid}`` (delete) on ``router``."""

    @router.get("/{parent_id}/attachments", response_model=list[AttachmentPublic])
    def list_attachments(
        session: SessionDep, scope: ScopeDep, parent_id: IdPath
    ) -> Any:
        return attachments.list_attachments(session, scope, parent, parent_id)

    @router.post(
        "/{parent_id}/attachments",
        response_model=AttachmentPublic,
        status_code=status.HTTP_201_CREATED,
        description=f"Attach a PDF, PNG or JPEG to the {noun}; the type is judged "
        "from the content, and a declared type that disagrees is a 415.",
    )
    def upload_attachment(
        session: SessionDep,
        scope: ScopeDep,
        state: StateDep,
        parent_id: IdPath,
        file: Annotated[UploadFile, File()],
    ) -> Any:
        store = state.attachments
        data = read_upload(file, store.max_bytes)
        upload = Upload(file.filename or "", file.content_type, data)
        record = attachments.attach(session, scope, store, parent, parent_id, upload)
        session.commit()
        return record

    @router.get(
        "/{parent_id}/attachments/{attachment_id}/content",
        response_class=FileResponse,
        responses={200: {"content": {kind: {} for kind in attachments.SIGNATURES}}},
    )
    def download_attachment(
        session: SessionDep,
        scope: ScopeDep,
        state: StateDep,
        parent_id: IdPath,
        attachment_id: IdPath,
    ) -> Any:
        record = attachments.get_attachment(
            session, scope, parent, parent_id, attachment_id
        )
        path = state.attachments.path(record.sha256)
        if not path.exists():
            raise NotFoundError(
                f"The file of attachment {record.id} is missing from the store."
            )
        return FileResponse(
            path, media_type=record.content_type, filename=record.filename
        )

    @router.delete(
        "/{parent_id}/attachments/{attachment_id}",
        status_code=status.HTTP_204_NO_CONTENT,
    )
    def delete_attachment(
        session: SessionDep,
        scope: ScopeDep,
        state: StateDep,
        parent_id: IdPath,
        attachment_id: IdPath,
    ) -> None:
        sha256 = attachments.delete_attachment(
            session, scope, parent, parent_id, attachment_id
        )
        session.commit()
        state.attachments.discard_unused(session, sha256)
