"""Photos of work orders, kept in the attachment store (by content hash).

The requester and the property's staff add them; whoever sees the order sees them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud.models import WorkOrder, WorkOrderPhoto
from cloud.services.access import Permission, Scope
from cloud.services.attachments import (
    AttachmentStore,
    Upload,
    checked_type,
    safe_filename,
)
from cloud.services.errors import PermissionDeniedError


def attach(
    session: Session,
    scope: Scope,
    store: AttachmentStore,
    work_order_id: int,
    upload: Upload,
) -> WorkOrderPhoto:
    record = scope.get(session, WorkOrder, work_order_id)
    is_requester = (
        scope.actor.user_id is not None
        and record.requester_user_id == scope.actor.user_id
    )
    if not (
        is_requester or scope.can(Permission.WORK_ORDERS_WRITE, record.property_id)
    ):
        raise PermissionDeniedError(
            f"Only the requester and staff add photos to work order {record.id}."
        )
    content_type = checked_type(upload)
    sha256 = store.save(upload.data)
    photo = WorkOrderPhoto(
        work_order_id=record.id,
        property_id=record.property_id,
        filename=safe_filename(upload.filename),
        content_type=content_type,
        size_bytes=len(upload.data),
        sha256=sha256,
        uploaded_by=scope.actor.label[:200],
    )
    session.add(photo)
    session.flush()
    return photo
