"""The BLE connector: one bleak scanner, every configured device, one sink.

bleak calls ``on_advertisement`` for each advertisement heard. The connector finds
the device by its address, lets the device's format decoder judge and decode it,
maps the result through the device's profile and publishes readings and events.
A refused advertisement is counted by reason and recorded; nothing a device sends
can stop the scanner. A watchdog restarts scanning when nothing at all was heard
for ``watchdog_s`` (adapters and BlueZ do go deaf), and marks each device offline
when it has sent nothing valid for its profile's ``offline_after_s``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple, Protocol, Self

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from drivers.ble.bthome import BTHomeDecoder
from drivers.ble.decoded import DecodedAdvert
from drivers.ble.errors import BadAdvertisement, BleConfigError, RejectReason
from drivers.ble.points import PointMapper
from drivers.ble.profile import (
    BindkeyPolicy,
    BleFormat,
    BleProfile,
    Dedupe,
    load_ble_profile,
)
from drivers.ble.ruuvi import RuuviDecoder
from drivers.types import DeviceSink

_LOG = logging.getLogger(__name__)

_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_BINDKEY_LENGTH = 16
_RETRY_FIRST_S = 1.0
_RETRY_MAX_S = 60.0
_RECORDED_REJECTIONS = 256


class BleDeviceConfig(NamedTuple):
    """One device to listen for; a plain 4-tuple in this order works as well."""

    device_id: str
    profile: str | BleProfile  # profile id, or a profile already loaded
    address: str  # "A4:C1:38:8D:18:B2"
    bindkey: bytes | None = None  # 16-byte AES key of encrypted BTHome devices


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused advertisement, as recorded."""

    device_id: str
    code: RejectReason
    message: str
    at: float  # the connector's clock


@dataclass(slots=True)
class DeviceStats:
    """Counts per device. Duplicates are expected traffic, not refusals, so they
    are counted apart and kept out of ``BleConnector.rejections``."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by RejectReason
    last_reason: str | None = None


class _Decoder(Protocol):
    def decode(
        self, device: BLEDevice, advertisement: AdvertisementData, now: float
    ) -> DecodedAdvert: ...


@dataclass(slots=True)
class _Device:
    device_id: str
    profile: BleProfile
    decoder: _Decoder
    mapper: PointMapper
    stats: DeviceStats = field(default_factory=DeviceStats)
    online: bool | None = None
    last_valid: float | None = None


class BleConnector:
    """Listens for the configured BLE devices and reports them to ``sink``.

    ``backend`` is a bleak scanner backend class (``BaseBleakScanner`` subclass), or
    None for the platform's own (BlueZ on the gateway); ``sim_scanner_backend()``
    builds one that listens to the simulator instead of the radio.
    """

    def __init__(
        self,
        *,
        devices: Iterable[
            BleDeviceConfig | tuple[str, str | BleProfile, str, bytes | None]
        ],
        sink: DeviceSink,
        backend: type[BaseBleakScanner] | None = None,
        watchdog_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        watchdog_poll_s: float | None = None,
    ) -> None:
        if watchdog_s <= 0:
            raise BleConfigError(f"watchdog_s must be positive, not {watchdog_s!r}.")
        self._sink = sink
        self._backend = backend
        self._watchdog_s = watchdog_s
        self._poll_s = watchdog_poll_s or min(watchdog_s / 10, 5.0)
        self._clock = clock
        self._devices = _build_devices(devices)
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._started_at = clock()
        self._last_heard = self._started_at

        self.heard = 0  # advertisements from anyone
        self.ignored = 0  # ... from addresses not configured
        self.scans_started = 0
        self.restarts = 0  # by the watchdog
        self.start_failures = 0
        self.rejections: deque[Rejection] = deque(maxlen=_RECORDED_REJECTIONS)  # latest

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.run(), name="ble-connector")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() rather than await: a cancellation of our caller must not be
        # swallowed along with the task's.
        await asyncio.wait({task})
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error

    def stats(self, device_id: str) -> DeviceStats:
        for device in self._devices.values():
            if device.device_id == device_id:
                return device.stats
        raise KeyError(device_id)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds; it is checked again whenever scanning
        starts, restarts or fails to start (``scans_started``, ``restarts``,
        ``start_failures``)."""
        while not condition():
            self._progress.clear()
            await self._progress.wait()

    async def run(self) -> None:
        """Scan until cancelled, restarting the scanner whenever it falls silent."""
        self._started_at = self._clock()
        failures = 0
        while True:
            scanner = BleakScanner(
                detection_callback=self.on_advertisement, backend=self._backend
            )
            try:
                await scanner.start()
            except Exception as exc:  # any failure to start is retried
                failures += 1
                await self._retry_later(failures, exc)
                continue
            failures = 0
            self._scanning(scanner)
            try:
                await self._watch()
            finally:
                await _stop(scanner)
            self.restarts += 1
            self._progress.set()
            _LOG.warning(
                "BLE scanner heard nothing for %.0f s; restarting it (restart %d)",
                self._watchdog_s,
                self.restarts,
            )

    def on_advertisement(
        self, device: BLEDevice, advertisement: AdvertisementData
    ) -> None:
        """bleak's detection callback: one advertisement from anyone."""
        now = self._clock()
        self._last_heard = now
        self.heard += 1
        target = self._devices.get(device.address.upper())
        if target is None:
            self.ignored += 1
            return
        try:
            decoded = target.decoder.decode(device, advertisement, now)
        except BadAdvertisement as bad:
            self._refuse(target, bad.code, bad.message, now)
            return
        except Exception as exc:  # a decoder bug must not stop scanning
            _LOG.exception("%s: decoder failed", target.device_id)
            self._refuse(
                target, RejectReason.UNDECODABLE, f"decoder failed: {exc!r}", now
            )
            return

        target.stats.accepted += 1
        self._heard_from(target, now)
        items = target.mapper.translate(decoded)
        if items:
            self._sink.publish(items)

    def _refuse(
        self, target: _Device, code: RejectReason, message: str, now: float
    ) -> None:
        stats = target.stats
        if code is RejectReason.DUPLICATE:
            # A repeat proves the device is alive; it is expected, not a fault.
            stats.duplicates += 1
            self._heard_from(target, now)
            _LOG.debug("%s: dropped %s", target.device_id, message)
            return
        first_time = stats.rejected[code] == 0
        stats.rejected[code] += 1
        stats.last_reason = message
        self.rejections.append(Rejection(target.device_id, code, message, now))
        level = logging.WARNING if first_time else logging.DEBUG
        _LOG.log(
            level, "%s: refused advertisement (%s): %s", target.device_id, code, message
        )

    def _heard_from(self, target: _Device, now: float) -> None:
        target.last_valid = now
        if target.online is not True:
            target.online = True
            _LOG.info("%s: online", target.device_id)
            self._sink.set_online(target.device_id, True)

    def _scanning(self, scanner: BleakScanner) -> None:
        self.scans_started += 1
        self._last_heard = self._clock()
        self._progress.set()
        _LOG.info("BLE scanning started (backend %s)", scanner.backend_id)

    async def _watch(self) -> None:
        """Return when nothing was heard for ``watchdog_s``; meanwhile mark silence."""
        while True:
            now = self._clock()
            self._mark_offline(now)
            if now - self._last_heard >= self._watchdog_s:
                return
            await asyncio.sleep(self._poll_s)

    def _mark_offline(self, now: float) -> None:
        for target in self._devices.values():
            since = (
                target.last_valid if target.last_valid is not None else self._started_at
            )
            silent_s = now - since
            if target.online is False or silent_s <= target.profile.offline_after_s:
                continue
            target.online = False
            heard = "no valid advertisement" if target.last_valid else "never heard"
            reason = f"{heard} for {silent_s:.0f} s"
            _LOG.warning("%s: offline: %s", target.device_id, reason)
            self._sink.set_online(target.device_id, False, reason)

    async def _retry_later(self, failures: int, exc: Exception) -> None:
        self.start_failures += 1
        self._progress.set()
        delay = min(_RETRY_MAX_S, _RETRY_FIRST_S * 2 ** (failures - 1))
        delay *= random.uniform(0.5, 1.0)
        level = logging.WARNING if failures == 1 else logging.DEBUG
        _LOG.log(
            level, "BLE scanner failed to start (%s); retrying in %.1f s", exc, delay
        )
        await asyncio.sleep(delay)


