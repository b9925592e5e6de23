"""Enqueue messages in the caller's transaction; deliver them, with retries, once.

``enqueue`` adds an ``OutboxMessage`` in the session of the change that causes it
(an alarm raised, a notice published, a reminder due); nothing is sent until that
transaction commits. ``OutboxWorker`` delivers due messages through the channel
senders (``cloud.services.channels``): each attempt updates the row, so the row is
the delivery record per recipient: sent, or failed and why.

Several workers may run (one per API process): on PostgreSQL a message is claimed
with ``FOR UPDATE SKIP LOCKED``; a claim is a lease, so a message whose worker died
is picked up again once its lease runs out. A message may thus, rarely, be sent
twice; receivers dedupe on the ``X-PAMS-Message`` id, which never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import is_postgresql
from cloud.models import OutboxMessage

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
CLAIM_LEASE = timedelta(seconds=60)
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0


class DeliveryError(Exception):
    """A delivery failed. ``permanent`` failures (a 4xx, a gone subscription) are not
    retried; the message is marked dead with the reason."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, message: Delivery) -> None:
        """Deliver or raise ``DeliveryError``."""


@dataclass(frozen=True)
class Delivery:
    """What a sender gets: a detached copy of the row."""

    id: int
    channel: str
    recipient: str
    target: str
    topic: str
    payload: dict[str, Any]
    attempt: int


def enqueue(
    session: Session,
    *,
    organization_id: int,
    channel: str,
    recipient: str,
    target: str,
    topic: str,
    payload: dict[str, Any],
    dedup_key: str,
    max_attempts: int = 8,
) -> int | None:
    """Add a message to deliver when the session commits; returns its id, or None
    if ``dedup_key`` was enqueued before (one message per recipient, once)."""
    now = datetime.now(UTC)
    values = {
        "organization_id": organization_id,
        "channel": channel,
        "recipient": recipient,
        "target": target,
        "topic": topic,
        "payload": payload,
        "dedup_key": dedup_key,
        "status": PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": now,
        "created_at": now,
    }
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage.id)
    )
    new_id = session.execute(statement).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def deliveries(session: Session, topic: str) -> list[OutboxMessage]:
    """Every message of one topic (an alarm, a notice), oldest first."""
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.topic == topic)
            .order_by(OutboxMessage.id)
        )
    )


def backoff(attempt: int) -> timedelta:
    """Jittered exponential backoff: full jitter over base × 2^(attempt-1), capped."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


class OutboxWorker:
    """Delivers due messages until cancelled; ``wake()`` makes it look at once."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        senders: Mapping[str, Sender],
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 50,
    ) -> None:
        self._sessions = session_factory
        self._senders = senders
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Safe from any thread (request handlers run in a thread pool)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    async def run(self) -> None:
        # The event belongs to the loop that runs the worker (an app may be started
        # in several loops over its life, as test clients do).
        self._loop = asyncio.get_running_loop()
        self._wakeup = wakeup = asyncio.Event()
        while True:
            wakeup.clear()
            try:
                claimed = await asyncio.to_thread(self._claim)
            except Exception:  # a database outage must not end delivery for good
                logger.exception("outbox: claiming messages failed")
                claimed = []
            if claimed:
                await asyncio.gather(*(self._deliver(m) for m in claimed))
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await wakeup.wait()

    async def drain_once(self) -> int:
        """Deliver what is due now, once; returns how many were tried (for tests)."""
        claimed = await asyncio.to_thread(self._claim)
        await asyncio.gather(*(self._deliver(m) for m in claimed))
        return len(claimed)

    def _claim(self) -> list[Delivery]:
        """Take up to a batch of due messages with one atomic UPDATE … RETURNING."""
        now = datetime.now(UTC)
        due = (
            sa.select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_((PENDING, SENDING)),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(self._batch_size)
        )
        with self._sessions() as session, session.begin():
            if is_postgresql(session):
                due = due.with_for_update(skip_locked=True)
            claimed = session.execute(
                sa.update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(due.scalar_subquery()),
                    # re-checked in the UPDATE itself: SQLite has no row locks
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(
                    status=SENDING,
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + CLAIM_LEASE,
                )
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.channel,
                    OutboxMessage.recipient,
                    OutboxMessage.target,
                    OutboxMessage.topic,
                    OutboxMessage.payload,
                    OutboxMessage.attempts,
                )
                .execution_options(synchronize_session=False)
            ).all()
        return [
            Delivery(
                id=row.id,
                channel=row.channel,
                recipient=row.recipient,
                target=row.target,
                topic=row.topic,
                payload=dict(row.payload),
                attempt=row.attempts,
            )
            for row in claimed
        ]

    async def _deliver(self, delivery: Delivery) -> None:
        sender = self._senders.get(delivery.channel)
        error: DeliveryError | None = None
        if sender is None:
            error = DeliveryError(
                f"no sender for channel {delivery.channel!r}", permanent=True
            )
        else:
            try:
                await sender.send(delivery)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a sender bug is a failed delivery, recorded
                logger.exception("outbox: %s sender failed", delivery.channel)
                error = DeliveryError(f"{type(exc).__name__}: {exc}")
        await asyncio.to_thread(self._record, delivery, error)

    def _record(self, delivery: Delivery, error: DeliveryError | None) -> None:
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            row = session.get(OutboxMessage, delivery.id)
            if row is None:
                return
            if error is None:
                row.status, row.sent_at, row.last_error = SENT, now, None
                logger.debug(
                    "outbox: %s to %s sent", delivery.topic, delivery.recipient
                )
                return
            row.last_error = str(error)[:512]
            if error.permanent or row.attempts >= row.max_attempts:
                row.status = DEAD
                logger.warning(
                    "outbox: %s to %s via %s given up after %d attempts: %s",
                    delivery.topic,
                    delivery.recipient,
                    delivery.channel,
                    row.attempts,
                    error,
                )
            else:
                row.status = PENDING
                row.next_attempt_at = now + backoff(row.attempts)


def pending_count(session: Session, channels: Sequence[str] | None = None) -> int:
    query = sa.select(sa.func.count()).where(
        OutboxMessage.status.in_((PENDING, SENDING))
    )
    if channels:
        query = query.where(OutboxMessage.channel.in_(channels))
    return int(session.scalar(query) or 0)
