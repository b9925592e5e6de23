"""The transactional outbox: messages to deliver, written with what caused them.

A service that raises an alarm, publishes a notice or sends a payment reminder adds
one row per recipient and channel in the same transaction as the change itself, so a
message exists if and only if its cause was committed. Workers deliver the rows; each
row is the delivery record (sent, or failed and why), and its ``dedup_key`` makes a
second enqueue of the same message a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utc_now


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.UniqueConstraint("dedup_key", name="uq_outbox_messages_dedup_key"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_topic", "topic"),
    )

    __audited__ = False  # the row is itself the delivery record; targets hold secrets

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(sa.Integer())
    channel: Mapped[str] = mapped_column(sa.String(16))  # webhook, webpush, apprise
    recipient: Mapped[str] = mapped_column(sa.String(256))  # who, for the record
    target: Mapped[str] = mapped_column(sa.Text())  # where: URL, subscription JSON
    topic: Mapped[str] = mapped_column(sa.String(128))  # e.g. "alarm:42"
    payload: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    dedup_key: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer(), default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer(), default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(512))
