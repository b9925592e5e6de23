"""Billing records: tariffs, settings, manual readings, runs, invoices, payments.

The calculation lives in ``cloud.billing`` (pure, no database); these tables keep
its inputs (tariffs, settings, readings entered by hand, charges waiting to be
billed) and its results (invoices with their lines, each traceable to its source;
payments and where they went; reminders and late fees). An issued invoice is never
edited: a credit note corrects it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.models.base import Base, ExactDecimal, UtcDateTime, same_property_fk, utc_now


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class TariffKind(StrEnum):
    FLAT = "flat"
    TIERED = "tiered"
    TOU = "tou"


class RunStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class BillingSettings(Base):
    """One organization's billing rules; defaults apply until a row exists.

    ``late_fee_rules`` is a list of ``{effective_from, daily_rate, minimum,
    cap_fraction, cap_amount}``; ``reminder_offsets`` the days relative to the due
    date a reminder goes out (-3 is three days before).
    """

    __tablename__ = "billing_settings"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(sa.String(3))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    rounding_mode: Mapped[str] = mapped_column(sa.String(16))
    rounding_scope: Mapped[str] = mapped_column(sa.String(16))
    rounding_quantum: Mapped[Decimal] = mapped_column(ExactDecimal())
    allocation_order: Mapped[str] = mapped_column(sa.String(32))
    payment_terms_days: Mapped[int] = mapped_column()
    late_fee_rules: Mapped[list[dict[str, Any]]] = mapped_column(_json())
    reminder_offsets: Mapped[list[int]] = mapped_column(_json())
    reminder_channel: Mapped[str | None] = mapped_column(sa.String(16))
    reminder_target: Mapped[str | None] = mapped_column(sa.Text())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Tariff(Base):
    """The price of one kind of metered supply in one property, over time."""

    __tablename__ = "tariffs"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.Index("ix_tariffs_property_kind", "property_id", "meter_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    meter_kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    cycle_months: Mapped[int] = mapped_column()
    cycle_start_month: Mapped[int] = mapped_column()
    boundary: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    versions: Mapped[list[TariffVersion]] = relationship(
        order_by="TariffVersion.effective_from", lazy="selectin"
    )


class TariffVersion(Base):
    """Prices in force from ``effective_from``: ``tiers`` ``[{up_to, rate}]`` (a
    flat tariff has one tier without ``up_to``) and, for time of use, ``tou``
    ``{windows: [{start, end, band}], band_rates: {band: rate}}``; decimals are
    kept as strings."""

    __tablename__ = "tariff_versions"
    __table_args__ = (
        same_property_fk(("tariff_id", "property_id"), "tariffs", "CASCADE"),
        sa.UniqueConstraint("tariff_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tariff_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime())
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(_json())
    tou: Mapped[dict[str, Any] | None] = mapped_column(_json())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class ManualReading(Base):
    """A register value read off a meter by a person (or estimated by the office),
    billed alongside the readings its gateway sends."""

    __tablename__ = "manual_readings"
    __table_args__ = (sa.Index("ix_manual_readings_meter", "meter_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meters.id", ondelete="RESTRICT")
    )
    property_id: Mapped[int] = mapped_column()
    value: Mapped[Decimal] = mapped_column(ExactDecimal())
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime())
    estimated: Mapped[bool] = mapped_column(default=False)
    photo_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    entered_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class ReadingReview(Base):
    """A person's decision on a held reading (``reading_ref`` as the engine names
    it: ``gw:<gateway>:<seq>`` or ``manual:<id>``). A rejected reading is left out
    of every later series, so it no longer holds back the readings after it."""

    __tablename__ = "reading_reviews"
    __table_args__ = (sa.UniqueConstraint("meter_id", "reading_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meters.id", ondelete="CASCADE")
    )
    property_id: Mapped[int] = mapped_column()
    reading_ref: Mapped[str] = mapped_column(sa.String(128))
    decision: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    decided_by: Mapped[str] = mapped_column(sa.String(200))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class BillingRun(Base):
    """Draft invoices of one property for one period; approving issues them."""

    __tablename__ = "billing_runs"
    __table_args__ = (
        sa.UniqueConstraint("property_id", "period_first", "period_last"),
        sa.UniqueConstraint("id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    period_first: Mapped[date] = mapped_column()
    period_last: Mapped[date] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    held_readings: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class DocumentCounter(Base):
    """The last number of a document series per organization and year; its row is
    locked while a number is taken, so numbers are gapless under concurrency."""

    __tablename__ = "document_counters"
    __audited__ = False  # each number is recorded on its (audited) document

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    series: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column()


class Invoice(Base):
    """An invoice or credit note of one person; numbered when issued."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "number"),
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("run_id", "property_id"), "billing_runs"),
        same_property_fk(("lease_id", "property_id"), "leases"),
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_invoices_property_status", "property_id", "status"),
        sa.Index("ix_invoices_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    run_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(16))
    number: Mapped[str | None] = mapped_column(sa.String(32))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT")
    )
    lease_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(16))
    issued_on: Mapped[date | None] = mapped_column()
    due_date: Mapped[date] = mapped_column()
    total: Mapped[Decimal] = mapped_column(ExactDecimal())
    paid: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    original_invoice_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="RESTRICT")
    )
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.line_no", cascade="all, delete-orphan", lazy="selectin"
    )


