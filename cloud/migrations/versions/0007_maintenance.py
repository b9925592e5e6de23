"""Work orders, maintenance plans, inspection rounds, complaints, surveys and notices.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric().with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notice_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("apprise_url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_notice_channels_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_channels")),
    )
    op.create_index(
        op.f("ix_notice_channels_property_id"),
        "notice_channels",
        ["property_id"],
        unique=False,
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=True),
        sa.Column("ends_at", UTC_TIME, nullable=True),
        sa.Column("publish_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("building_ids", sa.JSON(), nullable=False),
        sa.Column("whole_property", sa.Boolean(), nullable=False),
        sa.Column("send_apprise", sa.Boolean(), nullable=False),
        sa.Column("published_at", UTC_TIME, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("expires_at > publish_at", name=op.f("ck_notices_expiry")),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_notices_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_notices_id")),
    )
    op.create_index(
        "ix_notices_property_id", "notices", ["property_id", "publish_at"], unique=False
    )
    op.create_table(
        "sla_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("warn_minutes", sa.Integer(), nullable=False),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day_starts", sa.Integer(), nullable=False),
        sa.Column("day_ends", sa.Integer(), nullable=False),
        sa.CheckConstraint("day_ends > day_starts", name=op.f("ck_sla_targets_day")),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_sla_targets_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_targets")),
        sa.UniqueConstraint(
            "property_id",
            "urgency",
            "category",
            name=op.f("uq_sla_targets_property_id"),
        ),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("opens_at", UTC_TIME, nullable=False),
        sa.Column("closes_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_surveys_window")),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_surveys_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_surveys_id")),
    )
    op.create_index(
        op.f("ix_surveys_property_id"), "surveys", ["property_id"], unique=False
    )
    op.create_table(
        "work_order_watchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_work_order_watchers_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_watchers")),
    )
    op.create_index(
        op.f("ix_work_order_watchers_property_id"),
        "work_order_watchers",
        ["property_id"],
        unique=False,
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("requester_user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", UTC_TIME, nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5",
            name=op.f("ck_complaints_rating"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_complaints_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_user_id"],
            ["users.id"],
            name=op.f("fk_complaints_requester_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_complaints_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index(
        "ix_complaints_property_id",
        "complaints",
        ["property_id", "status"],
        unique=False,
    )
    op.create_table(
        "notice_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTC_TIME, nullable=False),
        sa.Column("read_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id", "property_id"],
            ["notices.id", "notices.property_id"],
            name=op.f("fk_notice_receipts_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notice_receipts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_receipts")),
        sa.UniqueConstraint(
            "notice_id", "user_id", name=op.f("uq_notice_receipts_notice_id")
        ),
    )
    op.create_table(
        "notice_units",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id", "property_id"],
            ["notices.id", "notices.property_id"],
            name=op.f("fk_notice_units_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_notice_units_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "unit_id", name=op.f("pk_notice_units")),
    )
    op.create_index(
        "ix_notice_units_unit_id", "notice_units", ["unit_id"], unique=False
    )
    op.create_table(
        "round_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("first_starts_at", UTC_TIME, nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_round_plans_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_round_plans_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_plans")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_round_plans_id")),
    )
    op.create_index(
        "ix_round_plans_property_id", "round_plans", ["property_id"], unique=False
    )
    op.create_table(
        "staff_badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("card_hex", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_staff_badges_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_badges_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_badges")),
        sa.UniqueConstraint(
            "organization_id", "card_hex", name=op.f("uq_staff_badges_organization_id")
        ),
    )
    op.create_index(
        op.f("ix_staff_badges_user_id"), "staff_badges", ["user_id"], unique=False
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id", "property_id"],
            ["surveys.id", "surveys.property_id"],
            name=op.f("fk_survey_responses_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_survey_responses_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint(
            "survey_id", "respondent_key", name=op.f("uq_survey_responses_survey_id")
        ),
    )
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interval_unit", sa.String(length=8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=True),
        sa.Column("anchor", sa.String(length=16), nullable=False),
        sa.Column("first_due_on", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("estimated_hours", EXACT_DECIMAL, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id", "property_id"],
            ["equipment.id", "equipment.property_id"],
            name=op.f("fk_maintenance_plans_equipment_id_equipment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_maintenance_plans_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_plans")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_maintenance_plans_id")),
    )
    op.create_index(
        "ix_maintenance_plans_property_id",
        "maintenance_plans",
        ["property_id"],
        unique=False,
    )
    op.create_table(
        "round_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_plan_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("check_kind", sa.String(length=8), nullable=False),
        sa.Column("qr_token", sa.String(length=64), nullable=False),
        sa.Column("reader_gateway_id", sa.String(length=64), nullable=True),
        sa.Column("reader_device_id", sa.String(length=64), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_round_checkpoints_building_id_buildings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_plan_id", "property_id"],
            ["round_plans.id", "round_plans.property_id"],
            name=op.f("fk_round_checkpoints_round_plan_id_round_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_checkpoints")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_round_checkpoints_id")),
        sa.UniqueConstraint("qr_token", name=op.f("uq_round_checkpoints_qr_token")),
        sa.UniqueConstraint(
            "round_plan_id", "position", name=op.f("uq_round_checkpoints_round_plan_id")
        ),
    )
    op.create_table(
        "round_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_plan_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("window_starts_at", UTC_TIME, nullable=False),
        sa.Column("window_ends_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("skipped_checkpoints", sa.Integer(), nullable=False),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_round_tasks_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_plan_id", "property_id"],
            ["round_plans.id", "round_plans.property_id"],
            name=op.f("fk_round_tasks_round_plan_id_round_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_tasks")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_round_tasks_id")),
        sa.UniqueConstraint(
            "round_plan_id",
            "window_starts_at",
            name=op.f("uq_round_tasks_round_plan_id"),
        ),
    )
    op.create_index(
        "ix_round_tasks_property_id",
        "round_tasks",
        ["property_id", "state"],
        unique=False,
    )
    op.create_table(
        "round_badge_swipes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_task_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["round_checkpoints.id"],
            name=op.f("fk_round_badge_swipes_checkpoint_id_round_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_task_id", "property_id"],
            ["round_tasks.id", "round_tasks.property_id"],
            name=op.f("fk_round_badge_swipes_round_task_id_round_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_round_badge_swipes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_badge_swipes")),
        sa.UniqueConstraint(
            "gateway_id",
            "seq",
            "round_task_id",
            name=op.f("uq_round_badge_swipes_gateway_id"),
        ),
    )
    op.create_index(
        "ix_round_badge_swipes_round_task_id",
        "round_badge_swipes",
        ["round_task_id"],
        unique=False,
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=True),
        sa.Column("requester_user_id", sa.Integer(), nullable=True),
        sa.Column("requester_person_id", sa.Integer(), nullable=True),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("plan_due_on", sa.Date(), nullable=True),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("inspection_due_on", sa.Date(), nullable=True),
        sa.Column("checklist_template", sa.JSON(), nullable=True),
        sa.Column("estimated_hours", EXACT_DECIMAL, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("responded_at", UTC_TIME, nullable=True),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("on_hold_since", UTC_TIME, nullable=True),
        sa.Column("response_due_at", UTC_TIME, nullable=False),
        sa.Column("resolution_due_at", UTC_TIME, nullable=False),
        sa.Column("response_warned_at", UTC_TIME, nullable=True),
        sa.Column("resolution_warned_at", UTC_TIME, nullable=True),
        sa.Column("response_breached_at", UTC_TIME, nullable=True),
        sa.Column("resolution_breached_at", UTC_TIME, nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("chargeable", sa.Boolean(), nullable=False),
        sa.Column("charge_amount", EXACT_DECIMAL, nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", UTC_TIME, nullable=True),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5",
            name=op.f("ck_work_orders_rating"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_work_orders_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["building_id", "property_id"],
            ["buildings.id", "buildings.property_id"],
            name=op.f("fk_work_orders_building_id_buildings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id", "property_id"],
            ["equipment.id", "equipment.property_id"],
            name=op.f("fk_work_orders_equipment_id_equipment"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_work_orders_inspection_id_inspections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"],
            ["leases.id"],
            name=op.f("fk_work_orders_lease_id_leases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id", "property_id"],
            ["maintenance_plans.id", "maintenance_plans.property_id"],
            name=op.f("fk_work_orders_plan_id_maintenance_plans"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_work_orders_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_person_id"],
            ["people.id"],
            name=op.f("fk_work_orders_requester_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_user_id"],
            ["users.id"],
            name=op.f("fk_work_orders_requester_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_work_orders_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_work_orders_id")),
        sa.UniqueConstraint(
            "inspection_id",
            "inspection_due_on",
            name=op.f("uq_work_orders_inspection_id"),
        ),
        sa.UniqueConstraint(
            "plan_id", "plan_due_on", name=op.f("uq_work_orders_plan_id")
        ),
    )
    op.create_index(
        "ix_work_orders_assignee_user_id",
        "work_orders",
        ["assignee_user_id"],
        unique=False,
    )
    op.create_index(
        "ix_work_orders_property_id",
        "work_orders",
        ["property_id", "state"],
        unique=False,
    )
    op.create_index(
        "ix_work_orders_requester_user_id",
        "work_orders",
        ["requester_user_id"],
        unique=False,
    )
    op.create_table(
        "round_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_task_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTC_TIME, nullable=False),
        sa.Column("proof", sa.String(length=8), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reading", EXACT_DECIMAL, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_round_checks_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id", "property_id"],
            ["round_checkpoints.id", "round_checkpoints.property_id"],
            name=op.f("fk_round_checks_checkpoint_id_round_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_task_id", "property_id"],
            ["round_tasks.id", "round_tasks.property_id"],
            name=op.f("fk_round_checks_round_task_id_round_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_round_checks_work_order_id_work_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_checks")),
        sa.UniqueConstraint(
            "round_task_id", "checkpoint_id", name=op.f("uq_round_checks_round_task_id")
        ),
    )
    op.create_table(
        "work_order_checklist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("done_at", UTC_TIME, nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_order_id", "property_id"],
            ["work_orders.id", "work_orders.property_id"],
            name=op.f("fk_work_order_checklist_items_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_checklist_items")),
    )
    op.create_index(
        "ix_work_order_checklist_items_work_order_id",
        "work_order_checklist_items",
        ["work_order_id"],
        unique=False,
    )
    op.create_table(
        "work_order_labour",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("technician_user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=False),
        sa.Column("hourly_rate", EXACT_DECIMAL, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "ended_at > started_at", name=op.f("ck_work_order_labour_positive")
        ),
        sa.ForeignKeyConstraint(
            ["technician_user_id"],
            ["users.id"],
            name=op.f("fk_work_order_labour_technician_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id", "property_id"],
            ["work_orders.id", "work_orders.property_id"],
            name=op.f("fk_work_order_labour_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_labour")),
    )
    op.create_index(
        "ix_work_order_labour_work_order_id",
        "work_order_labour",
        ["work_order_id"],
        unique=False,
    )
    op.create_table(
        "work_order_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", EXACT_DECIMAL, nullable=False),
        sa.Column("unit_cost", EXACT_DECIMAL, nullable=False),
        sa.Column("chargeable", sa.Boolean(), nullable=False),
        sa.Column("added_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id", "property_id"],
            ["work_orders.id", "work_orders.property_id"],
            name=op.f("fk_work_order_parts_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_parts")),
    )
    op.create_index(
        "ix_work_order_parts_work_order_id",
        "work_order_parts",
        ["work_order_id"],
        unique=False,
    )
    op.create_table(
        "work_order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id", "property_id"],
            ["work_orders.id", "work_orders.property_id"],
            name=op.f("fk_work_order_photos_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_photos")),
    )
    op.create_index(
        op.f("ix_work_order_photos_sha256"),
        "work_order_photos",
        ["sha256"],
        unique=False,
    )
    op.create_index(
        "ix_work_order_photos_work_order_id",
        "work_order_photos",
        ["work_order_id"],
        unique=False,
    )
    op.create_table(
        "work_order_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_label", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_work_order_transitions_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id", "property_id"],
            ["work_orders.id", "work_orders.property_id"],
            name=op.f("fk_work_order_transitions_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_transitions")),
    )
    op.create_index(
        "ix_work_order_transitions_work_order_id",
        "work_order_transitions",
        ["work_order_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(
        "ix_work_order_transitions_work_order_id", table_name="work_order_transitions"
    )
    op.drop_table("work_order_transitions")
    op.drop_index("ix_work_order_photos_work_order_id", table_name="work_order_photos")
    op.drop_index(op.f("ix_work_order_photos_sha256"), table_name="work_order_photos")
    op.drop_table("work_order_photos")
    op.drop_index("ix_work_order_parts_work_order_id", table_name="work_order_parts")
    op.drop_table("work_order_parts")
    op.drop_index("ix_work_order_labour_work_order_id", table_name="work_order_labour")
    op.drop_table("work_order_labour")
    op.drop_index(
        "ix_work_order_checklist_items_work_order_id",
        table_name="work_order_checklist_items",
    )
    op.drop_table("work_order_checklist_items")
    op.drop_table("round_checks")
    op.drop_index("ix_work_orders_requester_user_id", table_name="work_orders")
    op.drop_index("ix_work_orders_property_id", table_name="work_orders")
    op.drop_index("ix_work_orders_assignee_user_id", table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_index(
        "ix_round_badge_swipes_round_task_id", table_name="round_badge_swipes"
    )
    op.drop_table("round_badge_swipes")
    op.drop_index("ix_round_tasks_property_id", table_name="round_tasks")
    op.drop_table("round_tasks")
    op.drop_table("round_checkpoints")
    op.drop_index("ix_maintenance_plans_property_id", table_name="maintenance_plans")
    op.drop_table("maintenance_plans")
    op.drop_table("survey_responses")
    op.drop_index(op.f("ix_staff_badges_user_id"), table_name="staff_badges")
    op.drop_table("staff_badges")
    op.drop_index("ix_round_plans_property_id", table_name="round_plans")
    op.drop_table("round_plans")
    op.drop_index("ix_notice_units_unit_id", table_name="notice_units")
    op.drop_table("notice_units")
    op.drop_table("notice_receipts")
    op.drop_index("ix_complaints_property_id", table_name="complaints")
    op.drop_table("complaints")
    op.drop_index(
        op.f("ix_work_order_watchers_property_id"), table_name="work_order_watchers"
    )
    op.drop_table("work_order_watchers")
    op.drop_index(op.f("ix_surveys_property_id"), table_name="surveys")
    op.drop_table("surveys")
    op.drop_table("sla_targets")
    op.drop_index("ix_notices_property_id", table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_notice_channels_property_id"), table_name="notice_channels")
    op.drop_table("notice_channels")
