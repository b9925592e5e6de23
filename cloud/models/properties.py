"""Properties, their buildings and units, and each unit's status history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, ExactDecimal, UtcDateTime, same_property_fk, utc_now


class PropertyKind(StrEnum):
    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    OFFICE = "office"
    MIXED = "mixed"


class UnitUse(StrEnum):
    RESIDENTIAL = "residential"
    RETAIL = "retail"
    OFFICE = "office"
    STORAGE = "storage"
    PARKING = "parking"
    OTHER = "other"


class UnitStatus(StrEnum):
    VACANT = "vacant"
    LEASED = "leased"
    UNDER_RENOVATION = "under_renovation"
    OWNER_OCCUPIED = "owner_occupied"


class Property(Base):
    """An estate, a shopping street or an office tower: what roles are granted on."""

    __tablename__ = "properties"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "code"),
        # Lets people and other org-level rows prove their property is in their org.
        sa.UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (
        sa.UniqueConstraint("property_id", "code"),
        sa.UniqueConstraint("id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Unit(Base):
    """A flat, shop, office or parking space; areas in m²."""

    __tablename__ = "units"
    __table_args__ = (
        sa.UniqueConstraint("building_id", "number"),
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("building_id", "property_id"), "buildings"),
        sa.Index("ix_units_property_id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column()
    building_id: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(sa.String(32))
    floor: Mapped[int | None] = mapped_column()
    address: Mapped[str | None] = mapped_column(sa.String(500))
    gross_area_m2: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    usable_area_m2: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    layout: Mapped[str | None] = mapped_column(sa.String(64))
    use: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class UnitStatusChange(Base):
    """Each status a unit has had, from when, and who set it."""

    __tablename__ = "unit_status_changes"
    __table_args__ = (
        same_property_fk(("unit_id", "property_id"), "units", ondelete="CASCADE"),
        sa.Index("ix_unit_status_changes_unit_id", "unit_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(24))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    changed_by: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.String(500))