class InvoiceLine(Base):
    """One rounded charge with where it came from: lease, tariff and version, tier
    or band, meter point and readings, or the one-off charge (work order)."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        same_property_fk(("invoice_id", "property_id"), "invoices", "CASCADE"),
        sa.UniqueConstraint("invoice_id", "line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    line_no: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.String(500))
    unit_id: Mapped[int | None] = mapped_column()
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    unit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    exact_amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    service_first: Mapped[date | None] = mapped_column()
    service_last: Mapped[date | None] = mapped_column()
    estimated: Mapped[bool] = mapped_column(default=False)
    lease_id: Mapped[int | None] = mapped_column()
    tariff_id: Mapped[int | None] = mapped_column()
    tariff_version: Mapped[datetime | None] = mapped_column(UtcDateTime())
    tier: Mapped[int | None] = mapped_column()
    band: Mapped[str | None] = mapped_column(sa.String(32))
    meter_point_id: Mapped[int | None] = mapped_column()
    reading_ids: Mapped[list[str]] = mapped_column(_json())
    source: Mapped[str | None] = mapped_column(sa.String(32))
    source_ref: Mapped[str | None] = mapped_column(sa.String(128))
    credits_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoice_lines.id", ondelete="RESTRICT")
    )


class OneOffCharge(Base):
    """A charge waiting for the next billing run of its property: a work order's
    cost passed on (``source`` ``work_order``), a late fee, anything one-off."""

    __tablename__ = "one_off_charges"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "source", "source_ref"),
        same_property_fk(("lease_id", "property_id"), "leases"),
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_one_off_charges_pending", "property_id", "invoice_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT")
    )
    lease_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(sa.String(3))
    description: Mapped[str] = mapped_column(sa.String(500))
    charge_date: Mapped[date] = mapped_column()
    source: Mapped[str] = mapped_column(sa.String(32))
    source_ref: Mapped[str | None] = mapped_column(sa.String(128))
    invoice_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoice_lines.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Payment(Base):
    """Money received from a person; ``unallocated`` is the credit it left."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("property_id", "method", "reference"),
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_payments_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT")
    )
    unit_id: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    unallocated: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(sa.String(3))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    method: Mapped[str] = mapped_column(sa.String(32))
    reference: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class PaymentAllocation(Base):
    """Part of a payment applied to one invoice line."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        same_property_fk(("payment_id", "property_id"), "payments", "CASCADE"),
        same_property_fk(("invoice_id", "property_id"), "invoices"),
        sa.Index("ix_payment_allocations_line", "invoice_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    invoice_id: Mapped[int] = mapped_column()
    invoice_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoice_lines.id", ondelete="RESTRICT")
    )
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    applied_on: Mapped[date] = mapped_column()


class Refund(Base):
    """Credit paid back to a person; never more than their credit balance."""

    __tablename__ = "refunds"
    __table_args__ = (same_property_fk(("unit_id", "property_id"), "units"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT")
    )
    unit_id: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(sa.String(3))
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reference: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Reminder(Base):
    """A payment reminder sent for an invoice at one stage of the schedule."""

    __tablename__ = "payment_reminders"
    __table_args__ = (
        same_property_fk(("invoice_id", "property_id"), "invoices", "CASCADE"),
        sa.UniqueConstraint("invoice_id", "offset_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    offset_days: Mapped[int] = mapped_column()
    outstanding: Mapped[Decimal] = mapped_column(ExactDecimal())
    channel: Mapped[str | None] = mapped_column(sa.String(16))
    outbox_message_id: Mapped[int | None] = mapped_column(sa.BigInteger())
    automatic: Mapped[bool] = mapped_column(default=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LateFeeAssessment(Base):
    """The late fee accrued on one invoice line up to ``through``; ``charged`` is
    the increment charged then (as a one-off charge on the next invoice)."""

    __tablename__ = "late_fee_assessments"
    __table_args__ = (
        same_property_fk(("invoice_id", "property_id"), "invoices", "CASCADE"),
        sa.UniqueConstraint("invoice_line_id", "through"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    invoice_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoice_lines.id", ondelete="CASCADE")
    )
    through: Mapped[date] = mapped_column()
    days: Mapped[int] = mapped_column()
    total: Mapped[Decimal] = mapped_column(ExactDecimal())
    charged: Mapped[Decimal] = mapped_column(ExactDecimal())
    one_off_charge_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("one_off_charges.id", ondelete="SET NULL")
    )
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime())
