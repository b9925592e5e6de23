"""Leases: which units a tenant rents, when, for how much.

A unit may be in at most one *active* lease on any day. The lease service checks this
with the units locked; on PostgreSQL an exclusion constraint on ``lease_units`` (added
by migration 0002, over ``daterange(start_date, end_date, '[]')`` where ``blocks``)
refuses an overlap even from a writer that skipped the check.
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

LEASE_OVERLAP_CONSTRAINT = "ex_lease_units_no_overlap"


class LeaseStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"
    TERMINATED = "terminated"

    @property
    def blocks(self) -> bool:
        """Whether a lease in this status keeps other active leases off its units."""
        return self is LeaseStatus.ACTIVE


class Lease(Base):
    __tablename__ = "leases"
    __table_args__ = (
        sa.UniqueConstraint("property_id", "reference"),
        sa.UniqueConstraint("id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    reference: Mapped[str] = mapped_column(sa.String(64))
    tenant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    start_date: Mapped[date] = mapped_column()
    end_date: Mapped[date | None] = mapped_column()
    rent: Mapped[Decimal] = mapped_column(ExactDecimal())
    rent_period: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    deposit: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    fee_rules: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    units: Mapped[list[LeaseUnit]] = relationship(
        order_by="LeaseUnit.unit_id", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def unit_ids(self) -> list[int]:
        return [link.unit_id for link in self.units]


class LeaseUnit(Base):
    """A unit of a lease, with the lease's dates and whether it blocks others
    copied, so the database can index and constrain overlaps per unit."""

    __tablename__ = "lease_units"
    __table_args__ = (
        same_property_fk(("lease_id", "property_id"), "leases", ondelete="CASCADE"),
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_lease_units_unit_id", "unit_id", "start_date"),
    )

    lease_id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column()
    start_date: Mapped[date] = mapped_column()
    end_date: Mapped[date | None] = mapped_column()
    blocks: Mapped[bool] = mapped_column()
