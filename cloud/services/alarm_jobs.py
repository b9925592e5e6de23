"""The periodic task that moves alarm escalations on, in each API process.

Several processes may run it at once: on PostgreSQL each claims the due
escalations with ``FOR UPDATE SKIP LOCKED``, and every notice's outbox key makes a
second enqueue of the same step a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from cloud.services import alarms

logger = logging.getLogger(__name__)

ESCALATION_INTERVAL_S = 5.0


def escalate_once(sessions: sessionmaker[Session], now: datetime) -> int:
    with sessions() as session, session.begin():
        return alarms.run_due(session, now)


async def escalate_alarms(
    sessions: sessionmaker[Session],
    wake_outbox: Callable[[], None],
    *,
    interval_s: float = ESCALATION_INTERVAL_S,
) -> None:
    """Run ``alarms.run_due`` every ``interval_s`` until cancelled."""
    while True:
        try:
            touched = await asyncio.to_thread(
                escalate_once, sessions, datetime.now(UTC)
            )
        except Exception:  # a database outage must not end escalation for good
            logger.exception("alarm escalation: a run failed")
            touched = 0
        if touched:
            wake_outbox()
        await asyncio.sleep(interval_s)
