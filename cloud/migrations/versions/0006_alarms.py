"""Alarms, silences, on-call rotas and escalations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alarm_rule_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", JSON_DATA, nullable=False),
        sa.Column("trades", JSON_DATA, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_alarm_rule_sets_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rule_sets")),
        sa.UniqueConstraint(
            "property_id", "version", name=op.f("uq_alarm_rule_sets_property_id")
        ),
    )
    op.create_table(
        "alarm_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("alarm_type", sa.String(length=64), nullable=True),
        sa.Column("starts_at", UTC_TIME, nullable=False),
        sa.Column("ends_at", UTC_TIME, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_alarm_silences_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_silences")),
    )
    op.create_index(
        "ix_alarm_silences_window",
        "alarm_silences",
        ["property_id", "ends_at"],
        unique=False,
    )
    op.create_table(
        "escalation_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("trade", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("steps", JSON_DATA, nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("repeat_interval_s", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_escalation_policies_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_policies")),
    )
    op.create_index(
        "ix_escalation_policies_trade",
        "escalation_policies",
        ["property_id", "trade"],
        unique=False,
    )
    op.create_table(
        "on_call_rotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("trade", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("members", JSON_DATA, nullable=False),
        sa.Column("shift_hours", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_on_call_rotas_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_rotas")),
    )
    op.create_index(
        "ix_on_call_rotas_trade",
        "on_call_rotas",
        ["property_id", "trade"],
        unique=False,
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("point", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("raised_at", UTC_TIME, nullable=False),
        sa.Column("last_raised_at", UTC_TIME, nullable=False),
        sa.Column("acknowledged_at", UTC_TIME, nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("cleared_at", UTC_TIME, nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("source_state", sa.String(length=16), nullable=False),
        sa.Column("source_changed_at", UTC_TIME, nullable=False),
        sa.Column("trade", sa.String(length=16), nullable=False),
        sa.Column("work_order_trade", sa.String(length=16), nullable=True),
        sa.Column("work_order_urgency", sa.String(length=16), nullable=True),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("paged", sa.Boolean(), nullable=False),
        sa.Column("silence_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_alarms_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_alarms_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["silence_id"],
            ["alarm_silences.id"],
            name=op.f("fk_alarms_silence_id_alarm_silences"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(
        "ix_alarms_group", "alarms", ["group_key", "raised_at"], unique=False
    )
    op.create_index(
        op.f("ix_alarms_organization_id"), "alarms", ["organization_id"], unique=False
    )
    op.create_index(
        "ix_alarms_property_state", "alarms", ["property_id", "state"], unique=False
    )
    op.create_index("ix_alarms_updated", "alarms", ["updated_at"], unique=False)
    op.create_index(
        "uq_alarms_open_source_type",
        "alarms",
        ["gateway_id", "device_id", "type"],
        unique=True,
        postgresql_where=sa.text("state IN ('active', 'acknowledged')"),
        sqlite_where=sa.text("state IN ('active', 'acknowledged')"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
    )
    op.create_index(
        op.f("ix_push_subscriptions_user_id"),
        "push_subscriptions",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "alarm_actions",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("trigger_type", sa.String(length=64), nullable=False),
        sa.Column("trigger_device", sa.String(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ts", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_actions_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_alarm_actions_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_alarm_actions")),
    )
    op.create_index(
        op.f("ix_alarm_actions_alarm_id"), "alarm_actions", ["alarm_id"], unique=False
    )
    op.create_table(
        "alarm_changes",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ts", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_changes_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_alarm_changes")),
    )
    op.create_index(
        op.f("ix_alarm_changes_alarm_id"), "alarm_changes", ["alarm_id"], unique=False
    )
    op.create_table(
        "alarm_escalations",
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("steps", JSON_DATA, nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("repeat_interval_s", sa.Integer(), nullable=False),
        sa.Column("paged_at", UTC_TIME, nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("next_at", UTC_TIME, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("notified", JSON_DATA, nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_escalations_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["escalation_policies.id"],
            name=op.f("fk_alarm_escalations_policy_id_escalation_policies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("alarm_id", name=op.f("pk_alarm_escalations")),
    )
    op.create_index(
        "ix_alarm_escalations_due",
        "alarm_escalations",
        ["state", "next_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_alarm_escalations_due", table_name="alarm_escalations")
    op.drop_table("alarm_escalations")
    op.drop_index(op.f("ix_alarm_changes_alarm_id"), table_name="alarm_changes")
    op.drop_table("alarm_changes")
    op.drop_index(op.f("ix_alarm_actions_alarm_id"), table_name="alarm_actions")
    op.drop_table("alarm_actions")
    op.drop_index(
        op.f("ix_push_subscriptions_user_id"), table_name="push_subscriptions"
    )
    op.drop_table("push_subscriptions")
    op.drop_index(
        "uq_alarms_open_source_type",
        table_name="alarms",
        postgresql_where=sa.text("state IN ('active', 'acknowledged')"),
        sqlite_where=sa.text("state IN ('active', 'acknowledged')"),
    )
    op.drop_index("ix_alarms_updated", table_name="alarms")
    op.drop_index("ix_alarms_property_state", table_name="alarms")
    op.drop_index(op.f("ix_alarms_organization_id"), table_name="alarms")
    op.drop_index("ix_alarms_group", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_on_call_rotas_trade", table_name="on_call_rotas")
    op.drop_table("on_call_rotas")
    op.drop_index("ix_escalation_policies_trade", table_name="escalation_policies")
    op.drop_table("escalation_policies")
    op.drop_index("ix_alarm_silences_window", table_name="alarm_silences")
    op.drop_table("alarm_silences")
    op.drop_table("alarm_rule_sets")
