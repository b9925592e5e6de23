"""Meter points (what is billed) and meters (the devices installed there).

A *meter point* is a logical place: unit 101's electricity, or the common-area water
of a building. A *meter* is one physical device installed at a point between
``installed_at`` and ``removed_at``; replacing it removes the old row and adds a new
one at the same point, so the history of the point is its meters in order. The
column names follow ``cloud.billing.consumption.MeterInstallation``
(``register_modulus``, ``multiplier``, ``initial_reading``, ``final_reading``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, ExactDecimal, UtcDateTime, same_property_fk, utc_now


class MeterKind(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"


class MeterPoint(Base):
    """Where consumption is measured; a unit's point when ``unit_id`` is set, a
    common area of the building (or of the whole property) otherwise."""

    __tablename__ = "meter_points"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        same_property_fk(("building_id", "property_id"), "buildings"),
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_meter_points_property_id", "property_id"),
        sa.Index("ix_meter_points_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    building_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Meter(Base):
    """One meter installation; at most one per point is in service (no removal)."""

    __tablename__ = "meters"
    __table_args__ = (
        same_property_fk(("meter_point_id", "property_id"), "meter_points"),
        sa.Index("ix_meters_property_id", "property_id"),
        sa.Index(
            "ix_meters_in_service",
            "meter_point_id",
            unique=True,
            postgresql_where=sa.text("removed_at IS NULL"),
            sqlite_where=sa.text("removed_at IS NULL"),
        ),
        sa.Index("ix_meters_gateway_point", "gateway_id", "device_id", "point"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_point_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    serial: Mapped[str] = mapped_column(sa.String(100))
    manufacturer: Mapped[str | None] = mapped_column(sa.String(200))
    model: Mapped[str | None] = mapped_column(sa.String(200))
    multiplier: Mapped[Decimal] = mapped_column(ExactDecimal())
    register_modulus: Mapped[Decimal] = mapped_column(ExactDecimal())
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    initial_reading: Mapped[Decimal] = mapped_column(ExactDecimal())
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    final_reading: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    gateway_id: Mapped[str | None] = mapped_column(
        sa.String(64), sa.ForeignKey("gateways.id", ondelete="SET NULL")
    )
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    point: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
