"""The transactional outbox of messages to deliver (push, webhooks, SMS, e-mail).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(256), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("payload", JSON_DATA, nullable=False),
        sa.Column("dedup_key", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.String(512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("dedup_key", name="uq_outbox_messages_dedup_key"),
    )
    op.create_index("ix_outbox_due", "outbox_messages", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_topic", "outbox_messages", ["topic"])


def downgrade() -> None:
    op.drop_index("ix_outbox_topic", table_name="outbox_messages")
    op.drop_index("ix_outbox_due", table_name="outbox_messages")
    op.drop_table("outbox_messages")
