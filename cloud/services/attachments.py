"""Documents attached to equipment and leases, stored by content.

The bytes go to ``<data_dir>/attachments/<first two hex>/<sha256>``; the same file
attached twice is stored once. What a file is, is read from its first bytes (PDF,
PNG, JPEG), never taken from the name or the declared type; a declared type that
disagrees with the bytes is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Attachment, Equipment, Lease, WorkOrderPhoto
from cloud.services.access import Scope
from cloud.services.errors import (
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedContentError,
)

logger = logging.getLogger(__name__)

# Content types PAMS keeps, by the bytes a file of the type starts with.
SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
UNDECLARED = frozenset({"", "application/octet-stream"})

Parent = type[Equipment] | type[Lease]
_PARENT_COLUMN = {Equipment: Attachment.equipment_id, Lease: Attachment.lease_id}


@dataclass(frozen=True)
class Upload:
    filename: str
    declared_type: str | None
    data: bytes


def sniff(data: bytes) -> str | None:
    return next(
        (kind for kind, magic in SIGNATURES.items() if data.startswith(magic)), None
    )


def checked_type(upload: Upload) -> str:
    actual = sniff(upload.data)
    if actual is None:
        raise UnsupportedContentError(
            f"{upload.filename!r} is not a PDF, PNG or JPEG file (judged by its "
            "content); only those can be attached.",
            field="file",
        )
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    if declared not in UNDECLARED and declared != actual:
        raise UnsupportedContentError(
            f"{upload.filename!r} was sent as {declared}, but its content is {actual}.",
            field="file",
        )
    return actual


def safe_filename(name: str | None) -> str:
    """The last part of a path a browser sent, without control characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    cleaned = "".join(char for char in base if ord(char) >= 32).strip()
    return cleaned[-255:] or "attachment"


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def save(self, data: bytes) -> str:
        if len(data) > self.max_bytes:
            raise PayloadTooLargeError(
                f"The file has more than {self.max_bytes} bytes, the limit.",
                field="file",
            )
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def discard_unused(self, session: Session, sha256: str) -> None:
        """Remove the file once no attachment refers to it (after a commit)."""
        used = session.scalar(
            sa.select(sa.func.count()).where(Attachment.sha256 == sha256)
        )
        used_by_photos = session.scalar(
            sa.select(sa.func.count()).where(WorkOrderPhoto.sha256 == sha256)
        )
        if not used and not used_by_photos:
            self.path(sha256).unlink(missing_ok=True)


def attach(
    session: Session,
    scope: Scope,
    store: AttachmentStore,
    parent_model: Parent,
    parent_id: int,
    upload: Upload,
) -> Attachment:
    parent = scope.get_for_write(session, parent_model, parent_id)
    content_type = checked_type(upload)
    sha256 = store.save(upload.data)
    record = Attachment(
        property_id=parent.property_id,
        filename=safe_filename(upload.filename),
        content_type=content_type,
        size_bytes=len(upload.data),
        sha256=sha256,
        uploaded_by=scope.actor.label[:200],
    )
    setattr(record, _PARENT_COLUMN[parent_model].key, parent.id)
    session.add(record)
    session.flush()
    return record


def list_attachments(
    session: Session, scope: Scope, parent_model: Parent, parent_id: int
) -> list[Attachment]:
    parent = scope.get(session, parent_model, parent_id)
    return list(
        session.scalars(
            sa.select(Attachment)
            .where(_PARENT_COLUMN[parent_model] == parent.id)
            .order_by(Attachment.id)
        )
    )


def get_attachment(
    session: Session,
    scope: Scope,
    parent_model: Parent,
    parent_id: int,
    attachment_id: int,
    *,
    for_write: bool = False,
) -> Attachment:
    """An attachment is seen, and changed, by whoever may its parent."""
    if for_write:
        parent = scope.get_for_write(session, parent_model, parent_id)
    else:
        parent = scope.get(session, parent_model, parent_id)
    record = session.scalar(
        sa.select(Attachment).where(
            Attachment.id == attachment_id, _PARENT_COLUMN[parent_model] == parent.id
        )
    )
    if record is None:
        raise NotFoundError(f"Attachment {attachment_id} not found.")
    return record


def delete_attachment(
    session: Session,
    scope: Scope,
    parent_model: Parent,
    parent_id: int,
    attachment_id: int,
) -> str:
    """Delete the record (flushed); returns the file's hash for ``discard_unused``
    after the commit."""
    record = get_attachment(
        session, scope, parent_model, parent_id, attachment_id, for_write=True
    )
    session.delete(record)
    session.flush()
    return record.sha256
