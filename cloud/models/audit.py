"""The audit log: one row per inserted, changed or deleted record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime


class AuditEntry(Base):
    """Who changed what, when. Written by ``cloud.services.audit`` for every flush.

    No foreign keys: the history of a record outlives the record and its author.
    ``changes`` maps each column to ``[old, new]`` (``old`` is null for an insert,
    ``new`` for a delete); secret columns read ``"[redacted]"``.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_organization_id", "organization_id", "id"),
        sa.Index("ix_audit_entries_entity", "entity", "entity_id"),
    )
    __audited__ = False

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    organization_id: Mapped[int | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(sa.String(200))
    actor_user_id: Mapped[int | None] = mapped_column()
    action: Mapped[str] = mapped_column(sa.String(8))
    entity: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str] = mapped_column(sa.String(128))
    property_id: Mapped[int | None] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
