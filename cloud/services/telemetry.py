"""Reading back what gateways sent, within the caller's scope: telemetry belongs to
the property of the gateway that sent it (``telemetry:read``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import Device, DevicePoint, EventRow, GapRow, Gateway, ReadingRow
from cloud.services.access import Permission, Scope
from cloud.services.records import Page, fetch_page


def _readable_gateway(session: Session, scope: Scope, gateway_id: str) -> Gateway:
    return scope.get(session, Gateway, gateway_id, permission=Permission.TELEMETRY_READ)


def list_devices(
    session: Session, scope: Scope, page: Page, gateway_id: str | None = None
) -> tuple[list[Device], int]:
    scope.require(Permission.TELEMETRY_READ)
    query = scope.visible(Device).order_by(Device.gateway_id, Device.device_id)
    if gateway_id is not None:
        query = query.where(Device.gateway_id == gateway_id)
    return fetch_page(session, query, page)


def latest_readings(
    session: Session, scope: Scope, gateway_id: str, device_id: str
) -> list[ReadingRow]:
    """The newest reading of each point of one device (by sample time, then seq)."""
    _readable_gateway(session, scope, gateway_id)
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
    include_quarantined: bool = False


def readings_in_range(
    session: Session, scope: Scope, query: ReadingQuery
) -> tuple[list[ReadingRow], int]:
    _readable_gateway(session, scope, query.gateway_id)
    conditions = [
        ReadingRow.gateway_id == query.gateway_id,
        ReadingRow.device_id == query.device_id,
        ReadingRow.point == query.point,
    ]
    if query.start is not None:
        conditions.append(ReadingRow.ts >= query.start)
    if query.end is not None:
        conditions.append(ReadingRow.ts < query.end)
    if not query.include_quarantined:
        # Undated records (taken before the gateway's clock was known) have no
        # place on a time axis until their boot's clock offset is learned.
        conditions.append(
            sa.or_(ReadingRow.clock_trusted, ReadingRow.reported_ts.is_not(None))
        )

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


def gateway_stats(session: Session, scope: Scope, gateway_id: str) -> GatewayStatistics:
    gateway = scope.get(session, Gateway, gateway_id)
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


@dataclass(frozen=True)
class GatewayIntegrity:
    """What the cloud holds of a gateway's sequence, for store-and-forward audits."""

    upto: int
    stored_records: int
    reported_gaps: int
    missing: int
    missing_ranges: list[tuple[int, int]]
    overlapping: int
    duplicate_readings: int


def gateway_integrity(
    session: Session, scope: Scope, gateway_id: str, upto: int
) -> GatewayIntegrity:
    """Which of the seqs 1..``upto`` the cloud has, as records or as declared gaps.

    ``missing`` counts seqs that are neither stored nor declared dropped (lost in
    transit); ``overlapping`` counts seqs held twice (as a record and in a gap, or in
    two gaps); ``duplicate_readings`` counts extra copies of a reading of one device
    point at one timestamp under different seqs.
    """
    scope.get(session, Gateway, gateway_id)
    islands = _stored_islands(session, gateway_id, upto)
    gaps = [
        (int(first), int(min(last, upto)))
        for first, last in session.execute(
            sa.select(GapRow.first_seq, GapRow.last_seq)
            .where(GapRow.gateway_id == gateway_id, GapRow.first_seq <= upto)
            .order_by(GapRow.first_seq)
        )
    ]
    covered = sorted(islands + gaps)
    missing_ranges, overlapping, cursor = [], 0, 1
    for first, last in covered:
        if first > cursor:
            missing_ranges.append((cursor, first - 1))
        overlapping += max(0, min(last, cursor - 1) - first + 1)
        cursor = max(cursor, last + 1)
    if cursor <= upto:
        missing_ranges.append((cursor, upto))
    return GatewayIntegrity(
        upto=upto,
        stored_records=sum(last - first + 1 for first, last in islands),
        reported_gaps=sum(last - first + 1 for first, last in gaps),
        missing=sum(last - first + 1 for first, last in missing_ranges),
        missing_ranges=missing_ranges[:100],
        overlapping=overlapping,
        duplicate_readings=_duplicate_readings(session, gateway_id),
    )


def _stored_islands(
    session: Session, gateway_id: str, upto: int
) -> list[tuple[int, int]]:
    """Runs of consecutive seqs stored as readings or events (gaps and islands)."""
    seqs = sa.union_all(
        sa.select(ReadingRow.seq.label("seq")).where(
            ReadingRow.gateway_id == gateway_id, ReadingRow.seq <= upto
        ),
        sa.select(EventRow.seq.label("seq")).where(
            EventRow.gateway_id == gateway_id, EventRow.seq <= upto
        ),
    ).subquery()
    numbered = sa.select(
        seqs.c.seq,
        (seqs.c.seq - sa.func.row_number().over(order_by=seqs.c.seq)).label("island"),
    ).subquery()
    rows = session.execute(
        sa.select(sa.func.min(numbered.c.seq), sa.func.max(numbered.c.seq))
        .group_by(numbered.c.island)
        .order_by(sa.func.min(numbered.c.seq))
    )
    return [(int(first), int(last)) for first, last in rows]


def _duplicate_readings(session: Session, gateway_id: str) -> int:
    groups = (
        sa.select(sa.func.count().label("copies"))
        .where(ReadingRow.gateway_id == gateway_id)
        .group_by(ReadingRow.device_id, ReadingRow.point, ReadingRow.ts)
        .having(sa.func.count() > 1)
        .subquery()
    )
    extra = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(groups.c.copies - 1), 0))
    ).scalar_one()
    return int(extra)
