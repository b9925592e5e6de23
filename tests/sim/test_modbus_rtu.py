"""The RS-485 line on a real pseudo-terminal, read by pymodbus as a third-party master
and by raw frames where the test needs to see bytes pymodbus would hide."""

from __future__ import annotations

import asyncio
import os
import struct
import time
import tty
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from sim.clock import ManualClock
from sim.modbus.crc import crc16, crc_ok, with_crc
from sim.modbus.rtu import RtuLine
from sim.modbus.slave import ModbusDevice
from tests.sim.test_modbus_kit import make_device, write_profiles


class RawPort:
    """The gateway's end of the pty, spoken to byte by byte."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.received = bytearray()
        self._arrived = asyncio.Event()
        asyncio.get_running_loop().add_reader(self.fd, self._on_readable)

    def _on_readable(self) -> None:
        self.received += os.read(self.fd, 4096)
        self._arrived.set()

    def send(self, frame: bytes) -> None:
        os.write(self.fd, frame)

    async def receive(self, size: int, within: float) -> bytes:
        async with asyncio.timeout(within):
            while len(self.received) < size:
                self._arrived.clear()
                await self._arrived.wait()
        frame = bytes(self.received[:size])
        del self.received[:size]
        return frame

    async def nothing_within(self, seconds: float) -> bool:
        with pytest.raises(TimeoutError):
            await self.receive(1, within=seconds)
        return not self.received

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


@pytest.fixture
def clock() -> ManualClock:
    """The meters' clock: faults and physics move when the test says, the bus in
    real time."""
    return ManualClock()


@pytest.fixture
def meters(tmp_path: Path, clock: ManualClock) -> list[ModbusDevice]:
    folder = write_profiles(tmp_path)
    return [
        make_device("eastron_sdm120", clock=clock, unit_id=1),
        make_device("eastron_sdm120", clock=clock, unit_id=2, seed="other"),
        make_device("pams_test_water", clock=clock, unit_id=10, dirs=[folder]),
    ]


@pytest.fixture
async def line(meters: list[ModbusDevice]) -> AsyncIterator[RtuLine]:
    async with RtuLine(name="apartments", devices=meters, baudrate=9600) as running:
        yield running


@pytest.fixture
async def client(line: RtuLine) -> AsyncIterator[AsyncModbusSerialClient]:
    master = AsyncModbusSerialClient(
        line.port, baudrate=9600, timeout=0.3, retries=0, reconnect_delay=0
    )
    assert await master.connect()
    yield master
    master.close()


@pytest.fixture
async def raw(line: RtuLine) -> AsyncIterator[RawPort]:
    port = RawPort(line.port)
    yield port
    port.close()


def read_request(unit: int, function: int, address: int, count: int) -> bytes:
    return with_crc(struct.pack(">BBHH", unit, function, address, count))


def test_crc_matches_the_frames_seen_in_the_field() -> None:
    # register_maps.md G: esphome#4532 and solaredge_modbus#43.
    assert crc_ok(bytes.fromhex("01 04 00 00 00 50 F0 36"))
    assert crc_ok(bytes.fromhex("01 03 04 00 00 3F 80 EA 63"))
    assert crc16(bytes.fromhex("01 04 00 00 00 50")) == 0x36F0


def test_the_port_is_a_real_terminal(line: RtuLine) -> None:
    assert line.port.startswith("/dev/pts/")
    fd = os.open(line.port, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)


async def test_pymodbus_reads_each_meter_on_the_line(
    client: AsyncModbusSerialClient, meters: list[ModbusDevice]
) -> None:
    for meter in meters[:2]:
        reply = await client.read_input_registers(0, count=2, device_id=meter.unit_id)

        volts = struct.unpack(">f", struct.pack(">2H", *reply.registers))[0]
        served = meter.last_served("voltage")
        assert served is not None
        assert Decimal(repr(volts)).quantize(Decimal("0.01")) == served.value
        assert meter.stats.replies == 1


async def test_an_absent_unit_gets_no_reply_and_the_line_goes_on(
    client: AsyncModbusSerialClient, line: RtuLine
) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=7)

    reply = await client.read_input_registers(0, count=2, device_id=1)

    assert not reply.isError()
    assert line.stats.absent == 1


async def test_the_valve_closes_over_the_line(
    client: AsyncModbusSerialClient, meters: list[ModbusDevice]
) -> None:
    water = meters[2]

    written = await client.write_register(0x001C, 2, device_id=10)
    status = await client.read_holding_registers(0x001C, count=1, device_id=10)

    assert not written.isError()
    assert status.registers == [2]
    assert water.value("valve") == 2


async def test_read_only_bits_of_a_command_register_are_not_written(
    client: AsyncModbusSerialClient, meters: list[ModbusDevice]
) -> None:
    # Close (0x2) with the battery-low bit (0x8) set: only the valve's bits count.
    await client.write_register(0x001C, 0x000A, device_id=10)

    status = await client.read_holding_registers(0x001C, count=1, device_id=10)

    assert status.registers == [0x0002]
    assert meters[2].value("battery_low") == 0


async def test_a_refused_block_is_exception_two(
    client: AsyncModbusSerialClient, meters: list[ModbusDevice]
) -> None:
    meters[0].refuse_points(["frequency"])

    refused = await client.read_input_registers(0x46, count=2, device_id=1)
    fine = await client.read_input_registers(0x48, count=2, device_id=1)

    assert refused.isError() and refused.exception_code == 2
    assert not fine.isError()


async def test_a_bad_crc_gets_silence_then_a_good_frame_an_answer(
    raw: RawPort, line: RtuLine
) -> None:
    good = read_request(1, 0x04, 0, 2)
    raw.send(good[:-1] + bytes([good[-1] ^ 0x01]))

    assert await raw.nothing_within(0.1)
    assert line.stats.bad_frames == 1
    raw.send(good)
    reply = await raw.receive(9, within=1)

    assert reply[:3] == bytes([1, 0x04, 4])
    assert crc_ok(reply)


async def test_a_frame_split_across_writes_is_one_request(raw: RawPort) -> None:
    frame = read_request(2, 0x04, 0, 2)

    raw.send(frame[:3])
    raw.send(frame[3:])
    reply = await raw.receive(9, within=1)

    assert reply[:2] == bytes([2, 0x04])


async def test_an_unknown_function_is_framed_by_silence(raw: RawPort) -> None:
    raw.send(with_crc(bytes([1, 0x2B, 0x0E, 0x01, 0x00])))

    reply = await raw.receive(5, within=1)

    assert reply == with_crc(bytes([1, 0xAB, 0x01]))


async def test_a_late_reply_arrives_after_its_delay(
    raw: RawPort, meters: list[ModbusDevice]
) -> None:
    meters[0].faults.reply_late(0.3)
    started = time.monotonic()

    raw.send(read_request(1, 0x04, 0, 2))
    assert await raw.nothing_within(0.2)
    reply = await raw.receive(9, within=1)

    assert time.monotonic() - started >= 0.3
    assert crc_ok(reply)


async def test_a_corrupted_reply_fails_its_crc(
    raw: RawPort, meters: list[ModbusDevice]
) -> None:
    meters[1].faults.corrupt_crc()

    raw.send(read_request(2, 0x04, 0, 2))
    reply = await raw.receive(9, within=1)

    assert reply[:2] == bytes([2, 0x04])
    assert not crc_ok(reply)
    assert meters[1].stats.bad_crc == 1


async def test_a_dead_meter_is_silent_and_comes_back(
    client: AsyncModbusSerialClient, meters: list[ModbusDevice], clock: ManualClock
) -> None:
    meters[0].faults.go_silent(60)

    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=1)
    other = await client.read_input_registers(0, count=2, device_id=2)
    clock.advance(60)
    back = await client.read_input_registers(0, count=2, device_id=1)

    assert not other.isError()
    assert not back.isError()
    assert meters[0].stats.silent == 1


async def test_a_broadcast_write_reaches_the_meter_and_nobody_answers(
    raw: RawPort, meters: list[ModbusDevice], line: RtuLine
) -> None:
    raw.send(with_crc(struct.pack(">BBHH", 0, 0x06, 0x001C, 2)))

    assert await raw.nothing_within(0.1)
    assert meters[2].value("valve") == 2
    assert line.stats.broadcasts == 1
