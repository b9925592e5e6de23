"""Reading back what gateways sent, always within the caller's organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Device, DevicePoint, EventRow, GapRow, Gateway, ReadingRow
from cloud.services.gateways import get_gateway


def list_devices(
    session: Session, organization_id: int, gateway_id: str | None = None
) -> list[Device]:
    query = (
        sa.select(Device)
        .join(Gateway, Gateway.id == Device.gateway_id)
        .where(Gateway.organization_id == organization_id)
        .order_by(Device.gateway_id, Device.device_id)
    )
    if gateway_id is not None:
        query = query.where(Device.gateway_id == gateway_id)
    return list(session.scalars(query))


def latest_readings(
    session: Session, organization_id: int, gateway_id: str, device_id: str
) -> list[ReadingRow]:
    """The newest reading of each point of one device (by sample time, then seq)."""
    get_gateway(session, organization_id, gateway_id)
    query = (
        sa.select(ReadingRow)
        .join(
            DevicePoint,
            sa.and_(
                DevicePoint.gateway_id == ReadingRow.gateway_id,
                DevicePoint.last_seq == ReadingRow.seq,
            ),
        )
        .where(DevicePoint.gateway_id == gateway_id, DevicePoint.device_id == device_id)
        .order_by(DevicePoint.point)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class ReadingQuery:
    """One point of one device over [start, end), oldest first."""

    gateway_id: str
    device_id: str
    point: str
    start: datetime | None = None
    end: datetime | None = None
    skip: int = 0
    limit: int = 1000


def readings_in_range(
    session: Session, organization_id: int, query: ReadingQuery
) -> tuple[list[ReadingRow], int]:
    get_gateway(session, organization_id, query.gateway_id)
    conditions = [
        ReadingRow.gateway_id == query.gateway_id,
        ReadingRow.device_id == query.device_id,
        ReadingRow.point == query.point,
    ]
    if query.start is not None:
        conditions.append(ReadingRow.ts >= query.start)
    if query.end is not None:
        conditions.append(ReadingRow.ts < query.end)

    count = session.scalar(sa.select(sa.func.count()).where(*conditions)) or 0
    rows = session.scalars(
        sa.select(ReadingRow)
        .where(*conditions)
        .order_by(ReadingRow.ts, ReadingRow.seq)
        .offset(query.skip)
        .limit(query.limit)
    )
    return list(rows), count


@dataclass(frozen=True)
class GatewayStatistics:
    readings: int
    events: int
    gaps_records: int
    max_seq: int | None
    last_seen_at: datetime | None
    rejected_batches: int
    last_rejection: str | None
    events_by_kind: dict[str, int]


def gateway_stats(
    session: Session, organization_id: int, gateway_id: str
) -> GatewayStatistics:
    gateway = get_gateway(session, organization_id, gateway_id)
    readings, reading_max = session.execute(
        sa.select(sa.func.count(), sa.func.max(ReadingRow.seq)).where(
            ReadingRow.gateway_id == gateway_id
        )
    ).one()
    events, event_max = session.execute(
        sa.select(sa.func.count(), sa.func.max(EventRow.seq)).where(
            EventRow.gateway_id == gateway_id
        )
    ).one()
    gap_records, gap_max = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(GapRow.last_seq - GapRow.first_seq + 1), 0),
            sa.func.max(GapRow.last_seq),
        ).where(GapRow.gateway_id == gateway_id)
    ).one()
    by_kind = session.execute(
        sa.select(EventRow.kind, sa.func.count())
        .where(EventRow.gateway_id == gateway_id)
        .group_by(EventRow.kind)
    ).all()
    maxima = [m for m in (reading_max, event_max, gap_max) if m is not None]
    return GatewayStatistics(
        readings=int(readings),
        events=int(events),
        gaps_records=int(gap_records),
        max_seq=max(maxima) if maxima else None,
        last_seen_at=gateway.last_seen_at,
        rejected_batches=gateway.rejected_batches,
        last_rejection=gateway.last_rejection,
        events_by_kind={str(kind): int(n) for kind, n in by_kind},
    )
