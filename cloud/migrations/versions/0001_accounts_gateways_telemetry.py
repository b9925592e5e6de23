"""Organizations, users, refresh tokens, gateways, and what gateways send.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Plain column types, so this file keeps working when the model classes change.
UTC_TIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric().with_variant(sa.Text(), "sqlite")
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    _create_accounts()
    _create_gateways()
    _create_telemetry()


def _create_accounts() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_users_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_organization_id"), "users", ["organization_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"])


def _create_gateways() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.Column("last_seen_at", UTC_TIME, nullable=True),
        sa.Column("rejected_batches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_rejection", sa.String(1000), nullable=True),
        sa.Column("last_rejected_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_gateways_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gateways_token_hash")),
    )
    op.create_index(
        op.f("ix_gateways_organization_id"), "gateways", ["organization_id"]
    )


def _gateway_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["gateway_id"],
        ["gateways.id"],
        name=op.f(f"fk_{table}_gateway_id_gateways"),
        ondelete="CASCADE",
    )


def _record_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("ts", UTC_TIME, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("mono_ns", sa.BigInteger(), nullable=False),
        sa.Column("clock_trusted", sa.Boolean(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
    ]


def _create_telemetry() -> None:
    # No foreign key from readings, events and gaps to gateways: see
    # cloud/models/telemetry.py for why.
    op.create_table(
        "readings",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("point", sa.String(64), nullable=False),
        sa.Column("value", EXACT_DECIMAL, nullable=True),
        sa.Column("text", sa.String(256), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("quality", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(512), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_readings")),
    )
    op.create_index(
        "ix_readings_series", "readings", ["gateway_id", "device_id", "point", "ts"]
    )
    op.create_table(
        "events",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("data", JSON_DATA, nullable=False),
        *_record_columns(),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_events")),
    )
    op.create_index("ix_events_device", "events", ["gateway_id", "device_id", "ts"])
    op.create_table(
        "gaps",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", "first_seq", name=op.f("pk_gaps")),
    )
    op.create_table(
        "devices",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("last_ts", UTC_TIME, nullable=False),
        _gateway_fk("devices"),
        sa.PrimaryKeyConstraint("gateway_id", "device_id", name=op.f("pk_devices")),
    )
    op.create_table(
        "device_points",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("point", sa.String(64), nullable=False),
        sa.Column("last_ts", UTC_TIME, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id", "device_id"],
            ["devices.gateway_id", "devices.device_id"],
            name=op.f("fk_device_points_gateway_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "gateway_id", "device_id", "point", name=op.f("pk_device_points")
        ),
    )


def downgrade() -> None:
    for table in ("device_points", "devices", "gaps", "events", "readings"):
        op.drop_table(table)
    op.drop_table("gateways")
    for table in ("refresh_tokens", "users", "organizations"):
        op.drop_table(table)
