"""The gateway agent: polls devices, commits to the buffer, forwards to the cloud.

Three kinds of tasks share one event loop:

- one poll loop per polled device, on its own interval from the monotonic clock (a
  bus serialises the devices that share it, so a slow device delays only its bus);
- the writer, which commits what the poll loops took every few milliseconds, so a
  crash loses at most the poll cycle in flight;
- the uplink, which sends the oldest unsent range and forgets it only when the cloud
  acknowledged that exact batch.

Stopping is two-phase: polling stops first, then the uplink drains the buffer for up
to ``drain_timeout_s`` (records that do not make it stay buffered for the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from drivers.types import DeviceEvent, Reading
from edge.alarms import AlarmEngine
from edge.buffer import Buffer, BufferFullError, NewRecord
from edge.clock import WallClockGuard, current_boot_id
from edge.config import SiteConfig
from edge.metrics import GatewayMetrics
from edge.records import event_row, reading_row
from edge.uplink import Uplink

logger = logging.getLogger(__name__)

BOUNDS_CHECK_S = 5.0


class PolledDevice(Protocol):
    """What a poll loop needs of a device; the Modbus driver's devices are this."""

    device_id: str

    @property
    def online(self) -> bool: ...

    async def poll(self) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class PollTarget:
    device: PolledDevice
    protocol: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run of the gateway did, written to ``last_run.json`` on exit."""

    readings_committed: int
    events_committed: int
    records_synced: int
    readings_synced: int
    records_evicted: int
    records_set_aside: int
    buffer_depth: int
    last_seq: int
    drained: bool


class Gateway:
    def __init__(
        self,
        config: SiteConfig,
        *,
        metrics: GatewayMetrics | None = None,
        clock: WallClockGuard | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or GatewayMetrics()
        self.clock = clock or WallClockGuard()
        self.boot_id = current_boot_id()
        data_dir = config.gateway.data_dir
        self.buffer = Buffer(
            data_dir / "buffer.db",
            boot_id=self.boot_id,
            max_bytes=config.buffer.max_bytes,
            max_age_s=config.buffer.max_age_days * 86400,
            synchronous=config.buffer.synchronous,
        )
        self._pending: list[NewRecord] = []
        self._new_data = asyncio.Event()
        self._committed = {"reading": 0, "event": 0}
        self.uplink = Uplink(
            gateway_id=config.gateway.id,
            cloud=config.cloud,
            buffer=self.buffer,
            metrics=self.metrics,
            new_data=self._new_data,
        )
        self._stop_polling = asyncio.Event()
        self._protocols: dict[str, str] = {}
        self.modbus_devices: dict[str, PolledDevice] = {}
        self.door_buses: dict[str, Any] = {}
        self.mqtt: Any = None
        self.metrics.last_seq.set(self.buffer.last_seq)
        self.alarms = AlarmEngine.from_site(
            config, emit=self._record, targets=self, registry=self.metrics.registry
        )

    # --- what drivers report -----------------------------------------------------

    def publish(self, items: Sequence[Reading | DeviceEvent]) -> None:
        """Take readings and events from a poll or a push driver (the DeviceSink)."""
        self._record(self.alarms.observe(items))

    def _record(self, items: Sequence[Reading | DeviceEvent]) -> None:
        """Queue items for the buffer; an alarm among them is committed at once."""
        clock = self.clock.sample()
        urgent = False
        for item in items:
            if isinstance(item, Reading):
                self._pending.append(reading_row(item, clock))
            else:
                self._pending.append(event_row(item, clock))
                urgent = urgent or item.alarm
        if urgent:
            self._flush()

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        protocol = self._protocols.get(device_id, "unknown")
        self.metrics.device_online.labels(device_id, protocol).set(1 if online else 0)
        self.alarms.set_online(device_id, online, reason)

    # --- running -----------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, *, drain_timeout_s: float = 30.0
    ) -> RunSummary:
        async with self._devices() as targets, self.alarms:
            writer = asyncio.create_task(self._writer(), name="edge-writer")
            uplink = asyncio.create_task(self.uplink.run(), name="edge-uplink")
            polls = [
                asyncio.create_task(
                    self._poll_loop(t), name=f"poll-{t.device.device_id}"
                )
                for t in targets
            ]
            await stop.wait()
            logger.info(
                "stopping: polling ends, the buffer drains for up to %s s",
                drain_timeout_s,
            )
            self._stop_polling.set()
            for task in polls:
                task.cancel()
            await asyncio.gather(*polls, return_exceptions=True)
        self._flush()
        drained = await self._drain(uplink, drain_timeout_s)
        writer.cancel()
        uplink.cancel()
        await asyncio.gather(writer, uplink, return_exceptions=True)
        self._flush()
        summary = self._summary(drained)
        self._write_summary(summary)
        self.buffer.close()
        return summary

    @contextlib.asynccontextmanager
    async def _devices(self) -> AsyncIterator[list[PollTarget]]:
        """Open every configured bus and connector; yields the devices to poll."""
        async with contextlib.AsyncExitStack() as stack:
            targets = await self._open_modbus(stack)
            await self._open_push(stack)
            yield targets

    async def _open_modbus(self, stack: contextlib.AsyncExitStack) -> list[PollTarget]:
        from drivers.modbus import ModbusRtuBus, ModbusTcpBus, load_profile

        targets: list[PollTarget] = []
        for tcp in self.config.modbus_tcp:
            bus = await stack.enter_async_context(
                ModbusTcpBus(
                    host=tcp.host,
                    port=tcp.port,
                    timeout_s=tcp.timeout_s,
                    backoff_base_s=tcp.backoff_base_s,
                    backoff_max_s=tcp.backoff_max_s,
                )
            )
            for dev in tcp.devices:
                device = bus.add_device(
                    dev.id,
                    dev.unit_id,
                    load_profile(dev.profile),
                    timeout_s=dev.timeout_s,
                )
                targets.append(PollTarget(device, "modbus-tcp", dev.poll_interval_s))
        for rtu in self.config.modbus_rtu:
            line = await stack.enter_async_context(
                ModbusRtuBus(
                    port=rtu.port,
                    baudrate=rtu.baudrate,
                    parity=rtu.parity,
                    stopbits=rtu.stopbits,
                    bytesize=rtu.bytesize,
                    timeout_s=rtu.timeout_s,
                    frame_gap_s=rtu.frame_gap_ms / 1000,
                    backoff_base_s=rtu.backoff_base_s,
                    backoff_max_s=rtu.backoff_max_s,
                )
            )
            for dev in rtu.devices:
                device = line.add_device(
                    dev.id,
                    dev.unit_id,
                    load_profile(dev.profile),
                    timeout_s=dev.timeout_s,
                )
                targets.append(PollTarget(device, "modbus-rtu", dev.poll_interval_s))
        for target in targets:
            self._protocols[target.device.device_id] = target.protocol
            self.modbus_devices[target.device.device_id] = target.device
        return targets

    async def _open_push(self, stack: contextlib.AsyncExitStack) -> None:
        """Start the drivers that report by themselves, with this gateway as sink."""
        if self.config.mqtt is not None:
            from drivers.mqtt import MqttConnector

            mqtt = self.config.mqtt
            for mqtt_device in mqtt.devices:
                self._mark_offline(mqtt_device.id, "mqtt")
            self.mqtt = await stack.enter_async_context(
                MqttConnector(
                    host=mqtt.host,
                    port=mqtt.port,
                    devices=[(d.id, d.profile, d.base_topic) for d in mqtt.devices],
                    sink=self,
                    client_id=f"pams-edge-{self.config.gateway.id}",
                    username=mqtt.username,
                    password=mqtt.password(),
                    tls=ssl.create_default_context(cafile=str(mqtt.ca_file))
                    if mqtt.ca_file
                    else None,
                )
            )
        if self.config.ble is not None:
            from drivers.ble import BleConnector, BleDeviceConfig, scanner_backend

            ble = self.config.ble
            for dev in ble.devices:
                self._mark_offline(dev.id, "ble")
            await stack.enter_async_context(
                BleConnector(
                    devices=[
                        BleDeviceConfig(
                            d.id,
                            d.profile,
                            d.address,
                            bytes.fromhex(d.bindkey) if d.bindkey else None,
                        )
                        for d in ble.devices
                    ],
                    sink=self,
                    backend=scanner_backend(ble.backend, ble.address),
                    watchdog_s=ble.watchdog_s,
                )
            )
        for line in self.config.osdp:
            from drivers.osdp import OsdpBus, ReaderConfig

            readers = []
            for reader in line.readers:
                self._mark_offline(reader.id, "osdp")
                entry: dict[str, Any] = {
                    "device_id": reader.id,
                    "address": reader.address,
                    "scbk": reader.scbk,
                    "profile": reader.profile,
                }
                if reader.held_open_s is not None:
                    entry["held_open_s"] = reader.held_open_s
                if reader.unlock_s is not None:
                    entry["unlock_s"] = reader.unlock_s
                readers.append(ReaderConfig.from_mapping(entry))
            bus = await stack.enter_async_context(
                OsdpBus(
                    port=line.port, baudrate=line.baudrate, readers=readers, sink=self
                )
            )
            for reader in line.readers:
                self.door_buses[reader.id] = bus

    def _mark_offline(self, device_id: str, protocol: str) -> None:
        self._protocols[device_id] = protocol
        self.metrics.device_online.labels(device_id, protocol).set(0)

    async def _poll_loop(self, target: PollTarget) -> None:
        device, interval = target.device, target.interval_s
        device_id = device.device_id
        next_at = time.monotonic()
        while not self._stop_polling.is_set():
            try:
                readings = await device.poll()
            except Exception:  # a driver bug must not silence the device for good
                logger.exception("%s: poll failed unexpectedly", device_id)
                readings = []
            self.publish(readings)
            self.metrics.polls.labels(device_id).inc()
            self.set_online(device_id, device.online)
            next_at += interval
            now = time.monotonic()
            if next_at < now:
                self.metrics.poll_overruns.labels(device_id).inc()
                next_at = now + interval - (now - next_at) % interval
            await asyncio.sleep(next_at - now)

    # --- buffer ------------------------------------------------------------------

    async def _writer(self) -> None:
        interval = self.config.buffer.commit_interval_ms / 1000
        bounds_checked = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            self._flush()
            if time.monotonic() - bounds_checked >= BOUNDS_CHECK_S:
                bounds_checked = time.monotonic()
                evicted = self.buffer.enforce_bounds()
                self.metrics.records_evicted.inc(evicted)

    def _flush(self) -> None:
        """Commit what the poll loops took; the one place records enter the buffer."""
        if not self._pending:
            return
        records, self._pending = self._pending, []
        try:
            self.buffer.append(records)
        except BufferFullError:
            logger.exception(
                "buffer full; %d records kept in memory for now", len(records)
            )
            self._pending[:0] = records
            return
        events = sum(1 for r in records if r.kind == 1)
        self._committed["event"] += events
        self._committed["reading"] += len(records) - events
        self.metrics.records_committed.labels("event").inc(events)
        self.metrics.records_committed.labels("reading").inc(len(records) - events)
        self.metrics.last_seq.set(self.buffer.last_seq)
        self._new_data.set()

    # --- uplink ------------------------------------------------------------------

    async def _drain(self, uplink: asyncio.Task[None], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if uplink.done():
                break
            self._flush()
            if self.buffer.next_batch(1) is None and not self._pending:
                return True
            await asyncio.sleep(0.05)
        return self.buffer.next_batch(1) is None and not self._pending

    # --- reporting ---------------------------------------------------------------

    def _summary(self, drained: bool) -> RunSummary:
        stats = self.buffer.stats()
        return RunSummary(
            readings_committed=self._committed["reading"],
            events_committed=self._committed["event"],
            records_synced=self.uplink.synced,
            readings_synced=self.uplink.readings_synced,
            records_evicted=stats.evicted_total,
            records_set_aside=stats.set_aside_total,
            buffer_depth=stats.depth,
            last_seq=stats.last_seq,
            drained=drained,
        )

    def _write_summary(self, summary: RunSummary) -> None:
        path = self.config.gateway.data_dir / "last_run.json"
        path.write_text(json.dumps(asdict(summary), indent=2), encoding="utf-8")
