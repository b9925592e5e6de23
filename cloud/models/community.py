"""Notices to residents, complaints and suggestions, and satisfaction surveys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, same_property_fk, utc_now


class Notice(Base):
    """A planned outage or a community notice for a property, some of its
    buildings, or some units; shown from ``publish_at`` until ``expires_at``.

    The units it concerns are listed in ``notice_units`` when it is made (every
    unit of the targeted buildings, or of the property), so an outage notice names
    the units it affects and residents see the notices of their own units.
    """

    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.CheckConstraint("expires_at > publish_at", name="expiry"),
        sa.Index("ix_notices_property_id", "property_id", "publish_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(sa.String(16))  # water/power outage, event …
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text())
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    publish_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    building_ids: Mapped[list[Any]] = mapped_column(sa.JSON())
    whole_property: Mapped[bool] = mapped_column()
    send_apprise: Mapped[bool] = mapped_column(default=True)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class NoticeUnit(Base):
    __tablename__ = "notice_units"
    __table_args__ = (
        sa.PrimaryKeyConstraint("notice_id", "unit_id"),
        same_property_fk(("notice_id", "property_id"), "notices", "CASCADE"),
        same_property_fk(("unit_id", "property_id"), "units", "CASCADE"),
        sa.Index("ix_notice_units_unit_id", "unit_id"),
    )

    notice_id: Mapped[int] = mapped_column()
    unit_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()


class NoticeReceipt(Base):
    """When a user's app first showed a notice (delivered) and when they opened
    it (read)."""

    __tablename__ = "notice_receipts"
    __table_args__ = (
        sa.UniqueConstraint("notice_id", "user_id"),
        same_property_fk(("notice_id", "property_id"), "notices", "CASCADE"),
    )
    __audited__ = False  # a receipt per resident per notice: the row is the record

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class NoticeChannel(Base):
    """Where a property's notices are also sent through apprise: an SMS gateway,
    a mailing list, a residents' chat group (an apprise URL)."""

    __tablename__ = "notice_channels"
    __audit_redact__ = frozenset({"apprise_url"})

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(200))
    apprise_url: Mapped[str] = mapped_column(sa.Text())


class Complaint(Base):
    """A complaint or a suggestion from a resident, answered by staff and rated."""

    __tablename__ = "complaints"
    __table_args__ = (
        same_property_fk(("unit_id", "property_id"), "units"),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        sa.Index("ix_complaints_property_id", "property_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT")
    )
    unit_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(16))  # complaint, suggestion
    category: Mapped[str] = mapped_column(sa.String(32))
    text: Mapped[str] = mapped_column(sa.Text())
    requester_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    response: Mapped[str | None] = mapped_column(sa.Text())
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rating: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class Survey(Base):
    """A satisfaction survey of one property's residents; with ``anonymous``,
    answers are kept without who gave them."""

    __tablename__ = "surveys"
    __table_args__ = (
        sa.UniqueConstraint("id", "property_id"),
        sa.CheckConstraint("closes_at > opens_at", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    questions: Mapped[list[Any]] = mapped_column(sa.JSON())
    anonymous: Mapped[bool] = mapped_column()
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class SurveyResponse(Base):
    """One resident's answers. ``respondent_key`` (a keyed hash of the user for an
    anonymous survey) allows one response per resident without naming them."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        sa.UniqueConstraint("survey_id", "respondent_key"),
        same_property_fk(("survey_id", "property_id"), "surveys", "CASCADE"),
    )
    __audited__ = False  # the audit log would name who answered an anonymous survey

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column()
    property_id: Mapped[int] = mapped_column()
    respondent_key: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    answers: Mapped[list[Any]] = mapped_column(sa.JSON())
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
