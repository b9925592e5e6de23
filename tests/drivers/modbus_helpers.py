"""Device ends for the Modbus driver tests: pymodbus' own server, and a pty link.

Neither uses the driver's code: the TCP server is pymodbus' simulator, and the RTU
device end builds its frames with the tiny CRC below, so a framing or decoding mistake
in the driver cannot be mirrored here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import tty
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def float32_words(value: float) -> list[int]:
    """ABCD words of a float32, by struct (not by the driver's encoder)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def int64_words(value: int) -> list[int]:
    return list(struct.unpack(">HHHH", struct.pack(">q", value)))


# --- Modbus TCP: pymodbus' own server ------------------------------------------------


@dataclass
class TcpDevice:
    """A pymodbus server on a free loopback port, recording every request it gets."""

    port: int
    requests: list[ModbusPDU] = field(default_factory=list)

    def reads(self) -> list[tuple[int, int, int]]:
        """(function code, address, count) of every read request, in order."""
        return [
            (pdu.function_code, pdu.address, pdu.count)
            for pdu in self.requests
            if pdu.function_code in (1, 2, 3, 4)
        ]


def register_block(start: int, words: dict[int, int], end: int) -> SimData:
    """Registers start..end-1, zero unless ``words`` gives a value."""
    values = [words.get(address, 0) for address in range(start, end)]
    return SimData(start, values=values, datatype=DataType.REGISTERS)


def bit_block(start: int, count: int) -> SimData:
    return SimData(start, values=[False] * count, datatype=DataType.BITS)


@asynccontextmanager
async def tcp_device(
    *,
    holding: list[SimData] | None = None,
    inputs: list[SimData] | None = None,
    coils: list[SimData] | None = None,
    unit_id: int = 1,
    action: Callable[..., object] | None = None,
) -> AsyncIterator[TcpDevice]:
    """Serve one unit over Modbus TCP; unlisted addresses answer exception 2."""
    device = SimDevice(
        id=unit_id,
        simdata=(
            coils or [bit_block(0, 16)],
            [bit_block(0, 16)],
            holding or [register_block(0, {}, 1)],
            inputs or [register_block(0, {}, 1)],
        ),
        action=action,  # type: ignore[arg-type]
    )
    recorded = TcpDevice(port=0)

    def trace_pdu(sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            recorded.requests.append(pdu)
        return pdu

    server = ModbusTcpServer(device, address=("127.0.0.1", 0), trace_pdu=trace_pdu)
    await server.serve_forever(background=True)
    recorded.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield recorded
    finally:
        await server.shutdown()


# --- Modbus RTU: a device played by hand on a pseudo-terminal ----------------------


def crc16_modbus(data: bytes) -> bytes:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def rtu_frame(unit_id: int, pdu: bytes) -> bytes:
    body = bytes([unit_id]) + pdu
    return body + crc16_modbus(body)


def read_reply(unit_id: int, function: int, words: list[int]) -> bytes:
    data = b"".join(word.to_bytes(2, "big") for word in words)
    return rtu_frame(unit_id, bytes([function, len(data)]) + data)


def exception_reply(unit_id: int, function: int, code: int) -> bytes:
    return rtu_frame(unit_id, bytes([function | 0x80, code]))


@dataclass(frozen=True)
class RtuRequest:
    unit_id: int
    function: int
    address: int
    count: int
    frame: bytes


class PtyLink:
    """The device end of a pseudo-terminal; the driver opens ``path`` with pyserial
    exactly as it would open /dev/ttyUSB0."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self._buffer = b""
        self.requests: asyncio.Queue[RtuRequest] = asyncio.Queue()
        self.received: list[RtuRequest] = []
        self.bad_frames: list[bytes] = []  # frames from the driver with a wrong CRC
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self._slave)

    def send(self, frame: bytes) -> None:
        os.write(self.master, frame)

    async def next_request(self, timeout_s: float = 5.0) -> RtuRequest:
        async with asyncio.timeout(timeout_s):
            return await self.requests.get()

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._buffer += os.read(self.master, 4096)
        while len(self._buffer) >= 8:
            size = 8
            if self._buffer[1] in (15, 16):
                if len(self._buffer) < 7:
                    return
                size = 9 + self._buffer[6]
            if len(self._buffer) < size:
                return
            frame, self._buffer = self._buffer[:size], self._buffer[size:]
            if crc16_modbus(frame[:-2]) != frame[-2:]:
                self.bad_frames.append(frame)
                continue
            address, count = struct.unpack(">HH", frame[2:6])
            request = RtuRequest(frame[0], frame[1], address, count, frame)
            self.received.append(request)
            self.requests.put_nowait(request)


@asynccontextmanager
async def serving(
    link: PtyLink, units: dict[int, dict[int, int]]
) -> AsyncIterator[None]:
    """Answer FC 03/04 reads for the listed units from their word maps; other units
    stay silent, as an absent meter on RS-485 does."""

    async def answer() -> None:
        while True:
            request = await link.requests.get()
            registers = units.get(request.unit_id)
            if registers is None:
                continue
            end = request.address + request.count
            words = [
                registers.get(address, 0) for address in range(request.address, end)
            ]
            link.send(read_reply(request.unit_id, request.function, words))

    task = asyncio.create_task(answer(), name="rtu device")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
