"""Commands queued for a gateway (unlock a door, write a point, new configuration).

A command is delivered with every sync answer to its gateway until the gateway
reports its outcome (the gateway runs each id at most once), or until it expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utc_now


class GatewayCommand(Base):
    __tablename__ = "gateway_commands"
    __table_args__ = (
        sa.Index("ix_gateway_commands_open", "gateway_id", "status"),
        sa.Index("ix_gateway_commands_property_id", "property_id"),
    )
    # args may carry a new gateway token (sealed) or a whole site configuration
    __audit_redact__ = frozenset({"args"})
    __audit_omit__ = frozenset({"delivered_at", "deliveries"})

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.Integer(), index=True)
    property_id: Mapped[int | None] = mapped_column()
    gateway_id: Mapped[str] = mapped_column(
        sa.ForeignKey("gateways.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(64))
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    args: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    detail: Mapped[str | None] = mapped_column(sa.String(1000))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deliveries: Mapped[int] = mapped_column(default=0, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
