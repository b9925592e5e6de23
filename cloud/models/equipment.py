"""The equipment ledger, statutory inspections, and attached documents."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, same_property_fk, utc_now


class EquipmentCategory(StrEnum):
    ELEVATOR = "elevator"
    FIRE = "fire"
    SECURITY = "security"
    PUMP = "pump"
    HVAC = "hvac"
    ELECTRICAL = "electrical"
    WATER = "water"
    OTHER = "other"


class EquipmentStatus(StrEnum):
    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"
    UNDER_REPAIR = "under_repair"
    DECOMMISSIONED = "decommissioned"


class Equipment(Base):
    """One piece of equipment, located in its property, building, floor and unit
    (each as far as known), and optionally part of a larger one (``parent_id``)."""

    __tablename__ = "equipment"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("building_id", "property_id"), "buildings"),
        same_property_fk(("unit_id", "property_id"), "units"),
        same_property_fk(("parent_id", "property_id"), "equipment"),
        sa.Index("ix_equipment_property_id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    building_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    floor: Mapped[int | None] = mapped_column()
    parent_id: Mapped[int | None] = mapped_column()
    category: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    manufacturer: Mapped[str | None] = mapped_column(sa.String(200))
    model: Mapped[str | None] = mapped_column(sa.String(200))
    serial: Mapped[str | None] = mapped_column(sa.String(100))
    purchase_date: Mapped[date | None] = mapped_column()
    installed_on: Mapped[date | None] = mapped_column()
    warranty_until: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Inspection(Base):
    """A statutory inspection or certificate of one piece of equipment: who
    inspects, when it was last done, and when it is next due."""

    __tablename__ = "inspections"
    __table_args__ = (
        same_property_fk(("equipment_id", "property_id"), "equipment", "CASCADE"),
        sa.Index("ix_inspections_equipment_id", "equipment_id"),
        sa.Index("ix_inspections_property_id", "property_id", "next_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(100))
    authority: Mapped[str] = mapped_column(sa.String(200))
    certificate_number: Mapped[str | None] = mapped_column(sa.String(100))
    last_inspected_on: Mapped[date | None] = mapped_column()
    interval_months: Mapped[int] = mapped_column()
    next_due_on: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Attachment(Base):
    """A document (PDF, PNG or JPEG) attached to a piece of equipment or a lease.

    The bytes live under ``<data_dir>/attachments``, named by their SHA-256, so the
    same file attached twice is stored once.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        same_property_fk(("equipment_id", "property_id"), "equipment", "CASCADE"),
        same_property_fk(("lease_id", "property_id"), "leases", "CASCADE"),
        sa.CheckConstraint(
            "(equipment_id IS NULL) <> (lease_id IS NULL)", name="one_parent"
        ),
        sa.Index("ix_attachments_equipment_id", "equipment_id"),
        sa.Index("ix_attachments_lease_id", "lease_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column()
    equipment_id: Mapped[int | None] = mapped_column()
    lease_id: Mapped[int | None] = mapped_column()
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(sa.String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
