"""Simulated OSDP readers on a pseudo-terminal: libosdp's peripheral device on the
master end, the gateway on the slave end exactly as on an RS-485 adapter.

One ``OsdpLineSim`` is one RS-485 line: a pseudo-terminal and any number of readers
at their own addresses. Like the wires of a bus, every reader hears every byte the
panel sends and answers only to its address. One thread owns the line: it runs the
calls handed to it, the scheduled scenario steps, moves bytes, and refreshes each
reader's libosdp context.

Fault hooks: card swipes, keypad entry, door open and close, a forced door, a door
held open after an unlock (walk-through), tamper, and a reader that stops answering
for a while (its cable cut: it hears nothing and its replies are lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import os
import queue
import threading
import time
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import osdp_sys
from osdp import (
    Capability,
    CardFormat,
    Command,
    Event,
    LibFlag,
    LogLevel,
    StatusReportType,
)

from sim.osdp.scenario import ReaderSpec, ScenarioStep
from sim.osdp.wiegand import encode_h10301, encode_keys

logger = logging.getLogger(__name__)

TICK_S = 0.01
WALK_IN_S = 0.3
"""How long after the lock releases the simulated person pulls the door open."""
OUTPUT_TEMPORARY_ON = 5


@dataclass(frozen=True, slots=True)
class OutputCommand:
    """An output command the reader received; ``seconds`` is its timer."""

    output_no: int
    control_code: int
    timer_count: int
    at: float

    @property
    def seconds(self) -> float:
        return self.timer_count / 10


class _Wire:
    """One reader's tap on the line: libosdp's channel for its peripheral device."""

    def __init__(self, fd: int) -> None:
        self.id = 0
        self.fd = fd
        self.rx = bytearray()
        self.cut = False

    def read(self, max_bytes: int) -> bytes:
        data = bytes(self.rx[:max_bytes])
        del self.rx[:max_bytes]
        return data

    def write(self, buf: bytes) -> int:
        if self.cut:
            return len(buf)  # sent into a cut cable
        try:
            return os.write(self.fd, buf)
        except OSError:  # no one on the slave end, or its buffer is full
            return 0

    def flush(self) -> None:
        self.rx.clear()


@dataclass(eq=False)
class SimReader:
    """One simulated reader. Its state is read by tests; change it through the
    methods, which hand the change to the line's thread."""

    spec: ReaderSpec
    line: OsdpLineSim
    outputs: list[OutputCommand] = field(default_factory=list)
    leds: list[dict[str, Any]] = field(default_factory=list)
    buzzes: list[dict[str, Any]] = field(default_factory=list)
    door_open: bool = False
    tamper_active: bool = False
    online: bool = False
    first_online_at: float | None = None
    cut_until: float | None = None
    walk_through_s: float | None = None
    relay_on_until: float = 0.0
    inputs: list[int] = field(default_factory=list)
    _pd: Any = None
    _wire: _Wire | None = None

    @property
    def device_id(self) -> str:
        return self.spec.device_id

    # --- fault hooks, from any thread ----------------------------------------------

    def swipe(
        self, facility: int, card: int, *, walk_through_s: float | None = None
    ) -> None:
        """Present an H10301 card; with ``walk_through_s``, the next unlock makes the
        holder open the door and close it that many seconds later."""
        bits, data = encode_h10301(facility, card)
        self.line.call(
            lambda: self._swipe(bits, data, CardFormat.Wiegand, walk_through_s)
        )

    def swipe_raw(self, bits: int, data: bytes, *, wiegand: bool = True) -> None:
        card_format = CardFormat.Wiegand if wiegand else CardFormat.Unspecified
        self.line.call(lambda: self._swipe(bits, data, card_format, None))

    def keypad(self, keys: str) -> None:
        data = encode_keys(keys)
        self.line.call(lambda: self._submit(_keypad_event(data)))

    def keypad_raw(self, data: bytes) -> None:
        """Key codes as given, valid or not: for a reader that sends rubbish."""
        self.line.call(lambda: self._submit(_keypad_event(data)))

    def open_door(self) -> None:
        self.line.call(lambda: self._set_door(True))

    def close_door(self) -> None:
        self.line.call(lambda: self._set_door(False))

    def set_input(self, number: int, active: bool) -> None:
        self.line.call(lambda: self._set_input(number, active))

    def tamper(self, active: bool = True) -> None:
        self.line.call(lambda: self._set_tamper(active))

    def go_offline(self, seconds: float) -> None:
        """Stop answering for ``seconds``: the reader hears nothing, sends nothing."""
        self.line.call(lambda: self._cut(seconds))

    # --- on the line's thread ------------------------------------------------------

    def _swipe(
        self, bits: int, data: bytes, card_format: int, walk_through_s: float | None
    ) -> None:
        self.walk_through_s = walk_through_s
        self._submit(
            {
                "event": Event.CardRead,
                "reader_no": 0,
                "format": card_format,
                "direction": 0,
                "length": bits,
                "data": data,
            }
        )

    def _set_door(self, is_open: bool) -> None:
        self.door_open = is_open
        active = is_open == self.spec.door_open_when_active
        self._set_input(self.spec.door_input, active)

    def _set_input(self, number: int, active: bool) -> None:
        self.inputs[number] = int(active)
        self._submit(_status_event(StatusReportType.Input, bytes(self.inputs)))

    def _set_tamper(self, active: bool) -> None:
        self.tamper_active = active
        self._report_local()

    def _report_local(self) -> None:
        report = bytes([int(self.tamper_active), 0])  # tamper, power normal
        self._submit(_status_event(StatusReportType.Local, report))

    def _report_all(self) -> None:
        self._submit(_status_event(StatusReportType.Input, bytes(self.inputs)))
        self._report_local()

    def _cut(self, seconds: float) -> None:
        assert self._wire is not None
        self._wire.cut = True
        self.cut_until = time.monotonic() + seconds
        logger.info("%s stops answering for %.1f s", self.device_id, seconds)
        self.line.schedule(seconds, self._restore)

    def _restore(self) -> None:
        assert self._wire is not None
        self._wire.cut = False
        self.cut_until = None
        logger.info("%s answers again", self.device_id)
        # What changed while the cable was cut reaches the panel on its next poll.
        self._report_all()

    def _submit(self, event: dict[str, Any]) -> None:
        if not self._pd.submit_event(event):
            logger.warning(
                "%s: libosdp refused event %s", self.device_id, event["event"]
            )

    def _on_command(self, command: dict[str, Any]) -> tuple[int, None]:
        try:
            self._record(command)
        except Exception:  # an exception must not reach libosdp's C code
            logger.exception("%s: command %s not recorded", self.device_id, command)
        self.line.changed()
        return 0, None

    def _record(self, command: dict[str, Any]) -> None:
        kind = command["command"]
        if kind == Command.Output:
            self._record_output(command)
        elif kind == Command.LED:
            self.leds.append(command)
        elif kind == Command.Buzzer:
            self.buzzes.append(command)
        logger.debug("%s received command %s", self.device_id, kind)

    def _record_output(self, command: dict[str, Any]) -> None:
        now = time.monotonic()
        output = OutputCommand(
            command["output_no"], command["control_code"], command["timer_count"], now
        )
        self.outputs.append(output)
        unlocks = (
            output.output_no == self.spec.relay_output
            and output.control_code == OUTPUT_TEMPORARY_ON
        )
        if not unlocks:
            return
        self.relay_on_until = now + output.seconds
        if self.walk_through_s is not None:
            hold_s, self.walk_through_s = self.walk_through_s, None
            self.line.schedule(WALK_IN_S, lambda: self._set_door(True))
            self.line.schedule(WALK_IN_S + hold_s, lambda: self._set_door(False))

    def _refresh(self) -> None:
        self._pd.refresh()
        online = bool(self._pd.is_online()) and (
            self.spec.scbk is None or bool(self._pd.is_sc_active())
        )
        if online == self.online:
            return
        self.online = online
        if online and self.first_online_at is None:
            self.first_online_at = time.monotonic()
            for step in self.spec.steps:
                self.line.schedule(step.at, functools.partial(self._run_step, step))
        self.line.changed()

    def _run_step(self, step: ScenarioStep) -> None:
        logger.debug("%s scenario step %s", self.device_id, step.kind)
        actions: dict[str, Callable[[], None]] = {
            "card": lambda: self._swipe(*_card(step), step.walk_through_s),
            "keypad": lambda: self._submit(_keypad_event(encode_keys(step.keys))),
            "door_open": lambda: self._set_door(True),
            "door_close": lambda: self._set_door(False),
            "forced_door": lambda: self._set_door(True),
            "input": lambda: self._set_input(step.input, step.active),
            "tamper": lambda: self._set_tamper(step.active),
            "offline": lambda: self._cut(step.duration_s),
        }
        actions[step.kind]()
        if step.kind == "forced_door" and step.hold_s is not None:
            self.line.schedule(step.hold_s, lambda: self._set_door(False))


