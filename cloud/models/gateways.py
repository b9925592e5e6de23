"""Building gateways and the token each one authenticates with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, same_property_fk, utc_now


class Gateway(Base):
    """One per building or more; ``building_id`` (and the copied ``property_id``)
    is empty for a gateway registered before it was placed, which only
    organization administrators see."""

    __tablename__ = "gateways"
    __table_args__ = (
        same_property_fk(("building_id", "property_id"), "buildings"),
        sa.Index("ix_gateways_property_id", "property_id"),
    )
    __audit_redact__ = frozenset({"token_hash", "pending_token_hash"})
    # Kept current by ingest; logging them would write an audit row per batch.
    __audit_omit__ = frozenset(
        {
            "last_seen_at",
            "rejected_batches",
            "last_rejection",
            "last_rejected_at",
            "reported_health",
            "health_reported_at",
        }
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    building_id: Mapped[int | None] = mapped_column()
    property_id: Mapped[int | None] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    # SHA-256 of the token, not argon2: the token is 32 random bytes, so it cannot be
    # guessed from its hash the way a password can, and every ingest request looks it
    # up, which a slow hash would make cost tens of milliseconds each.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(sa.String(16))
    # A rotated token on its way to the gateway (in a rotate_token command); either
    # token works until the gateway first uses the new one, which then replaces it.
    pending_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rejected_batches: Mapped[int] = mapped_column(default=0, server_default="0")
    last_rejection: Mapped[str | None] = mapped_column(sa.String(1000))
    last_rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    # What the gateway last said of itself (sync.schema.HealthReport).
    reported_health: Mapped[dict[str, Any] | None] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    health_reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
