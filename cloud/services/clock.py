"""Re-dating what a gateway recorded before its wall clock could be trusted.

A gateway without a real-time clock boots with a time from the past and flags the
records it takes until its clock is confirmed (``clock_trusted = false``). Every record
also carries its boot id and monotonic time. Within one boot, wall time minus
monotonic time is a constant once the clock is right; any trusted record gives it.
The cloud keeps that offset per boot (``gateway_boots``) and re-dates the boot's
untrusted records with it: ``ts = monotonic + offset``, keeping the gateway's own time
in ``reported_ts``. Records whose boot offset is not known yet are quarantined (left
undated and kept out of time-range queries) and re-dated when it becomes known.
Nothing is re-ordered: sequence numbers stay as the gateway gave them.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cloud.models import EventRow, GatewayBoot, ReadingRow
from sync.schema import Batch

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STEP_US = 1_000_000  # NTP slews within this; a larger change is a new offset


def _offset_us(ts: datetime, mono_ns: int) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1) - mono_ns // 1000


def reconcile(session: Session, batch: Batch) -> None:
    """Learn boot offsets from a batch; re-date or quarantine its untrusted records."""
    records = list(itertools.chain(batch.readings, batch.events))
    untrusted = Counter(r.boot_id for r in records if not r.clock_trusted)
    learned: dict[str, int] = {}
    for record in reversed(records):  # the newest trusted record of each boot
        if record.clock_trusted and record.boot_id not in learned:
            learned[record.boot_id] = _offset_us(record.ts, record.mono_ns)
    if not untrusted and not learned:
        return
    boots = _boots(session, batch.gateway_id, set(untrusted) | set(learned))
    for boot_id, offset in learned.items():
        boot = boots[boot_id]
        if boot.offset_us is None or abs(boot.offset_us - offset) > STEP_US:
            boot.offset_us = offset  # new, or the clock was stepped since
            boot.updated_at = datetime.now(UTC)
        if boot.quarantined:
            boot.corrected += _redate(session, batch.gateway_id, boot_id, offset)
            boot.quarantined = 0
    for boot_id, count in untrusted.items():
        boot = boots[boot_id]
        if boot.offset_us is not None:
            boot.corrected += _redate(
                session, batch.gateway_id, boot_id, boot.offset_us
            )
        else:
            boot.quarantined += count
            logger.info(
                "%s boot %s: %d records quarantined until its clock is known",
                batch.gateway_id,
                boot_id,
                count,
            )


def _boots(
    session: Session, gateway_id: str, boot_ids: set[str]
) -> dict[str, GatewayBoot]:
    found = {
        boot.boot_id: boot
        for boot in session.scalars(
            sa.select(GatewayBoot).where(
                GatewayBoot.gateway_id == gateway_id, GatewayBoot.boot_id.in_(boot_ids)
            )
        )
    }
    for boot_id in boot_ids - set(found):
        found[boot_id] = GatewayBoot(
            gateway_id=gateway_id,
            boot_id=boot_id,
            quarantined=0,
            corrected=0,
            updated_at=datetime.now(UTC),
        )
        session.add(found[boot_id])
    return found


def _redate(session: Session, gateway_id: str, boot_id: str, offset_us: int) -> int:
    """Give the boot's undated records their time from the monotonic clock."""
    rows: list[ReadingRow | EventRow] = [
        *_undated(session, ReadingRow, gateway_id, boot_id),
        *_undated(session, EventRow, gateway_id, boot_id),
    ]
    for row in rows:
        row.reported_ts = row.ts
        row.ts = EPOCH + timedelta(microseconds=row.mono_ns // 1000 + offset_us)
    if rows:
        logger.info("%s boot %s: %d records re-dated", gateway_id, boot_id, len(rows))
    return len(rows)


Record = TypeVar("Record", ReadingRow, EventRow)


def _undated(
    session: Session, model: type[Record], gateway_id: str, boot_id: str
) -> list[Record]:
    return list(
        session.scalars(
            sa.select(model).where(
                model.gateway_id == gateway_id,
                model.boot_id == boot_id,
                sa.not_(model.clock_trusted),
                model.reported_ts.is_(None),
            )
        )
    )


def clock_state(clock_trusted: bool, reported_ts: datetime | None) -> str:
    """How a record's ``ts`` came to be: trusted, corrected, or quarantined."""
    if clock_trusted:
        return "trusted"
    return "corrected" if reported_ts is not None else "quarantined"
