"""Billing: meter readings for billing, tariffs, invoices, payments and dunning.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric().with_variant(sa.Text(), "sqlite")
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "billing_settings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("rounding_mode", sa.String(length=16), nullable=False),
        sa.Column("rounding_scope", sa.String(length=16), nullable=False),
        sa.Column("rounding_quantum", EXACT_DECIMAL, nullable=False),
        sa.Column("allocation_order", sa.String(length=32), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("late_fee_rules", JSON_DATA, nullable=False),
        sa.Column("reminder_offsets", JSON_DATA, nullable=False),
        sa.Column("reminder_channel", sa.String(length=16), nullable=True),
        sa.Column("reminder_target", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_billing_settings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_billing_settings")),
    )
    op.create_table(
        "document_counters",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_document_counters_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "series", "year", name=op.f("pk_document_counters")
        ),
    )
    op.create_table(
        "billing_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("period_first", sa.Date(), nullable=False),
        sa.Column("period_last", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("computed_at", UTC_TIME, nullable=False),
        sa.Column("approved_at", UTC_TIME, nullable=True),
        sa.Column("held_readings", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_billing_runs_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_billing_runs_id")),
        sa.UniqueConstraint(
            "property_id",
            "period_first",
            "period_last",
            name=op.f("uq_billing_runs_property_id"),
        ),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("meter_kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("cycle_months", sa.Integer(), nullable=False),
        sa.Column("cycle_start_month", sa.Integer(), nullable=False),
        sa.Column("boundary", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_tariffs_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_tariffs_id")),
    )
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tariffs_property_kind", ["property_id", "meter_kind"], unique=False
        )

    op.create_table(
        "tariff_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", UTC_TIME, nullable=False),
        sa.Column("tiers", JSON_DATA, nullable=False),
        sa.Column("tou", JSON_DATA, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id", "property_id"],
            ["tariffs.id", "tariffs.property_id"],
            name=op.f("fk_tariff_versions_tariff_id_tariffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_versions")),
        sa.UniqueConstraint(
            "tariff_id", "effective_from", name=op.f("uq_tariff_versions_tariff_id")
        ),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("total", EXACT_DECIMAL, nullable=False),
        sa.Column("paid", EXACT_DECIMAL, nullable=False),
        sa.Column("original_invoice_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["lease_id", "property_id"],
            ["leases.id", "leases.property_id"],
            name=op.f("fk_invoices_lease_id_leases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_invoices_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["original_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoices_original_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_invoices_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_invoices_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id", "property_id"],
            ["billing_runs.id", "billing_runs.property_id"],
            name=op.f("fk_invoices_run_id_billing_runs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_invoices_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_invoices_id")),
        sa.UniqueConstraint(
            "organization_id", "number", name=op.f("uq_invoices_organization_id")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_person", ["person_id"], unique=False)
        batch_op.create_index(
            "ix_invoices_property_status", ["property_id", "status"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("unallocated", EXACT_DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_payments_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_payments_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_payments_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("id", "property_id", name=op.f("uq_payments_id")),
        sa.UniqueConstraint(
            "property_id", "method", "reference", name=op.f("uq_payments_property_id")
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_person", ["person_id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded_at", UTC_TIME, nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_refunds_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_refunds_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_refunds_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("quantity", EXACT_DECIMAL, nullable=True),
        sa.Column("unit_price", EXACT_DECIMAL, nullable=True),
        sa.Column("exact_amount", EXACT_DECIMAL, nullable=False),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("service_first", sa.Date(), nullable=True),
        sa.Column("service_last", sa.Date(), nullable=True),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("tariff_id", sa.Integer(), nullable=True),
        sa.Column("tariff_version", UTC_TIME, nullable=True),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("band", sa.String(length=32), nullable=True),
        sa.Column("meter_point_id", sa.Integer(), nullable=True),
        sa.Column("reading_ids", JSON_DATA, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("credits_line_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credits_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_invoice_lines_credits_line_id_invoice_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id", "property_id"],
            ["invoices.id", "invoices.property_id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint(
            "invoice_id", "line_no", name=op.f("uq_invoice_lines_invoice_id")
        ),
    )
    op.create_table(
        "payment_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("outstanding", EXACT_DECIMAL, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("outbox_message_id", sa.BigInteger(), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id", "property_id"],
            ["invoices.id", "invoices.property_id"],
            name=op.f("fk_payment_reminders_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reminders")),
        sa.UniqueConstraint(
            "invoice_id", "offset_days", name=op.f("uq_payment_reminders_invoice_id")
        ),
    )
    op.create_table(
        "manual_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("value", EXACT_DECIMAL, nullable=False),
        sa.Column("taken_at", UTC_TIME, nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_manual_readings_meter_id_meters"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_readings")),
    )
    with op.batch_alter_table("manual_readings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_manual_readings_meter", ["meter_id", "taken_at"], unique=False
        )

    op.create_table(
        "one_off_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("charge_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("invoice_line_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_one_off_charges_invoice_line_id_invoice_lines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lease_id", "property_id"],
            ["leases.id", "leases.property_id"],
            name=op.f("fk_one_off_charges_lease_id_leases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_one_off_charges_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_one_off_charges_person_id_people"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_one_off_charges_property_id_properties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "property_id"],
            ["units.id", "units.property_id"],
            name=op.f("fk_one_off_charges_unit_id_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_off_charges")),
        sa.UniqueConstraint(
            "organization_id",
            "source",
            "source_ref",
            name=op.f("uq_one_off_charges_organization_id"),
        ),
    )
    with op.batch_alter_table("one_off_charges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_one_off_charges_pending",
            ["property_id", "invoice_line_id"],
            unique=False,
        )

    op.create_table(
        "payment_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_line_id", sa.Integer(), nullable=False),
        sa.Column("amount", EXACT_DECIMAL, nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id", "property_id"],
            ["invoices.id", "invoices.property_id"],
            name=op.f("fk_payment_allocations_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_payment_allocations_invoice_line_id_invoice_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id", "property_id"],
            ["payments.id", "payments.property_id"],
            name=op.f("fk_payment_allocations_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
    )
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_allocations_line", ["invoice_line_id"], unique=False
        )

    op.create_table(
        "reading_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("reading_ref", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_reading_reviews_meter_id_meters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_reviews")),
        sa.UniqueConstraint(
            "meter_id", "reading_ref", name=op.f("uq_reading_reviews_meter_id")
        ),
    )
    op.create_table(
        "late_fee_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("invoice_line_id", sa.Integer(), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("total", EXACT_DECIMAL, nullable=False),
        sa.Column("charged", EXACT_DECIMAL, nullable=False),
        sa.Column("one_off_charge_id", sa.Integer(), nullable=True),
        sa.Column("assessed_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id", "property_id"],
            ["invoices.id", "invoices.property_id"],
            name=op.f("fk_late_fee_assessments_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_late_fee_assessments_invoice_line_id_invoice_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["one_off_charge_id"],
            ["one_off_charges.id"],
            name=op.f("fk_late_fee_assessments_one_off_charge_id_one_off_charges"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_fee_assessments")),
        sa.UniqueConstraint(
            "invoice_line_id",
            "through",
            name=op.f("uq_late_fee_assessments_invoice_line_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("late_fee_assessments")
    op.drop_table("reading_reviews")
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_allocations_line")

    op.drop_table("payment_allocations")
    with op.batch_alter_table("one_off_charges", schema=None) as batch_op:
        batch_op.drop_index("ix_one_off_charges_pending")

    op.drop_table("one_off_charges")
    with op.batch_alter_table("manual_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_manual_readings_meter")

    op.drop_table("manual_readings")
    op.drop_table("payment_reminders")
    op.drop_table("invoice_lines")
    op.drop_table("refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_person")

    op.drop_table("payments")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_property_status")
        batch_op.drop_index("ix_invoices_person")

    op.drop_table("invoices")
    op.drop_table("tariff_versions")
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.drop_index("ix_tariffs_property_kind")

    op.drop_table("tariffs")
    op.drop_table("billing_runs")
    op.drop_table("document_counters")
    op.drop_table("billing_settings")
