"""OSDP readers on one RS-485 line, seen from the gateway.

``OsdpBus`` is libosdp's control panel on a serial port. It turns what the readers
report into ``DeviceEvent`` values for the gateway's sink (card reads, keys, door
contact, forced and held-open doors, tamper, readers going offline and coming back)
and carries the gateway's commands to them (unlock, LED, buzzer).

Bringing readers back. libosdp puts a reader that stops answering, or fails the
secure channel, offline for 300 s before it tries again. The bus does not wait for
that: the moment it judges a reader offline (libosdp says so, or the reader has not
answered for ``offline_after_s``), it disables the reader in libosdp, which cancels
libosdp's own timer, and enables it again on its own schedule: ``retry_initial_s``,
doubling up to ``retry_max_s``, with ±20 % jitter. Enabling restarts libosdp's
handshake (ID, capabilities, secure channel). A reader with a configured key must
set up the secure channel with that key; it is never re-keyed or put in install mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar

import osdp_sys
from osdp import (
    Capability,
    Command,
    CommandLEDColor,
    CompletionStatus,
    Event,
    EventNotification,
    LibFlag,
    LogLevel,
    StatusReportType,
)

from drivers.errors import TransportError
from drivers.osdp.cards import decode_card, decode_keypad
from drivers.osdp.channel import SerialChannel
from drivers.osdp.door import Door, DoorChange
from drivers.osdp.errors import (
    CommandFailedError,
    CommandRejectedError,
    ReaderDataError,
    ReaderOfflineError,
)
from drivers.osdp.panel import PanelThread
from drivers.osdp.profile import MAX_TIMER_S, ReaderConfig
from drivers.types import DeviceEvent, DeviceSink

logger = logging.getLogger(__name__)

T = TypeVar("T")

TICK_S = 0.05
DISABLE_PENDING_RETRY_S = 0.25
"""libosdp takes a disable request only between exchanges; while it is still probing
a silent reader the request waits, and the bus looks again this much later."""
OUTPUT_TEMPORARY_ON = 5
LED_TEMPORARY_SET = 2
LED_PERMANENT_SET = 1
BUZZER_DEFAULT_TONE = 2
LED_COLORS: Mapping[str, int] = {
    "off": CommandLEDColor.Black,
    "red": CommandLEDColor.Red,
    "green": CommandLEDColor.Green,
    "amber": CommandLEDColor.Amber,
    "blue": CommandLEDColor.Blue,
    "magenta": CommandLEDColor.Magenta,
    "cyan": CommandLEDColor.Cyan,
    "white": CommandLEDColor.White,
}
COMPLETION_NAMES: Mapping[int, str] = {
    CompletionStatus.Ok: "ok",
    CompletionStatus.Failed: "refused or unanswered",
    CompletionStatus.Flushed: "flushed",
    CompletionStatus.Aborted: "aborted",
}


class LinkState(StrEnum):
    CONNECTING = "connecting"
    """libosdp is running the handshake (ID, capabilities, secure channel)."""
    ONLINE = "online"
    OFFLINE = "offline"
    """Disabled in libosdp until ``retry_at``."""


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    device_id: str
    state: LinkState
    secure_channel: bool
    reason: str | None
    reason_code: str | None
    retry_in_s: float | None


@dataclass(eq=False, slots=True)
class _Pending:
    command: int
    name: str
    future: asyncio.Future[None]


@dataclass(eq=False)
class _Reader:
    index: int
    config: ReaderConfig
    door: Door
    backoff_s: float
    attempt_started: float
    state: LinkState = LinkState.CONNECTING
    retry_at: float = 0.0
    enabling: bool = False
    announced: bool | None = None
    """What the sink was last told: online, offline, or nothing yet."""
    offline_since: float | None = None
    reason: str | None = None
    reason_code: str | None = None
    secure_channel: bool = False
    capabilities: dict[int, int] | None = None
    tamper: dict[str, bool] = field(default_factory=dict)
    pending: deque[_Pending] = field(default_factory=deque)
    online: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def device_id(self) -> str:
        return self.config.device_id


class OsdpBus:
    """libosdp's control panel on one serial line, as an async context manager.

    ``readers`` are ``ReaderConfig`` values or mappings for
    ``ReaderConfig.from_mapping``. ``clock`` (monotonic seconds) times the door:
    unlock windows and held-open. Link supervision follows libosdp's own real-time
    timers and uses ``time.monotonic``.
    """

    def __init__(
        self,
        *,
        port: str,
        baudrate: int = 115200,
        readers: Sequence[ReaderConfig | Mapping[str, Any]],
        sink: DeviceSink,
        clock: Callable[[], float] = time.monotonic,
        offline_after_s: float = 2.0,
        connect_timeout_s: float = 5.0,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
        command_timeout_s: float = 3.0,
        refresh_interval_s: float = 0.02,
        libosdp_log_level: int = LogLevel.Error,
    ) -> None:
        configs = [
            item if isinstance(item, ReaderConfig) else ReaderConfig.from_mapping(item)
            for item in readers
        ]
        _check_bus(port, configs, retry_initial_s, retry_max_s, refresh_interval_s)
        self.port = port
        self.counts: Counter[str] = Counter()
        """How often each reason code was recorded: bad data, link failures."""
        self.reasons: dict[tuple[str, str], str] = {}
        """The last message per (device id, reason code), as a sentence."""
        self._sink = sink
        self._clock = clock
        self._offline_after_s = offline_after_s
        self._connect_timeout_s = connect_timeout_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._command_timeout_s = command_timeout_s
        self._refresh_interval_s = refresh_interval_s
        self._log_level = libosdp_log_level
        self._channel = SerialChannel(port, baudrate, counts=self.counts)
        self._readers = [
            _Reader(
                index=index,
                config=config,
                door=Door(held_open_s=config.held_open_s),
                backoff_s=retry_initial_s,
                attempt_started=0.0,
            )
            for index, config in enumerate(configs)
        ]
        self._by_id = {reader.device_id: reader for reader in self._readers}
        self._warned: set[tuple[str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._panel_thread: PanelThread | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._channel.open()
        try:
            osdp_sys.set_loglevel(self._log_level)  # libosdp keeps it per context
            panel = osdp_sys.ControlPanel(
                [self._pd_info(r.config) for r in self._readers]
            )
            panel.set_event_callback(self._from_libosdp_event)
            panel.set_command_completion_callback(self._from_libosdp_completion)
        except Exception as exc:
            self._channel.close()
            raise TransportError(
                f"{self.port}: libosdp refused the panel: {exc}"
            ) from exc
        started = time.monotonic()
        for reader in self._readers:
            reader.attempt_started = started
        self._panel_thread = PanelThread(
            panel, name=f"osdp {self.port}", interval_s=self._refresh_interval_s
        )
        self._panel_thread.start()
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"osdp supervisor {self.port}"
        )
        logger.info("%s: OSDP bus up with %d readers", self.port, len(self._readers))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait([self._supervisor])  # our own cancel still propagates
        if self._panel_thread is not None:
            await asyncio.to_thread(self._panel_thread.stop)
        self._channel.close()
        for reader in self._readers:
            self._fail_pending(reader, f"{reader.device_id}: the OSDP bus was closed")
        logger.info("%s: OSDP bus closed", self.port)

    def _pd_info(self, config: ReaderConfig) -> dict[str, Any]:
        flags = LibFlag.EnableNotification
        if config.scbk is not None:
            flags |= LibFlag.EnforceSecure
        return {
            "name": config.device_id,
            "address": config.address,
            "flags": flags,
            "scbk": config.scbk,
            "channel": self._channel,
        }

    # --- what the gateway reads ----------------------------------------------------

    @property
    def device_ids(self) -> list[str]:
        return [reader.device_id for reader in self._readers]

    def status(self, device_id: str) -> ReaderStatus:
        reader = self._reader(device_id)
        retry_in = None
        if reader.state is LinkState.OFFLINE:
            retry_in = max(0.0, reader.retry_at - time.monotonic())
        return ReaderStatus(
            device_id=device_id,
            state=reader.state,
            secure_channel=reader.secure_channel,
            reason=reader.reason,
            reason_code=reader.reason_code,
            retry_in_s=retry_in,
        )

    async def wait_online(self, device_id: str) -> None:
        await self._reader(device_id).online.wait()

    # --- commands ------------------------------------------------------------------

    async def unlock(self, device_id: str, seconds: float | None = None) -> None:
        """Pulse the lock relay for ``seconds`` (default: the reader's ``unlock_s``);
        returns once the reader acknowledged the output command."""
        reader = self._reader(device_id)
        output = reader.config.relay_output
        if output is None:
            raise CommandRejectedError(f"{device_id} has no lock output configured")
        seconds = reader.config.unlock_s if seconds is None else seconds
        command = {
            "command": Command.Output,
            "output_no": output,
            "control_code": OUTPUT_TEMPORARY_ON,
            "timer_count": _tenths(seconds, "unlock time"),
        }
        await self._require(reader, Capability.OutputControl, output, "output")

        previous = reader.door.grant(self._clock(), seconds)
        try:
            await self._send(reader, command, "unlock")
        except Exception:
            reader.door.revoke(previous)
            raise
        logger.info("%s unlocked for %.1f s", device_id, seconds)

    async def led(
        self,
        device_id: str,
        color: str,
        *,
        seconds: float | None = None,
        on_ms: int = 100,
        off_ms: int = 0,
        off_color: str = "off",
        led_number: int = 0,
    ) -> None:
        """Set a reader LED: steady, or flashing ``on_ms``/``off_ms`` between ``color``
        and ``off_color``; for ``seconds`` then back to its permanent state, or
        permanently when ``seconds`` is None."""
        reader = self._reader(device_id)
        command: dict[str, Any] = {
            "command": Command.LED,
            "reader": 0,
            "led_number": led_number,
            "temporary": seconds is not None,
            "control_code": LED_PERMANENT_SET if seconds is None else LED_TEMPORARY_SET,
            "on_color": _color(color),
            "off_color": _color(off_color),
            "on_count": _counts_of_100ms(on_ms, "LED on time", minimum=1),
            "off_count": _counts_of_100ms(off_ms, "LED off time"),
        }
        if seconds is not None:
            command["timer_count"] = _tenths(seconds, "LED time")
        await self._require(reader, Capability.LEDControl, led_number, "LED")
        await self._send(reader, command, "LED")

    async def buzzer(
        self, device_id: str, *, on_ms: int = 500, off_ms: int = 0, repeat: int = 1
    ) -> None:
        """Sound the reader's buzzer ``repeat`` times (0: until told otherwise)."""
        reader = self._reader(device_id)
        if not 0 <= repeat <= 255:
            raise ValueError(f"buzzer repeat {repeat} is not within 0..255")
        command = {
            "command": Command.Buzzer,
            "reader": 0,
            "control_code": BUZZER_DEFAULT_TONE,
            "on_count": _counts_of_100ms(on_ms, "buzzer on time", minimum=1),
            "off_count": _counts_of_100ms(off_ms, "buzzer off time"),
            "rep_count": repeat,
        }
        await self._require(reader, Capability.AudibleControl, 0, "buzzer")
        await self._send(reader, command, "buzzer")

    async def _require(
        self, reader: _Reader, capability: int, item: int, what: str
    ) -> None:
        """Refuse before sending: libosdp takes a reader offline when it NAKs."""
        self._require_online(reader, what)
        if reader.capabilities is None:
            reader.capabilities = await self._call(
                lambda panel: _capabilities(panel, reader.index)
            )
        available = reader.capabilities.get(capability, 0)
        if item >= available:
            raise CommandRejectedError(
                f"{reader.device_id} reports {available} {what}(s); "
                f"{what} {item} does not exist"
            )

    def _require_online(self, reader: _Reader, what: str) -> None:
        if reader.state is not LinkState.ONLINE:
            raise ReaderOfflineError(
                f"{reader.device_id} is {reader.state} "
                f"({reader.reason or 'no reason'}); {what} command not sent"
            )

    async def _send(self, reader: _Reader, command: dict[str, Any], name: str) -> None:
        self._require_online(reader, name)
        assert self._loop is not None
        pending = _Pending(command["command"], name, self._loop.create_future())
        reader.pending.append(pending)
        queued = await self._call(
            lambda panel: bool(panel.submit_command(reader.index, command))
        )
        if not queued:
            reader.pending.remove(pending)
            raise ReaderOfflineError(
                f"{reader.device_id}: libosdp did not queue the {name} command; "
                "the reader is not online"
            )
        try:
            async with asyncio.timeout(self._command_timeout_s):
                await pending.future
        except TimeoutError as exc:
            raise CommandFailedError(
                f"{reader.device_id} did not acknowledge the {name} command within "
                f"{self._command_timeout_s} s"
            ) from exc

    async def _call(self, action: Callable[[Any], Any]) -> Any:
        return await asyncio.wrap_future(self._on_panel(action))

    def _on_panel(self, action: Callable[[Any], T]) -> Future[T]:
        """Run ``action(panel)`` on the thread that owns libosdp."""
        assert self._panel_thread is not None, "the bus is not entered"
        return self._panel_thread.call(action)

    # --- from libosdp's thread -----------------------------------------------------

    def _from_libosdp_event(self, index: int, event: dict[str, Any]) -> int:
        self._post(self._on_event, index, event)
        return 0

    def _from_libosdp_completion(
        self, index: int, command: dict[str, Any], status: int
    ) -> None:
        self._post(self._on_completion, index, command, status)

    def _post(self, handler: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(handler, *args)

    # --- events, on the event loop -------------------------------------------------

    def _on_event(self, index: int, event: dict[str, Any]) -> None:
        reader = self._readers[index] if 0 <= index < len(self._readers) else None
        if reader is None:
            self._reject(
                None, "event_unknown_reader", f"event for reader index {index}"
            )
            return
        try:
            self._dispatch(reader, event)
        except ReaderDataError as exc:
            self._reject(reader, exc.code, str(exc))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            keys = sorted(event) if isinstance(event, dict) else type(event).__name__
            self._reject(
                reader,
                "event_malformed",
                f"libosdp event {keys} cannot be read: {exc!r}",
            )

    def _dispatch(self, reader: _Reader, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == Event.CardRead:
            self._card_read(reader, event)
        elif kind == Event.KeyPress:
            keys = decode_keypad(bytes(event["data"]))
            data = {"reader": event["reader_no"], "keys": keys}
            logger.debug("%s keypad, %d keys", reader.device_id, len(keys))
            self._publish(DeviceEvent(reader.device_id, "keypad", data))
        elif kind == Event.Status:
            self._status(reader, event["type"], bytes(event["report"]))
        elif kind == Event.Notification:
            self._notification(reader, event["type"], event["arg0"])
        else:
            raise ReaderDataError(
                "event_unsupported", f"event type {kind!r} is not used"
            )

    def _card_read(self, reader: _Reader, event: dict[str, Any]) -> None:
        data = decode_card(
            event["format"],
            event.get("length", 0),
            bytes(event["data"]),
            reader.config.card_formats,
        )
        data["reader"] = event["reader_no"]
        logger.debug("%s card read, %d bits", reader.device_id, data["bits"])
        self._publish(DeviceEvent(reader.device_id, "card_read", data))

    def _status(self, reader: _Reader, report_type: int, report: bytes) -> None:
        if report_type == StatusReportType.Local:
            self._tamper(reader, "reader", bool(_entry(report, 0, "local status")))
        elif report_type == StatusReportType.Input:
            self._inputs(reader, report)
        elif report_type != StatusReportType.Output:
            raise ReaderDataError(
                "status_type_unsupported",
                f"status report type {report_type} is not used",
            )

    def _inputs(self, reader: _Reader, report: bytes) -> None:
        """Door contact and tamper input; a missing one does not hide the other."""
        config = reader.config
        problems: list[ReaderDataError] = []
        if config.door_input is not None:
            try:
                active = bool(_entry(report, config.door_input, "door contact input"))
            except ReaderDataError as exc:
                problems.append(exc)
            else:
                is_open = active == config.door_open_when_active
                self._door(reader, reader.door.contact(is_open, self._clock()))
        if config.tamper_input is not None:
            try:
                active = bool(_entry(report, config.tamper_input, "tamper input"))
            except ReaderDataError as exc:
                problems.append(exc)
            else:
                self._tamper(reader, "input", active)
        for problem in problems:
            self._reject(reader, problem.code, str(problem))

    def _tamper(self, reader: _Reader, source: str, active: bool) -> None:
        previous = reader.tamper.get(source)
        reader.tamper[source] = active
        if previous == active or (previous is None and not active):
            return
        alarm = active and "tamper" in reader.config.alarms
        data = {"source": source, "active": active}
        if active:
            logger.warning("%s tamper (%s)", reader.device_id, source)
        self._publish(DeviceEvent(reader.device_id, "tamper", data, alarm=alarm))

    def _door(self, reader: _Reader, changes: list[DoorChange]) -> None:
        for change in changes:
            alarm = change.kind in reader.config.alarms
            if alarm:
                logger.warning("%s %s", reader.device_id, change.kind)
            self._publish(
                DeviceEvent(reader.device_id, change.kind, change.data, alarm=alarm)
            )

    def _notification(self, reader: _Reader, kind: int, arg0: int) -> None:
        if kind == EventNotification.PeripheralDeviceStatus:
            if arg0:
                self._libosdp_online(reader)
            else:
                self._libosdp_offline(reader)
        elif kind == EventNotification.SecureChannelStatus:
            reader.secure_channel = bool(arg0)

    def _on_completion(self, index: int, command: dict[str, Any], status: int) -> None:
        if not 0 <= index < len(self._readers):
            self._reject(None, "completion_unmatched", f"completion for index {index}")
            return
        reader = self._readers[index]
        command_id = command.get("command")
        if not any(item.command == command_id for item in reader.pending):
            if status in (CompletionStatus.Ok, CompletionStatus.Failed):
                self._reject(
                    reader,
                    "completion_unmatched",
                    f"completion of command {command_id} that was not pending",
                )
            return
        # libosdp completes commands in the order they were queued.
        while reader.pending:
            pending = reader.pending.popleft()
            if pending.command == command_id:
                _settle(reader, pending, status)
                return
            _settle(reader, pending, CompletionStatus.Failed)

    # --- link supervision ----------------------------------------------------------

    def _libosdp_online(self, reader: _Reader) -> None:
        if reader.state is not LinkState.CONNECTING:
            return
        now = time.monotonic()
        offline_s = None if reader.offline_since is None else now - reader.offline_since
        reader.state = LinkState.ONLINE
        reader.backoff_s = self._retry_initial_s
        reader.offline_since = None
        reader.reason = None
        reader.reason_code = None
        reader.announced = True
        reader.online.set()
        logger.info(
            "%s online at address %d, secure channel %s",
            reader.device_id,
            reader.config.address,
            "active" if reader.secure_channel else "off",
        )
        self._set_online(reader, True, None)
        data = {
            "secure_channel": reader.secure_channel,
            "offline_s": None if offline_s is None else round(offline_s, 3),
        }
        self._publish(DeviceEvent(reader.device_id, "device_online", data))

    def _libosdp_offline(self, reader: _Reader) -> None:
        address = reader.config.address
        if reader.state is LinkState.OFFLINE:
            return  # our own disable, or a repeat
        if reader.state is LinkState.ONLINE:
            self._go_offline(
                reader,
                "link_lost",
                "libosdp dropped the reader (a NAK, a bad reply or no reply)",
            )
        elif not self._channel.answered_since(address, reader.attempt_started):
            self._go_offline(reader, "no_reply", f"no reply from address {address}")
        elif reader.config.scbk is not None:
            self._go_offline(
                reader,
                "secure_channel_failed",
                "the reader answers but no secure channel comes up with the "
                "configured SCBK (wrong key, or the reader is not keyed)",
            )
        else:
            self._go_offline(
                reader, "handshake_failed", "the reader answers but the handshake fails"
            )

    def _go_offline(self, reader: _Reader, code: str, reason: str) -> None:
        now = time.monotonic()
        reader.state = LinkState.OFFLINE
        reader.secure_channel = False
        reader.capabilities = None
        reader.online.clear()
        if reader.offline_since is None:
            reader.offline_since = now
        delay = reader.backoff_s * random.uniform(0.8, 1.2)
        reader.retry_at = now + delay
        reader.backoff_s = min(reader.backoff_s * 2, self._retry_max_s)
        self.counts[code] += 1
        self.reasons[reader.device_id, code] = reason
        index = reader.index
        disabled = self._on_panel(lambda panel: _disable(panel, index))
        # Runs after the completions of the flushed commands have been posted.
        disabled.add_done_callback(lambda _: self._post(self._after_disable, reader))

        changed = reason != reader.reason
        reader.reason, reader.reason_code = reason, code
        if reader.announced is not False:
            logger.warning(
                "%s offline: %s; retrying in %.1f s", reader.device_id, reason, delay
            )
            reader.announced = False
            self._set_online(reader, False, reason)
            data = {"reason": reason, "reason_code": code}
            self._publish(DeviceEvent(reader.device_id, "device_offline", data))
        elif changed:
            logger.warning("%s still offline: %s", reader.device_id, reason)
            self._set_online(reader, False, reason)
        else:
            logger.debug(
                "%s still offline; retrying in %.1f s", reader.device_id, delay
            )

    def _after_disable(self, reader: _Reader) -> None:
        self._fail_pending(reader, f"{reader.device_id} went offline: {reader.reason}")

    def _retry(self, reader: _Reader) -> None:
        reader.enabling = True
        index, address, channel = reader.index, reader.config.address, self._channel
        enabled = self._on_panel(lambda panel: _enable(panel, index, address, channel))
        enabled.add_done_callback(lambda done: self._post(self._retried, reader, done))

    def _retried(self, reader: _Reader, done: Future[float | None]) -> None:
        reader.enabling = False
        started = None if done.cancelled() or done.exception() else done.result()
        if reader.state is not LinkState.OFFLINE:
            return
        if started is None:
            reader.retry_at = time.monotonic() + DISABLE_PENDING_RETRY_S
            return
        logger.debug("%s retrying the handshake", reader.device_id)
        reader.state = LinkState.CONNECTING
        reader.attempt_started = started

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self._supervise_once()
            except Exception:  # a bug here must not end supervision
                logger.exception("%s: OSDP supervision failed", self.port)

    def _supervise_once(self) -> None:
        now = time.monotonic()
        door_now = self._clock()
        for reader in self._readers:
            self._door(reader, reader.door.tick(door_now))
            if reader.state is LinkState.OFFLINE:
                if not reader.enabling and now >= reader.retry_at:
                    self._retry(reader)
                continue
            silent_s = self._channel.unanswered_for(reader.config.address)
            if silent_s > self._offline_after_s:
                self._go_offline(
                    reader,
                    "no_reply",
                    f"no reply from address {reader.config.address} "
                    f"for {silent_s:.1f} s",
                )
            elif (
                reader.state is LinkState.CONNECTING
                and now - reader.attempt_started > self._connect_timeout_s
            ):
                self._go_offline(
                    reader,
                    "handshake_timeout",
                    "the reader did not come online within "
                    f"{self._connect_timeout_s} s",
                )

    # --- helpers -------------------------------------------------------------------

    def _reader(self, device_id: str) -> _Reader:
        try:
            return self._by_id[device_id]
        except KeyError:
            raise KeyError(f"no OSDP reader {device_id!r} on {self.port}") from None

    def _publish(self, event: DeviceEvent) -> None:
        try:
            self._sink.publish([event])
        except Exception:
            logger.exception("%s: the sink refused %s", event.device_id, event.kind)

    def _set_online(self, reader: _Reader, online: bool, reason: str | None) -> None:
        try:
            self._sink.set_online(reader.device_id, online, reason)
        except Exception:
            logger.exception("%s: the sink refused the online state", reader.device_id)

    def _reject(self, reader: _Reader | None, code: str, message: str) -> None:
        self.counts[code] += 1
        device_id = reader.device_id if reader is not None else self.port
        self.reasons[device_id, code] = message
        if (device_id, code) in self._warned:
            logger.debug("%s dropped: %s", device_id, message)
        else:
            self._warned.add((device_id, code))
            logger.warning("%s dropped: %s", device_id, message)

    def _fail_pending(self, reader: _Reader, message: str) -> None:
        while reader.pending:
            pending = reader.pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(ReaderOfflineError(message))


def _settle(reader: _Reader, pending: _Pending, status: int) -> None:
    if pending.future.done():
        return  # the caller timed out or was cancelled
    if status == CompletionStatus.Ok:
        pending.future.set_result(None)
        return
    pending.future.set_exception(
        CommandFailedError(
            f"{reader.device_id} did not accept the {pending.name} command "
            f"({COMPLETION_NAMES.get(status, status)})"
        )
    )


def _disable(panel: Any, index: int) -> None:
    panel.flush_commands(index)
    panel.disable_pd(index)


def _enable(
    panel: Any, index: int, address: int, channel: SerialChannel
) -> float | None:
    """Enable a disabled reader; None while libosdp still holds the disable request."""
    if panel.is_pd_enabled(index):
        return None
    channel.forget(address)
    started = time.monotonic()
    return started if panel.enable_pd(index) else None


def _capabilities(panel: Any, index: int) -> dict[int, int]:
    wanted = (
        Capability.OutputControl,
        Capability.LEDControl,
        Capability.AudibleControl,
    )
    return {cap: int(panel.check_capability(index, cap)[1]) for cap in wanted}


def _entry(report: bytes, position: int, what: str) -> int:
    if position >= len(report):
        raise ReaderDataError(
            "status_entry_missing",
            f"{what} {position} is not in a status report of {len(report)} entries",
        )
    return report[position]


def _tenths(seconds: float, what: str) -> int:
    if not 0 < seconds <= MAX_TIMER_S:
        raise ValueError(
            f"{what} {seconds} s is not within 0.1..{MAX_TIMER_S} s "
            "(libosdp's Python binding carries one byte of 100 ms)"
        )
    return max(1, round(seconds * 10))


def _counts_of_100ms(ms: int, what: str, *, minimum: int = 0) -> int:
    count = round(ms / 100)
    if not minimum <= count <= 255:
        raise ValueError(f"{what} {ms} ms is not within {minimum * 100}..25500 ms")
    return count


def _color(name: str) -> int:
    try:
        return LED_COLORS[name]
    except KeyError:
        raise ValueError(
            f"LED color {name!r} is unknown (known: {sorted(LED_COLORS)})"
        ) from None


def _check_bus(
    port: str,
    configs: list[ReaderConfig],
    retry_initial_s: float,
    retry_max_s: float,
    refresh_interval_s: float,
) -> None:
    if not configs:
        raise ValueError(f"OSDP bus {port} has no readers")
    for attribute in ("device_id", "address"):
        values = [getattr(config, attribute) for config in configs]
        duplicates = sorted({str(v) for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"OSDP bus {port}: {attribute} used twice: {duplicates}")
    if not 0.1 <= retry_initial_s <= retry_max_s:
        raise ValueError(
            f"OSDP bus {port}: retry_initial_s {retry_initial_s} must be at least 0.1 s"
            f" and at most retry_max_s {retry_max_s}"
        )
    if not 0 < refresh_interval_s <= 0.05:
        raise ValueError(
            f"OSDP bus {port}: libosdp needs a refresh at least every 50 ms, "
            f"not every {refresh_interval_s} s"
        )
