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
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import Metric

from drivers.types import DeviceEvent, Reading
from edge.alarms import AlarmEngine
from edge.buffer import Buffer, BufferFullError, NewRecord
from edge.clock import WallClockGuard, current_boot_id
from edge.commands import (
    FAILED,
    SUCCEEDED,
    CommandRunner,
    confirm_config,
    roll_back_config,
)
from edge.config import SiteConfig, load_config
from edge.metrics import GatewayMetrics
from edge.records import event_row, reading_row
from edge.uplink import Uplink
from sync.schema import DeviceHealth, HealthReport

logger = logging.getLogger(__name__)

BOUNDS_CHECK_S = 5.0
TRIAL_FILE = "config_trial"
CLOCK_AGREEMENT_S = 2.0
CLOCK_DISAGREEMENT_S = 30.0


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
    restart: bool = False


class Gateway:
    def __init__(
        self,
        config: SiteConfig,
        *,
        metrics: GatewayMetrics | None = None,
        clock: WallClockGuard | None = None,
        site_path: Path | None = None,
    ) -> None:
        self.config = config
        self.site_path = site_path
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
        self._online: dict[str, bool] = {}
        self._last_error: dict[str, str | None] = {}
        self.modbus_devices: dict[str, PolledDevice] = {}
        self.door_buses: dict[str, Any] = {}
        self.mqtt: Any = None
        self.metrics.last_seq.set(self.buffer.last_seq)
        self.alarms = AlarmEngine.from_site(
            config, emit=self._record, targets=self, registry=self.metrics.registry
        )
        self._restart = asyncio.Event()
        self.trial: str | None = None  # the command id whose new config is on trial
        self.commands = CommandRunner(self)
        self.uplink.on_commands = self.commands.accept
        self.uplink.health_source = self.health_report
        self.uplink.on_server_time = self._check_clock

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
        self._online[device_id] = online
        if reason is not None or online:
            self._last_error[device_id] = None if online else reason
        protocol = self._protocols.get(device_id, "unknown")
        self.metrics.device_online.labels(device_id, protocol).set(1 if online else 0)
        self.alarms.set_online(device_id, online, reason)

    def request_restart(self, *, trial_command: str | None = None) -> None:
        """Stop and start again on the site file (a staged config is then on trial)."""
        if trial_command is not None and self.site_path is not None:
            self.site_path.with_name(TRIAL_FILE).write_text(
                trial_command, encoding="utf-8"
            )
            self.buffer.finish_command(trial_command, "trial")
        self._restart.set()

    def health_report(self) -> HealthReport:
        stats = self.buffer.stats()
        age = 0.0
        if stats.oldest_ts_us is not None:
            age = max(0.0, time.time() - stats.oldest_ts_us / 1e6)
        return HealthReport(
            gateway_id=self.config.gateway.id,
            sent_at=datetime.now(UTC),
            boot_id=self.boot_id,
            clock_trusted=self.clock.sample().trusted,
            buffer_depth=stats.depth,
            oldest_unsent_age_s=age,
            last_seq=stats.last_seq,
            evicted_total=stats.evicted_total,
            set_aside_total=stats.set_aside_total,
            devices=[
                DeviceHealth(
                    device_id=device_id,
                    protocol=protocol,
                    online=self._online.get(device_id, False),
                    last_error=self._last_error.get(device_id),
                )
                for device_id, protocol in sorted(self._protocols.items())
            ],
        )

    def _check_clock(self, server_time: datetime) -> None:
        """Trust the wall clock when it agrees with the cloud's; flag it when not."""
        offset = (datetime.now(UTC) - server_time).total_seconds()
        if abs(offset) <= CLOCK_AGREEMENT_S:
            self.clock.trust()
        elif abs(offset) > CLOCK_DISAGREEMENT_S:
            self.clock.distrust(f"wall clock is {offset:+.0f} s off the cloud's")

    # --- running -----------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, *, drain_timeout_s: float = 30.0
    ) -> RunSummary:
        try:
            async with self._devices() as targets, self.alarms:
                writer = asyncio.create_task(self._writer(), name="edge-writer")
                uplink = asyncio.create_task(self.uplink.run(), name="edge-uplink")
                polls = [
                    asyncio.create_task(
                        self._poll_loop(t), name=f"poll-{t.device.device_id}"
                    )
                    for t in targets
                ]
                if self.trial is not None:
                    polls.append(asyncio.create_task(self._watch_trial(self.trial)))
                await self._until_stopped(stop)
                logger.info(
                    "stopping: polling ends, the buffer drains for up to %s s",
                    drain_timeout_s,
                )
                self._stop_polling.set()
                for task in polls:
                    task.cancel()
                await asyncio.gather(*polls, return_exceptions=True)
        except BaseException:
            self._flush()
            self.buffer.close()
            raise
        self._flush()
        restart = self._restart.is_set() and not stop.is_set()
        drained = await self._drain(uplink, 0 if restart else drain_timeout_s)
        writer.cancel()
        uplink.cancel()
        await asyncio.gather(writer, uplink, return_exceptions=True)
        self._flush()
        summary = self._summary(drained, restart)
        self._write_summary(summary)
        self.buffer.close()
        return summary

    async def _watch_trial(self, command_id: str) -> None:
        """Keep a new configuration if a device comes online; else roll back."""
        assert self.site_path is not None
        deadline = time.monotonic() + self.config.cloud.config_trial_s
        while self._protocols and not any(self._online.values()):
            if time.monotonic() >= deadline:
                roll_back_config(self.site_path)
                self.site_path.with_name(TRIAL_FILE).unlink(missing_ok=True)
                self.commands.report(
                    command_id,
                    None,
                    FAILED,
                    f"no device came online within {self.config.cloud.config_trial_s}"
                    " s on the new configuration; the previous one is restored",
                )
                self.request_restart()
                return
            await asyncio.sleep(0.2)
        confirm_config(self.site_path)
        self.site_path.with_name(TRIAL_FILE).unlink(missing_ok=True)
        self.commands.report(
            command_id, None, SUCCEEDED, "the new configuration is running"
        )

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

    async def _until_stopped(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        restart = asyncio.create_task(self._restart.wait())
        await asyncio.wait({stopped, restart}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        restart.cancel()

    def _summary(self, drained: bool, restart: bool = False) -> RunSummary:
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
            restart=restart,
        )

    def _write_summary(self, summary: RunSummary) -> None:
        path = self.config.gateway.data_dir / "last_run.json"
        path.write_text(json.dumps(asdict(summary), indent=2), encoding="utf-8")


class CurrentRegistry:
    """The metrics of whichever Gateway runs now, for one long-lived HTTP endpoint."""

    def __init__(self) -> None:
        self.gateway: Gateway | None = None

    def collect(self) -> Iterator[Metric]:
        if self.gateway is not None:
            yield from self.gateway.metrics.registry.collect()


async def serve(
    site_path: Path,
    stop: asyncio.Event,
    *,
    drain_timeout_s: float = 30.0,
    registry: CurrentRegistry | None = None,
) -> RunSummary:
    """Run the gateway on ``site_path`` until stopped, through config updates.

    A configuration staged by an ``update_config`` command runs on trial: if it does
    not load, fails to start, or brings no device online, the previous file is put
    back and the gateway starts on it again; the outcome is reported either way. A
    trial found at process start means the process died trying it: rolled back too.
    """
    marker = site_path.with_name(TRIAL_FILE)
    outcome: tuple[str, str] | None = None
    if marker.exists():
        outcome = (marker.read_text(encoding="utf-8").strip(), "the gateway died")
    while True:
        trial = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
        if outcome is not None and trial is not None:
            roll_back_config(site_path)
            marker.unlink()
            trial = None
        config = load_config(site_path)
        gateway = Gateway(config, site_path=site_path)
        if registry is not None:
            registry.gateway = gateway
        if outcome is not None:
            command_id, why = outcome
            gateway.commands.report(
                command_id,
                None,
                FAILED,
                f"{why} on the new configuration; the previous one is restored",
            )
            outcome = None
        gateway.trial = trial
        try:
            summary = await gateway.run(stop, drain_timeout_s=drain_timeout_s)
        except Exception as exc:
            if trial is None:
                raise
            logger.exception("the new configuration failed to start; rolling back")
            outcome = (trial, f"start failed ({type(exc).__name__}: {exc})")
            continue
        if not summary.restart:
            return summary
