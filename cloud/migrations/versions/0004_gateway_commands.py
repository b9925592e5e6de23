"""Commands queued for gateways, and what gateways report of their health.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "gateway_commands",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("args", JSON_DATA, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=True),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("deliveries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_gateway_commands_gateway_id_gateways"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_commands")),
    )
    op.create_index(
        "ix_gateway_commands_open", "gateway_commands", ["gateway_id", "status"]
    )
    op.create_index(
        "ix_gateway_commands_property_id", "gateway_commands", ["property_id"]
    )
    op.create_index(
        op.f("ix_gateway_commands_organization_id"),
        "gateway_commands",
        ["organization_id"],
    )
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("reported_health", JSON_DATA, nullable=True))
        batch.add_column(sa.Column("health_reported_at", UTC_TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("health_reported_at")
        batch.drop_column("reported_health")
    op.drop_index(
        op.f("ix_gateway_commands_organization_id"), table_name="gateway_commands"
    )
    op.drop_index("ix_gateway_commands_property_id", table_name="gateway_commands")
    op.drop_index("ix_gateway_commands_open", table_name="gateway_commands")
    op.drop_table("gateway_commands")
