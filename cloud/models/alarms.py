"""Alarms raised by gateways, and who is told: silences, rotas, escalations, push.

An alarm is open (``active`` or ``acknowledged``) until its source clears it; a
partial unique index keeps one open alarm per source (gateway, device) and type,
whatever the services do. A cleared alarm is never reopened: a later raise is a new
row. Alarms, their changes, actions and escalations are written by ingest and the
escalation job and are not audited (a row says who acknowledged it); silences,
rotas, policies, rule sets and subscriptions are staff's writes and are.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, UtcDateTime, utc_now

JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OPEN_ALARM_STATES = ("active", "acknowledged")


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class Trade(StrEnum):
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    FIRE = "fire"
    LIFT = "lift"
    GENERAL = "general"


def _property_fk() -> sa.ForeignKey:
    return sa.ForeignKey("properties.id", ondelete="RESTRICT")


_OPEN_WHERE = sa.text("state IN ('active', 'acknowledged')")


class Alarm(Base):
    __tablename__ = "alarms"
    __audited__ = False
    __table_args__ = (
        # One open alarm per source and type, on both databases.
        sa.Index(
            "uq_alarms_open_source_type",
            "gateway_id",
            "device_id",
            "type",
            unique=True,
            postgresql_where=_OPEN_WHERE,
            sqlite_where=_OPEN_WHERE,
        ),
        sa.Index("ix_alarms_property_state", "property_id", "state"),
        sa.Index("ix_alarms_group", "group_key", "raised_at"),
        sa.Index("ix_alarms_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.Integer(), index=True)
    property_id: Mapped[int | None] = mapped_column(_property_fk())
    building_id: Mapped[int | None] = mapped_column()
    unit_id: Mapped[int | None] = mapped_column()
    equipment_id: Mapped[int | None] = mapped_column()
    gateway_id: Mapped[str] = mapped_column(sa.String(64))
    device_id: Mapped[str] = mapped_column(sa.String(64))
    point: Mapped[str | None] = mapped_column(sa.String(64))
    rule: Mapped[str | None] = mapped_column(sa.String(64))
    type: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[str | None] = mapped_column(sa.String(1000))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    occurrences: Mapped[int] = mapped_column(default=1)
    # Flapping: raised and cleared too often; kept open, paged no more, and closed
    # by the escalation job once its source has stayed clear for the window.
    flapping: Mapped[bool] = mapped_column(default=False)
    source_state: Mapped[str] = mapped_column(sa.String(16))
    source_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    trade: Mapped[str] = mapped_column(sa.String(16))
    work_order_trade: Mapped[str | None] = mapped_column(sa.String(16))
    work_order_urgency: Mapped[str | None] = mapped_column(sa.String(16))
    # Grouping: alarms of one type in one building (or property) within a window
    # share the group of the first, which alone is paged.
    group_key: Mapped[str] = mapped_column(sa.String(200))
    group_id: Mapped[int | None] = mapped_column()
    paged: Mapped[bool] = mapped_column(default=False)
    silence_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alarm_silences.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class AlarmChange(Base):
    """Each raise and clear event, once: the key makes a repeated batch a no-op."""

    __tablename__ = "alarm_changes"
    __audited__ = False

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    alarm_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(sa.String(16))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class AlarmAction(Base):
    """A local action a gateway took (close a valve, release doors) and its check."""

    __tablename__ = "alarm_actions"
    __audited__ = False

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.Integer())
    property_id: Mapped[int | None] = mapped_column(_property_fk())
    alarm_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(64))
    trigger_type: Mapped[str] = mapped_column(sa.String(64))
    trigger_device: Mapped[str] = mapped_column(sa.String(64))
    verified: Mapped[bool] = mapped_column()
    detail: Mapped[str] = mapped_column(sa.String(1000))
    latency_ms: Mapped[int] = mapped_column()
    attempt: Mapped[int] = mapped_column()
    ts: Mapped[datetime] = mapped_column(UtcDateTime())


class AlarmSilence(Base):
    """A maintenance window: matching alarms are recorded but nobody is paged.

    Matches alarms of its property, narrowed to one building, piece of equipment
    or alarm type when those are set."""

    __tablename__ = "alarm_silences"
    __table_args__ = (sa.Index("ix_alarm_silences_window", "property_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(_property_fk())
    building_id: Mapped[int | None] = mapped_column()
    equipment_id: Mapped[int | None] = mapped_column()
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    alarm_type: Mapped[str | None] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class OnCallRota(Base):
    """Who is on call for one trade in one property: ``members`` (user ids) take
    shifts of ``shift_hours`` in turn, the first from ``starts_at``."""

    __tablename__ = "on_call_rotas"
    __table_args__ = (sa.Index("ix_on_call_rotas_trade", "property_id", "trade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(_property_fk())
    trade: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    members: Mapped[list[int]] = mapped_column(JSON_DATA)
    shift_hours: Mapped[int] = mapped_column()
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class EscalationPolicy(Base):
    """The steps of paging for one trade (or every trade, when null) in a property.

    ``steps``: ``[{"after_s", "user_ids", "rota_ids", "on_call"}]``, each fired
    ``after_s`` seconds after the alarm paged; after the last, the cycle starts
    again ``repeat_interval_s`` later, ``repeat`` times.
    """

    __tablename__ = "escalation_policies"
    __table_args__ = (sa.Index("ix_escalation_policies_trade", "property_id", "trade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(_property_fk())
    trade: Mapped[str | None] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DATA)
    repeat: Mapped[int] = mapped_column(default=0)
    repeat_interval_s: Mapped[int] = mapped_column(default=600)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class AlarmEscalation(Base):
    """Where the paging of one alarm stands: the next step and when it is due."""

    __tablename__ = "alarm_escalations"
    __audited__ = False
    __table_args__ = (sa.Index("ix_alarm_escalations_due", "state", "next_at"),)

    alarm_id: Mapped[int] = mapped_column(
        sa.ForeignKey("alarms.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DATA)
    repeat: Mapped[int] = mapped_column()
    repeat_interval_s: Mapped[int] = mapped_column()
    paged_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cycle: Mapped[int] = mapped_column(default=0)
    next_step: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(sa.String(16))  # running, done, cancelled
    notified: Mapped[list[int]] = mapped_column(JSON_DATA)  # users told "firing"


class PushSubscription(Base):
    """Where one user is told of alarms: a Web Push subscription (its JSON), a
    webhook URL or an apprise URL."""

    __tablename__ = "push_subscriptions"
    __audit_redact__ = frozenset({"target"})

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.Integer())
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(16))
    target: Mapped[str] = mapped_column(sa.Text())
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)


class AlarmRuleSet(Base):
    """One version of a property's alarm rules (the gateway's rule-set document)
    and its alarm type → trade overrides; each change is a new version."""

    __tablename__ = "alarm_rule_sets"
    __table_args__ = (sa.UniqueConstraint("property_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(_property_fk())
    version: Mapped[int] = mapped_column()
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DATA)
    trades: Mapped[dict[str, str]] = mapped_column(JSON_DATA)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