class OsdpLineSim:
    """One simulated RS-485 line, as an async context manager.

    The pseudo-terminal is opened at construction, so ``port`` is known before the
    line starts; leaving the context closes it.
    """

    def __init__(
        self,
        name: str,
        baudrate: int,
        readers: list[ReaderSpec],
        *,
        libosdp_log_level: int = LogLevel.Error,
    ) -> None:
        self.name = name
        self._log_level = libosdp_log_level
        self.baudrate = baudrate
        self._master, self._slave = os.openpty()
        for fd in (self._master, self._slave):
            tty.setraw(fd)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self.readers = {
            spec.device_id: SimReader(spec, self, inputs=[0] * spec.inputs)
            for spec in readers
        }
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"osdp sim {name}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()

    def __getitem__(self, device_id: str) -> SimReader:
        return self.readers[device_id]

    @property
    def wiring(self) -> dict[str, Any]:
        """What the gateway needs to reach the readers of this line."""
        return {
            "line": self.name,
            "port": self.port,
            "baudrate": self.baudrate,
            "readers": [
                {
                    "device_id": reader.spec.device_id,
                    "address": reader.spec.address,
                    "scbk": None
                    if reader.spec.scbk is None
                    else reader.spec.scbk.hex(),
                    "profile": reader.spec.profile,
                }
                for reader in self.readers.values()
            ],
        }

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        osdp_sys.set_loglevel(self._log_level)  # libosdp keeps it per context
        for reader in self.readers.values():
            self._attach(reader)
        self._thread.start()
        logger.info("%s: OSDP line on %s", self.name, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        for reader in self.readers.values():
            reader._pd = None
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds, looked at whenever a reader's state changes;
        bound it with ``asyncio.timeout``."""
        while True:
            self._changed.clear()
            if condition():
                return
            await self._changed.wait()

    # --- for the readers -------------------------------------------------------------

    def call(self, action: Callable[[], None]) -> None:
        self._actions.put(action)

    def schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the line's thread ``delay_s`` from now (thread only)."""
        deadline = time.monotonic() + delay_s
        heapq.heappush(self._timers, (deadline, next(self._order), action))

    def changed(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._changed.set)

    # --- the line's thread -----------------------------------------------------------

    def _attach(self, reader: SimReader) -> None:
        spec = reader.spec
        reader._wire = _Wire(self._master)
        reader._pd = osdp_sys.PeripheralDevice(
            _pd_info(spec, reader._wire), capabilities=_capabilities(spec)
        )
        reader._pd.set_command_callback(reader._on_command)
        reader.inputs[spec.door_input] = int(not spec.door_open_when_active)
        reader._report_all()  # queued until the panel first polls

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                logger.exception("%s: simulator step failed", self.name)
            self._stop.wait(TICK_S)

    def _step(self) -> None:
        while True:
            try:
                self._actions.get_nowait()()
            except queue.Empty:
                break
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            action()
        heard = self._hear()
        for reader in self.readers.values():
            assert reader._wire is not None
            if heard and not reader._wire.cut:
                reader._wire.rx += heard
            reader._refresh()

    def _hear(self) -> bytes:
        try:
            return os.read(self._master, 4096)
        except OSError:  # nothing to read, or no one on the slave end yet
            return b""


def _card(step: ScenarioStep) -> tuple[int, bytes, int]:
    if step.raw_hex is not None:
        card_format = CardFormat.Wiegand if step.wiegand else CardFormat.Unspecified
        return step.bits, bytes.fromhex(step.raw_hex), card_format
    bits, data = encode_h10301(step.facility, step.card)
    return bits, data, CardFormat.Wiegand


def _keypad_event(data: bytes) -> dict[str, Any]:
    return {"event": Event.KeyPress, "reader_no": 0, "data": data}


def _status_event(report_type: int, report: bytes) -> dict[str, Any]:
    return {
        "event": Event.Status,
        "type": report_type,
        "nr_entries": len(report),
        "report": report,
    }


def _pd_info(spec: ReaderSpec, wire: _Wire) -> dict[str, Any]:
    return {
        "name": spec.device_id,
        "address": spec.address,
        "flags": LibFlag.EnforceSecure if spec.scbk is not None else 0,
        "scbk": spec.scbk,
        "channel": wire,
        "version": 1,
        "model": 1,
        "vendor_code": 0x504D53,
        "serial_number": 0x1000 + spec.address,
        "firmware_version": 0x010000,
    }


def _capabilities(spec: ReaderSpec) -> list[dict[str, int]]:
    capabilities = [
        (Capability.ContactStatusMonitoring, spec.inputs),
        (Capability.OutputControl, spec.outputs),
        (Capability.CardDataFormat, 1),
        (Capability.LEDControl, 1),
        (Capability.AudibleControl, 1),
        (Capability.Readers, 1),
    ]
    if spec.scbk is not None:
        capabilities.append((Capability.CommunicationSecurity, 1))
    return [
        {"function_code": code, "compliance_level": 1, "num_items": count}
        for code, count in capabilities
    ]


def osdp_line(section: Mapping[str, Any]) -> tuple[OsdpLineSim, dict[str, Any]]:
    """A simulated line from an ``[[osdp]]`` scenario section, and its wiring."""
    from sim.osdp.scenario import parse_section

    name, baudrate, readers = parse_section(section)
    line = OsdpLineSim(name, baudrate, readers)
    return line, line.wiring
