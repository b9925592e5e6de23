"""Work orders, their SLA targets, maintenance plans and inspection rounds.

A work order belongs to one property (and as far as known a building, unit and piece
of equipment). Everything hung under it (transitions, checklist items, labour,
parts, photos) copies its ``property_id`` with ``same_property_fk``, so access
control is the one comparison every other table uses.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import (
    Base,
    ExactDecimal,
    UtcDateTime,
    same_property_fk,
    utc_now,
)


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"


class WorkOrderSource(StrEnum):
    TENANT = "tenant"
    OWNER = "owner"
    STAFF = "staff"
    ALARM = "alarm"
    INSPECTION = "inspection"
    PLAN = "plan"
    ROUND = "round"


class WorkOrderState(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class WorkOrder(Base):
    """A repair or maintenance job, from report to closing, with its SLA clock.

    ``response_due_at`` and ``resolution_due_at`` are computed when the order is
    made and moved on by the time spent on hold; ``*_breached_at`` record a missed
    target once, ``*_warned_at`` the warning sent before it.
    """

    __tablename__ = "work_orders"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.UniqueConstraint("plan_id", "plan_due_on"),
        sa.UniqueConstraint("inspection_id", "inspection_due_on"),
        same_property_fk(("building_id", "property_id"), "buildings"),
        same_property_fk(("unit_id", "property_id"), "units"),
        same_property_fk(("equipment_id", "property_id"), "equipment"),
        same_property_fk(("plan_id", "property_id"), "maintenance_plans"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        sa.Index("ix_work_orders_property_id", "property_id", "state"),
        sa.Index("ix_work_orders_assignee_user_id", "assignee_user_id"),
        sa.Index("ix_work_orders_requester_user_id", "requester_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    building_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    equipment_id: Mapped[int | None] = mapped_column()
    location: Mapped[str | None] = mapped_column(sa.String(200))
    category: Mapped[str] = mapped_column(sa.String(32))
    urgency: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text(), default="")
    source: Mapped[str] = mapped_column(sa.String(16))
    source_ref: Mapped[str | None] = mapped_column(sa.String(200))
    requester_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    requester_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    lease_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("leases.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(sa.String(16), default=WorkOrderState.NEW)
    team: Mapped[str | None] = mapped_column(sa.String(64))
    assignee_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    plan_id: Mapped[int | None] = mapped_column()
    plan_due_on: Mapped[date | None] = mapped_column()
    inspection_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("inspections.id", ondelete="SET NULL")
    )
    inspection_due_on: Mapped[date | None] = mapped_column()
    checklist_template: Mapped[list[Any] | None] = mapped_column(sa.JSON())
    estimated_hours: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    on_hold_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    response_due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolution_due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    response_warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolution_warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    response_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    business_hours: Mapped[bool] = mapped_column(default=False)
    chargeable: Mapped[bool] = mapped_column(default=False)
    charge_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    rating: Mapped[int | None] = mapped_column()
    rating_comment: Mapped[str | None] = mapped_column(sa.Text())
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def chargeable_items(self) -> list[tuple[str, Decimal]]:
        """What billing charges the tenant when the order closes: the agreed
        amount if one was set, else the parts marked chargeable, at cost."""
        if not self.chargeable:
            return []
        if self.charge_amount is not None:
            return [(f"Work order {self.id}: {self.title}", self.charge_amount)]
        from cloud.services.work_orders import chargeable_parts

        return chargeable_parts(self)


class WorkOrderTransition(Base):
    """One change of a work order's state: who, when, from, to, and why."""

    __tablename__ = "work_order_transitions"
    __table_args__ = (
        same_property_fk(("work_order_id", "property_id"), "work_orders", "CASCADE"),
        sa.Index("ix_work_order_transitions_work_order_id", "work_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    by_label: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text())


class ChecklistItem(Base):
    __tablename__ = "work_order_checklist_items"
    __table_args__ = (
        same_property_fk(("work_order_id", "property_id"), "work_orders", "CASCADE"),
        sa.Index("ix_work_order_checklist_items_work_order_id", "work_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    position: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(sa.String(500))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    done_by: Mapped[str | None] = mapped_column(sa.String(200))


class LabourEntry(Base):
    """Time one technician spent on a work order."""

    __tablename__ = "work_order_labour"
    __table_args__ = (
        same_property_fk(("work_order_id", "property_id"), "work_orders", "CASCADE"),
        sa.CheckConstraint("ended_at > started_at", name="positive"),
        sa.Index("ix_work_order_labour_work_order_id", "work_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    technician_user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    hourly_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    note: Mapped[str | None] = mapped_column(sa.Text())


class PartUsed(Base):
    __tablename__ = "work_order_parts"
    __table_args__ = (
        same_property_fk(("work_order_id", "property_id"), "work_orders", "CASCADE"),
        sa.Index("ix_work_order_parts_work_order_id", "work_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    description: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    unit_cost: Mapped[Decimal] = mapped_column(ExactDecimal())
    chargeable: Mapped[bool] = mapped_column(default=False)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class WorkOrderPhoto(Base):
    """A photo (or PDF) of a work order, stored like every attachment, by hash."""

    __tablename__ = "work_order_photos"
    __table_args__ = (
        same_property_fk(("work_order_id", "property_id"), "work_orders", "CASCADE"),
        sa.Index("ix_work_order_photos_work_order_id", "work_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(sa.String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class SlaTarget(Base):
    """A property's response and resolution targets for one urgency, optionally
    one category (trade); the most specific row wins, code defaults otherwise.

    With ``business_hours`` the clock runs only Monday to Friday between
    ``day_starts`` and ``day_ends`` (minutes after midnight) in ``timezone``.
    """

    __tablename__ = "sla_targets"
    __table_args__ = (
        sa.UniqueConstraint("property_id", "urgency", "category"),
        sa.CheckConstraint("day_ends > day_starts", name="day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="CASCADE")
    )
    urgency: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str | None] = mapped_column(sa.String(32))
    response_minutes: Mapped[int] = mapped_column()
    resolution_minutes: Mapped[int] = mapped_column()
    warn_minutes: Mapped[int] = mapped_column(default=15)
    business_hours: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    day_starts: Mapped[int] = mapped_column(default=8 * 60)
    day_ends: Mapped[int] = mapped_column(default=18 * 60)


class WorkOrderWatcher(Base):
    """Where a property's SLA warnings and breaches are sent (through the outbox)."""

    __tablename__ = "work_order_watchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(16))
    target: Mapped[str] = mapped_column(sa.Text())
    label: Mapped[str] = mapped_column(sa.String(200))

    __audit_redact__ = frozenset({"target"})


class MaintenancePlan(Base):
    """Preventive maintenance of one piece of equipment: every ``interval_count``
    days, weeks or months (or on a cron expression), anchored on the schedule or on
    the last completion, with a template copied into each work order."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("equipment_id", "property_id"), "equipment", "CASCADE"),
        sa.Index("ix_maintenance_plans_property_id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    equipment_id: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    interval_unit: Mapped[str] = mapped_column(
        sa.String(8)
    )  # days, weeks, months, cron
    interval_count: Mapped[int | None] = mapped_column()
    cron: Mapped[str | None] = mapped_column(sa.String(100))
    anchor: Mapped[str] = mapped_column(sa.String(16))  # schedule, completion
    first_due_on: Mapped[date] = mapped_column()
    lead_days: Mapped[int] = mapped_column(default=0)
    category: Mapped[str] = mapped_column(sa.String(32))
    urgency: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    checklist: Mapped[list[Any]] = mapped_column(sa.JSON())
    estimated_hours: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class RoundPlan(Base):
    """An inspection round: an ordered route of checkpoints walked every
    ``every_hours`` by the assigned staff member, within ``window_minutes``."""

    __tablename__ = "round_plans"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.Index("ix_round_plans_property_id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    every_hours: Mapped[int] = mapped_column()
    window_minutes: Mapped[int] = mapped_column()
    first_starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    assignee_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    category: Mapped[str] = mapped_column(sa.String(32), default="general")
    active: Mapped[bool] = mapped_column(default=True)


class Checkpoint(Base):
    """One stop of a round: what to check, and how presence is proved (its QR
    token, or a badge read at the OSDP reader placed there)."""

    __tablename__ = "round_checkpoints"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.UniqueConstraint("qr_token"),
        sa.UniqueConstraint("round_plan_id", "position"),
        same_property_fk(("round_plan_id", "property_id"), "round_plans", "CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_plan_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    check_kind: Mapped[str] = mapped_column(sa.String(8), default="ok")  # or reading
    qr_token: Mapped[str] = mapped_column(sa.String(64))
    reader_gateway_id: Mapped[str | None] = mapped_column(sa.String(64))
    reader_device_id: Mapped[str | None] = mapped_column(sa.String(64))
    building_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("buildings.id", ondelete="SET NULL")
    )


class RoundTask(Base):
    """One walk of a round, in one time window; open until every checkpoint is
    done and every work order it opened is closed."""

    __tablename__ = "round_tasks"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.UniqueConstraint("round_plan_id", "window_starts_at"),
        same_property_fk(("round_plan_id", "property_id"), "round_plans", "CASCADE"),
        sa.Index("ix_round_tasks_property_id", "property_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_plan_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    assignee_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    window_starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    window_ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    missed: Mapped[bool] = mapped_column(default=False)
    skipped_checkpoints: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RoundCheck(Base):
    """The result at one checkpoint of one round task."""

    __tablename__ = "round_checks"
    __table_args__ = (
        sa.UniqueConstraint("round_task_id", "checkpoint_id"),
        same_property_fk(("round_task_id", "property_id"), "round_tasks", "CASCADE"),
        same_property_fk(
            ("checkpoint_id", "property_id"), "round_checkpoints", "CASCADE"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_task_id: Mapped[int] = mapped_column()
    checkpoint_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    proof: Mapped[str] = mapped_column(sa.String(8))  # qr, badge
    ok: Mapped[bool] = mapped_column()
    reading: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    note: Mapped[str | None] = mapped_column(sa.Text())
    work_order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("work_orders.id", ondelete="SET NULL")
    )
    by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class StaffBadge(Base):
    """An access card a staff member carries, as its reader reports it (the card
    data in hex), so that a swipe at a checkpoint's reader proves who was there."""

    __tablename__ = "staff_badges"
    __table_args__ = (sa.UniqueConstraint("organization_id", "card_hex"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    card_hex: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class BadgeSwipe(Base):
    """A badge read at a checkpoint's reader during a round task's window, by the
    person the task is for: the proof a check-in by badge relies on."""

    __tablename__ = "round_badge_swipes"
    __table_args__ = (
        sa.UniqueConstraint("gateway_id", "seq", "round_task_id"),
        same_property_fk(("round_task_id", "property_id"), "round_tasks", "CASCADE"),
        sa.Index("ix_round_badge_swipes_round_task_id", "round_task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_task_id: Mapped[int] = mapped_column()
    checkpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("round_checkpoints.id", ondelete="CASCADE")
    )
    property_id: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    gateway_id: Mapped[str] = mapped_column(sa.String(64))
    seq: Mapped[int] = mapped_column(sa.BigInteger())
    at: Mapped[datetime] = mapped_column(UtcDateTime())
