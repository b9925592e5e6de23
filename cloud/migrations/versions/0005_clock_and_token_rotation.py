"""Re-dating records taken before a gateway's clock was trusted; token rotation
delivered to the gateway.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gateway_boots",
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("offset_us", sa.BigInteger(), nullable=True),
        sa.Column("quarantined", sa.Integer(), server_default="0", nullable=False),
        sa.Column("corrected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", "boot_id", name=op.f("pk_gateway_boots")),
    )
    for table in ("readings", "events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reported_ts", UTC_TIME, nullable=True))
        op.create_index(
            f"ix_{table}_untrusted_clock",
            table,
            ["gateway_id", "boot_id"],
            postgresql_where=sa.text("NOT clock_trusted AND reported_ts IS NULL"),
            sqlite_where=sa.text("NOT clock_trusted AND reported_ts IS NULL"),
        )
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("pending_token_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("pending_token_hash")
    for table in ("events", "readings"):
        op.drop_index(f"ix_{table}_untrusted_clock", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reported_ts")
    op.drop_table("gateway_boots")