async def _stop(scanner: BleakScanner) -> None:
    try:
        await scanner.stop()
    except Exception as exc:  # a dead scanner is replaced anyway
        _LOG.debug("BLE scanner did not stop cleanly: %s", exc)


def _build_devices(
    entries: Iterable[
        BleDeviceConfig | tuple[str, str | BleProfile, str, bytes | None]
    ],
) -> dict[str, _Device]:
    devices: dict[str, _Device] = {}
    ids: set[str] = set()
    for entry in entries:
        config = BleDeviceConfig(*entry)
        device = _build_device(config)
        address = config.address.upper()
        if address in devices or config.device_id in ids:
            raise BleConfigError(
                f"{config.device_id}: device id or address {address} is configured "
                "twice."
            )
        devices[address] = device
        ids.add(config.device_id)
    return devices


def _build_device(config: BleDeviceConfig) -> _Device:
    device_id, address = config.device_id, config.address.upper()
    if not device_id:
        raise BleConfigError(f"Device at {address}: the device id is empty.")
    if not _MAC.match(address):
        raise BleConfigError(
            f"{device_id}: address {config.address!r} is not a MAC like "
            "AA:BB:CC:DD:EE:FF."
        )
    profile = (
        config.profile
        if isinstance(config.profile, BleProfile)
        else load_ble_profile(config.profile)
    )
    _check_bindkey(device_id, profile, config.bindkey)

    decoder: _Decoder
    if profile.format is BleFormat.RUUVI_DF5:
        decoder = RuuviDecoder(
            address=address,
            dedupe=profile.dedupe is Dedupe.MEASUREMENT_SEQUENCE,
            repeat_window_s=profile.repeat_window_s,
        )
    else:
        decoder = BTHomeDecoder(
            address=address,
            bindkey=config.bindkey,
            dedupe=profile.dedupe is Dedupe.PACKET_ID,
            repeat_window_s=profile.repeat_window_s,
        )
    return _Device(device_id, profile, decoder, PointMapper(device_id, profile))


def _check_bindkey(device_id: str, profile: BleProfile, bindkey: bytes | None) -> None:
    if bindkey is not None and (
        not isinstance(bindkey, bytes) or len(bindkey) != _BINDKEY_LENGTH
    ):
        raise BleConfigError(
            f"{device_id}: the bindkey must be {_BINDKEY_LENGTH} bytes "
            "(32 hex digits, converted with bytes.fromhex)."
        )
    if bindkey is None and profile.bindkey is BindkeyPolicy.REQUIRED:
        raise BleConfigError(f"{device_id}: profile {profile.id} requires a bindkey.")
    none_allowed = profile.bindkey is BindkeyPolicy.NONE
    if bindkey is not None and (none_allowed or profile.format is BleFormat.RUUVI_DF5):
        raise BleConfigError(
            f"{device_id}: profile {profile.id} takes no bindkey; remove it."
        )
