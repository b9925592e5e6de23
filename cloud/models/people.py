"""Owners and tenants (persons or companies), their contacts, and who owns what."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.models.base import Base, ExactDecimal, UtcDateTime, same_property_fk, utc_now


class PersonKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class Person(Base):
    """An owner or tenant. Kept by the staff of ``property_id`` (where it was
    registered); it is also seen by the staff of every property where it owns a unit
    or holds a lease.

    The identity number (national id, passport, company registration) is stored only
    encrypted (``cloud.services.crypto``), with its last four characters in clear for
    display.
    """

    __tablename__ = "people"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "external_ref"),
        sa.ForeignKeyConstraint(
            ["property_id", "organization_id"],
            ["properties.id", "properties.organization_id"],
            ondelete="RESTRICT",
        ),
        sa.Index("ix_people_property_id", "property_id"),
    )
    __audit_redact__ = frozenset({"identity_number_encrypted"})

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    external_ref: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    address: Mapped[str | None] = mapped_column(sa.String(500))
    identity_number_encrypted: Mapped[str | None] = mapped_column(sa.Text())
    identity_number_last4: Mapped[str | None] = mapped_column(sa.String(4))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    contacts: Mapped[list[Contact]] = relationship(
        order_by="Contact.id", cascade="all, delete-orphan", lazy="selectin"
    )


class Contact(Base):
    """Someone to reach about a person or company: a company's accountant, an
    emergency contact."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(40))


class OwnershipShare(Base):
    """A person's share of a unit, as a fraction in (0, 1]; the current shares of a
    unit add up to at most 1."""

    __tablename__ = "ownership_shares"
    __table_args__ = (
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.Index("ix_ownership_shares_unit_id", "unit_id"),
        sa.Index("ix_ownership_shares_property_id", "property_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    share: Mapped[Decimal] = mapped_column(ExactDecimal())
    started_on: Mapped[date | None] = mapped_column()
    ended_on: Mapped[date | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
