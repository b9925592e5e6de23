"""One RS-485 line of Modbus RTU devices, played on a pseudo-terminal.

The simulator opens the pty pair itself and keeps both ends: the gateway opens the slave
path (``port``) as it would open /dev/ttyUSB0, and every device of the line listens on
the master end, as all meters on a real bus hear every frame. A frame ends when its
function code's length is reached or after 3.5 character times of silence; a device
answers only its own unit id and only frames whose CRC is right, and an absent unit id
gets no answer at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
import tty
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sim.modbus.crc import crc_ok, with_crc
from sim.modbus.slave import WRITE_CODES, ModbusDevice

logger = logging.getLogger(__name__)

_FIXED_LENGTH_CODES = frozenset({1, 2, 3, 4, 5, 6})
_BYTE_COUNT_CODES = frozenset({15, 16})
# A pty delivers a write in one piece, but a busy machine may split it; never call a
# frame finished sooner than this, whatever the baud rate says.
_MIN_SILENCE_S = 0.005


@dataclass(slots=True)
class LineStats:
    frames: int = 0
    bad_frames: int = 0
    absent: int = 0
    broadcasts: int = 0
    replies: int = 0


class RtuLine:
    """An async context manager; ``port`` is valid inside it."""

    def __init__(
        self,
        *,
        name: str,
        devices: Sequence[ModbusDevice],
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        wire_timing: bool = False,
    ) -> None:
        self.name = name
        self.devices = {device.unit_id: device for device in devices}
        if len(self.devices) != len(devices):
            raise ValueError(f"line {name}: two devices share a unit id")
        self.baudrate = baudrate
        self.parity = parity
        self.stopbits = stopbits
        self.bytesize = bytesize
        self.wire_timing = wire_timing
        self.stats = LineStats()
        bits = 1 + bytesize + (0 if parity == "N" else 1) + stopbits
        self.char_time_s = bits / baudrate
        t35 = 3.5 * self.char_time_s if baudrate <= 19200 else 0.00175
        self.silence_s = max(t35, _MIN_SILENCE_S)
        # What the gateway opens the pty with; see _frame_the_pty.
        self.port_parity = parity
        self.port_bytesize = bytesize
        self._master: int | None = None
        self._slave: int | None = None
        self._port: str | None = None
        self._buffer = bytearray()
        self._outgoing = bytearray()
        self._silence: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> str:
        """The path the gateway opens, e.g. /dev/pts/7."""
        if self._port is None:
            raise RuntimeError(f"line {self.name} is not started")
        return self._port

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        # Raw on the slave end: no echo back to us, no newline translation, no
        # line buffering; the gateway's serial library sets the same when it opens.
        tty.setraw(slave)
        self._frame_the_pty(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._port = os.ttyname(slave)
        self._loop.add_reader(master, self._on_readable)
        logger.info(
            "line %s on %s: units %s", self.name, self._port, sorted(self.devices)
        )

    def _frame_the_pty(self, slave: int) -> None:
        """Set the line's framing on the pty, or fall back to 8 data bits, no parity.

        A pty carries bytes, not bits: Linux clears parity and data-size settings on
        it, and some kernels refuse them outright (EINVAL), so a gateway asking for
        9600 8E1 could not even open the port. Then the port is left 8N1 and the
        wiring says so; frame timing still uses the line's own framing.
        """
        attributes = termios.tcgetattr(slave)
        cflag = attributes[2] & ~(termios.CSIZE | termios.PARENB | termios.PARODD)
        cflag |= termios.CS7 if self.bytesize == 7 else termios.CS8
        if self.parity != "N":
            cflag |= termios.PARENB | (termios.PARODD if self.parity == "O" else 0)
        if self.stopbits == 2:
            cflag |= termios.CSTOPB
        attributes[2] = cflag
        try:
            termios.tcsetattr(slave, termios.TCSANOW, attributes)
        except termios.error as exc:
            self.port_parity, self.port_bytesize = "N", 8
            tty.setraw(slave)
            logger.warning(
                "line %s: this kernel's pseudo-terminals refuse %d%s%d (%s); "
                "the gateway opens the port as 8N%d",
                self.name,
                self.bytesize,
                self.parity,
                self.stopbits,
                exc,
                self.stopbits,
            )

    async def close(self) -> None:
        if self._loop is None or self._master is None:
            return
        for handle in [*self._pending, self._silence]:
            if handle is not None:
                handle.cancel()
        self._pending.clear()
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        os.close(self._master)
        if self._slave is not None:
            os.close(self._slave)
        self._master = self._slave = None
        logger.info("line %s closed", self.name)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- receiving ---------------------------------------------------------------

    def _on_readable(self) -> None:
        assert self._master is not None and self._loop is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:
            # Cannot happen while we hold the slave end open; if it does, stop
            # reading rather than spin on a descriptor that stays readable.
            logger.exception("line %s: reading the pty failed", self.name)
            self._loop.remove_reader(self._master)
            return
        self._buffer += data
        self._take_frames()
        if self._silence is not None:
            self._silence.cancel()
        if self._buffer:
            self._silence = self._loop.call_later(self.silence_s, self._on_silence)

    def _take_frames(self) -> None:
        while self._buffer:
            length = _expected_length(self._buffer)
            if length is None or len(self._buffer) < length:
                return
            frame = bytes(self._buffer[:length])
            if not crc_ok(frame):
                return  # wait for silence: a real slave drops the whole burst
            del self._buffer[:length]
            self._on_frame(frame)

    def _on_silence(self) -> None:
        self._silence = None
        frame = bytes(self._buffer)
        self._buffer.clear()
        if crc_ok(frame):
            self._on_frame(frame)
            return
        self.stats.bad_frames += 1
        logger.debug(
            "line %s dropped %d bytes: bad CRC or framing", self.name, len(frame)
        )

    def _on_frame(self, frame: bytes) -> None:
        self.stats.frames += 1
        unit, pdu = frame[0], frame[1:-2]
        logger.debug("line %s <- unit %d %s", self.name, unit, pdu.hex())
        if unit == 0:
            self._broadcast(pdu)
            return
        device = self.devices.get(unit)
        if device is None:
            self.stats.absent += 1
            return
        reply = device.answer(pdu)
        if reply is None:
            return
        adu = with_crc(bytes([unit]) + reply.pdu)
        if reply.corrupt_crc:
            adu = adu[:-2] + bytes([adu[-2] ^ 0xFF, adu[-1]])
        delay = reply.delay_s + (len(adu) * self.char_time_s if self.wire_timing else 0)
        self._send_later(adu, delay)

    def _broadcast(self, pdu: bytes) -> None:
        """Unit 0: every device carries out a write and nobody answers."""
        self.stats.broadcasts += 1
        if pdu and pdu[0] in WRITE_CODES:
            for device in self.devices.values():
                device.process(pdu)

    # --- sending -----------------------------------------------------------------

    def _send_later(self, adu: bytes, delay_s: float) -> None:
        assert self._loop is not None
        if delay_s <= 0:
            self._send(adu)
            return
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._pending.discard(handle)
            self._send(adu)

        handle = self._loop.call_later(delay_s, fire)
        self._pending.add(handle)

    def _send(self, adu: bytes) -> None:
        if self._master is None:
            return
        self.stats.replies += 1
        logger.debug("line %s -> %s", self.name, adu.hex())
        self._outgoing += adu
        self._flush()

    def _flush(self) -> None:
        assert self._master is not None and self._loop is not None
        try:
            written = os.write(self._master, self._outgoing)
        except BlockingIOError:
            written = 0
        del self._outgoing[:written]
        if self._outgoing:
            self._loop.add_writer(self._master, self._flush)
        else:
            self._loop.remove_writer(self._master)


def _expected_length(buffer: bytearray) -> int | None:
    """Length of the request frame at the start of ``buffer``; None if not yet known
    or if only silence can tell (an unknown function code)."""
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if function in _FIXED_LENGTH_CODES:
        return 8
    if function in _BYTE_COUNT_CODES:
        return 9 + buffer[6] if len(buffer) >= 7 else None
    return None
