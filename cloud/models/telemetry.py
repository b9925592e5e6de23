"""What gateways send: readings, events and declared gaps, keyed by (gateway, seq).

The primary key on ``(gateway_id, seq)`` is what makes ingest idempotent: a batch sent
twice inserts nothing the second time.

The three record tables have no foreign key to ``gateways``: checking one costs more
than all the rest of a PostgreSQL COPY (about 8 µs a row), and ingest writes only the
id of the gateway whose token it has just verified. History outlives a gateway row.

None of them is audited: they are what gateways measured, written only by ingest.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base, ExactDecimal, UtcDateTime, utc_now


def _gateway_fk() -> sa.ForeignKey:
    return sa.ForeignKey("gateways.id", ondelete="CASCADE")


def _untrusted_index(table: str) -> sa.Index:
    where = sa.text("NOT clock_trusted AND reported_ts IS NULL")
    return sa.Index(
        f"ix_{table}_untrusted_clock",
        "gateway_id",
        "boot_id",
        postgresql_where=where,
        sqlite_where=where,
    )


class ReadingRow(Base):
    __tablename__ = "readings"
    __audited__ = False
    __table_args__ = (
        sa.Index("ix_readings_series", "gateway_id", "device_id", "point", "ts"),
        _untrusted_index("readings"),
    )

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(64))
    point: Mapped[str] = mapped_column(sa.String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    text: Mapped[str | None] = mapped_column(sa.String(256))
    unit: Mapped[str | None] = mapped_column(sa.String(16))
    quality: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(512))
    boot_id: Mapped[str] = mapped_column(sa.String(64))
    mono_ns: Mapped[int] = mapped_column(sa.BigInteger())
    clock_trusted: Mapped[bool] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set when the cloud re-dated the record: the time the gateway's untrusted clock
    # gave it. An untrusted record with no reported_ts is quarantined (undated).
    reported_ts: Mapped[datetime | None] = mapped_column(UtcDateTime())


class EventRow(Base):
    __tablename__ = "events"
    __audited__ = False
    __table_args__ = (
        sa.Index("ix_events_device", "gateway_id", "device_id", "ts"),
        _untrusted_index("events"),
    )

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(64))
    priority: Mapped[int] = mapped_column(sa.SmallInteger())
    data: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    )
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    boot_id: Mapped[str] = mapped_column(sa.String(64))
    mono_ns: Mapped[int] = mapped_column(sa.BigInteger())
    clock_trusted: Mapped[bool] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set when the cloud re-dated the record: the time the gateway's untrusted clock
    # gave it. An untrusted record with no reported_ts is quarantined (undated).
    reported_ts: Mapped[datetime | None] = mapped_column(UtcDateTime())


class GapRow(Base):
    """Sequence numbers [first_seq, last_seq] the gateway dropped and said so."""

    __tablename__ = "gaps"
    __audited__ = False

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    first_seq: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger())
    reason: Mapped[str] = mapped_column(sa.String(256))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Device(Base):
    """A device some gateway has reported, kept current by ingest."""

    __tablename__ = "devices"
    __audited__ = False

    gateway_id: Mapped[str] = mapped_column(
        sa.String(64), _gateway_fk(), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_ts: Mapped[datetime] = mapped_column(UtcDateTime())


class DevicePoint(Base):
    """Each point of a device, pointing at its newest reading.

    Kept by ingest so that "latest per point" reads one row per point instead of
    ranking a device's whole history.
    """

    __tablename__ = "device_points"
    __audited__ = False
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["gateway_id", "device_id"],
            ["devices.gateway_id", "devices.device_id"],
            ondelete="CASCADE",
        ),
    )

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    point: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_ts: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seq: Mapped[int] = mapped_column(sa.BigInteger())


class GatewayBoot(Base):
    """What the cloud knows of one boot of a gateway: wall minus monotonic time.

    Any record taken with a trusted clock gives the offset of its boot; records of
    the same boot taken before the clock was trusted are re-dated from their
    monotonic time with it. Until the offset is known they are quarantined.
    """

    __tablename__ = "gateway_boots"
    __audited__ = False

    gateway_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    boot_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    offset_us: Mapped[int | None] = mapped_column(sa.BigInteger())
    quarantined: Mapped[int] = mapped_column(default=0, server_default="0")
    corrected: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
