"""Store-and-forward: send the buffer's oldest ranges, forget each when acknowledged.

Up to ``window`` batches are in flight at once (the next one is read and encoded while
the cloud stores the previous), always taken oldest first. A range leaves the buffer
only when the cloud acknowledged exactly that batch. Failures are sorted by kind:

- transient (network, 5xx, a token being rotated): the same batch is retried with
  jittered exponential backoff, capped so sending resumes within seconds of the cloud
  coming back;
- too large (413): the batch size is halved and the range re-read;
- refused (422): the range is bisected until the one refused record is found; it is
  set aside, reported as a gap, and the queue moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_random_exponential,
)

from edge.buffer import Batch, Buffer
from edge.config import CloudSection
from edge.metrics import GatewayMetrics
from edge.records import wire_record
from sync.schema import BatchAck, Command, HealthReport
from sync.uplink import (
    AckMismatchError,
    AuthError,
    BatchRejectedError,
    BatchTooLargeError,
    TransientError,
    UplinkClient,
    UplinkError,
    encode_batch,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    batch: Batch
    batch_id: str
    body: bytes
    readings: int


class Uplink:
    def __init__(
        self,
        *,
        gateway_id: str,
        cloud: CloudSection,
        buffer: Buffer,
        metrics: GatewayMetrics,
        new_data: asyncio.Event,
        window: int = 2,
    ) -> None:
        self.gateway_id = gateway_id
        self.cloud = cloud
        self.buffer = buffer
        self.metrics = metrics
        self.new_data = new_data
        self.window = window
        self.synced = 0
        self.readings_synced = 0
        self.on_commands: Callable[[list[Command]], None] | None = None
        self.on_server_time: Callable[[datetime], None] | None = None
        self.health_source: Callable[[], HealthReport] | None = None
        self._limit = cloud.batch_max_records
        self._depth_checked_at = 0.0
        self._client: UplinkClient | None = None
        self._token: str | None = None

    async def run(self) -> None:
        cloud = self.cloud
        ca = str(cloud.ca_file) if cloud.ca_file else True
        async with UplinkClient(
            base_url=cloud.url,
            token=self._token or cloud.token(),
            verify=ca,
            timeout_s=cloud.timeout_s,
        ) as client:
            self._client = client
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._health_loop(client), name="edge-health")
                while True:
                    await self._round(client)

    def set_token(self, token: str) -> None:
        """Use a rotated token from the next request on."""
        self._token = token
        if self._client is not None:
            self._client.set_token(token)

    async def _round(self, client: UplinkClient) -> None:
        """Send until the buffer is empty or a batch needs the range re-read."""
        inflight: dict[asyncio.Task[None], Batch] = {}
        cursor = 0
        try:
            while True:
                self._update_depth()
                while len(inflight) < self.window:
                    batch = self.buffer.next_batch(self._limit, after_seq=cursor)
                    if batch is None:
                        break
                    cursor = batch.last_seq
                    self.buffer.protected_upto = cursor
                    task = asyncio.create_task(self._send(client, batch))
                    inflight[task] = batch
                if not inflight:
                    await self._wait_for_data()
                    return
                done, _ = await asyncio.wait(
                    inflight, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    batch = inflight.pop(task)
                    if task.exception() is not None and self._refused(batch, task):
                        await self._finish(inflight)
                        return
        finally:
            for task in inflight:
                task.cancel()
            self.buffer.protected_upto = 0

    async def _finish(self, inflight: dict[asyncio.Task[None], Batch]) -> None:
        """Let the batches still in flight complete before the range is re-read."""
        if inflight:
            await asyncio.wait(inflight)
            for task, batch in list(inflight.items()):
                if task.exception() is not None:
                    self._refused(batch, task)
            inflight.clear()

    def _refused(self, batch: Batch, task: asyncio.Task[None]) -> bool:
        """Handle a batch the cloud will not take as it is; True to re-read."""
        exc = task.exception()
        if isinstance(exc, BatchTooLargeError):
            self._limit = max(1, len(batch.records) // 2)
            logger.warning(
                "cloud: batch too large (%s); sending %d at a time", exc, self._limit
            )
            return True
        if isinstance(exc, BatchRejectedError):
            if len(batch.records) > 1:
                self._limit = max(1, len(batch.records) // 2)
                logger.warning(
                    "cloud refused a batch (%s); narrowing to %d", exc, self._limit
                )
            else:
                self.buffer.set_aside([r.seq for r in batch.records], exc.detail)
                self.metrics.records_set_aside.inc(len(batch.records))
            return True
        raise exc  # type: ignore[misc]  # a bug: let the supervisor see it

    async def _wait_for_data(self) -> None:
        self.new_data.clear()
        # Not asyncio.wait_for: on Python 3.11 it drops a cancel that lands in the
        # same tick as the event, and the gateway would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.cloud.sync_interval_s):
                await self.new_data.wait()

    async def _send(self, client: UplinkClient, batch: Batch) -> None:
        encoded = await asyncio.to_thread(self._encode, batch)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(
                (TransientError, AuthError, AckMismatchError)
            ),
            wait=wait_random_exponential(
                multiplier=self.cloud.backoff_initial_s, max=self.cloud.backoff_max_s
            ),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                ack = await client.send(
                    encoded.body,
                    batch_id=encoded.batch_id,
                    first_seq=batch.first_seq,
                    last_seq=batch.last_seq,
                )
        self.buffer.ack(batch.first_seq, batch.last_seq)
        self._acknowledged(encoded, ack)

    def _encode(self, batch: Batch) -> EncodedBatch:
        readings: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for record in batch.records:
            is_reading, wire = wire_record(record)
            (readings if is_reading else events).append(wire)
        batch_id = f"{self.gateway_id}:{batch.first_seq}-{batch.last_seq}"
        body = encode_batch(
            gateway_id=self.gateway_id,
            batch_id=batch_id,
            first_seq=batch.first_seq,
            last_seq=batch.last_seq,
            readings=readings,
            events=events,
            gaps=[asdict(g) for g in batch.gaps],
        )
        return EncodedBatch(batch, batch_id, body, len(readings))

    def _acknowledged(self, encoded: EncodedBatch, ack: BatchAck) -> None:
        synced = len(encoded.batch.records)
        self.synced += synced
        self.readings_synced += encoded.readings
        self.metrics.records_synced.inc(synced)
        self.metrics.batches_sent.inc()
        self.metrics.cloud_reachable.set(1)
        self._limit = min(self.cloud.batch_max_records, self._limit * 2)
        if ack.duplicates:
            logger.info(
                "cloud already had %d of the %d records of %s (a retried batch)",
                ack.duplicates,
                synced,
                encoded.batch_id,
            )
        if ack.commands and self.on_commands is not None:
            self.on_commands(ack.commands)

    async def _health_loop(self, client: UplinkClient) -> None:
        """Report health every ``health_interval_s``; an idle gateway gets its
        commands this way too."""
        while self.health_source is not None:
            try:
                answer = await client.report_health(self.health_source())
            except UplinkError as exc:
                logger.debug("health report not delivered: %s", exc)
            else:
                if self.on_server_time is not None:
                    self.on_server_time(answer.server_time)
                if answer.commands and self.on_commands is not None:
                    self.on_commands(answer.commands)
            await asyncio.sleep(self.cloud.health_interval_s)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = type(exc).__name__ if exc else "unknown"
        self.metrics.uplink_failures.labels(reason).inc()
        self.metrics.cloud_reachable.set(0)
        log = logger.warning if state.attempt_number == 1 else logger.debug
        log("uplink: %s (attempt %d); retrying", exc, state.attempt_number)

    def _update_depth(self) -> None:
        now = time.monotonic()
        if now - self._depth_checked_at < 1.0:
            return
        self._depth_checked_at = now
        stats = self.buffer.stats()
        self.metrics.buffer_depth.set(stats.depth)
        age = 0.0
        if stats.oldest_ts_us is not None:
            age = max(0.0, time.time() - stats.oldest_ts_us / 1e6)
        self.metrics.oldest_unsent_age.set(age)
