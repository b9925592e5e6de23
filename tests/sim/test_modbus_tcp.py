"""The Modbus TCP endpoint on a real loopback socket, read by pymodbus's client."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from sim.clock import ManualClock
from sim.modbus.slave import ModbusDevice
from sim.modbus.tcp import AbsentUnit, TcpEndpoint
from tests.sim.test_modbus_kit import make_device, write_profiles


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def devices(tmp_path: Path, clock: ManualClock) -> list[ModbusDevice]:
    folder = write_profiles(tmp_path)
    return [
        make_device("eastron_sdm120", clock=clock, unit_id=1),
        make_device("pams_test_device", clock=clock, unit_id=2, dirs=[folder]),
    ]


async def serve(
    devices: list[ModbusDevice], absent_unit: AbsentUnit = "silence"
) -> TcpEndpoint:
    endpoint = TcpEndpoint(devices=devices, port=0, absent_unit=absent_unit)
    await endpoint.start()
    return endpoint


@pytest.fixture
async def endpoint(devices: list[ModbusDevice]) -> AsyncIterator[TcpEndpoint]:
    running = await serve(devices)
    yield running
    await running.close()


@pytest.fixture
async def client(endpoint: TcpEndpoint) -> AsyncIterator[AsyncModbusTcpClient]:
    master = AsyncModbusTcpClient(
        "127.0.0.1", port=endpoint.port, timeout=0.3, retries=0, reconnect_delay=0
    )
    assert await master.connect()
    yield master
    master.close()


def test_port_zero_reports_the_bound_port(endpoint: TcpEndpoint) -> None:
    assert endpoint.port > 0


async def test_two_units_on_one_endpoint(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice]
) -> None:
    volts = await client.read_input_registers(0, count=2, device_id=1)
    temperature = await client.read_input_registers(0, count=2, device_id=2)

    value = struct.unpack(">f", struct.pack(">2H", *volts.registers))[0]
    assert Decimal(repr(value)).quantize(Decimal("0.01")) == devices[0].value("voltage")
    raw = struct.unpack(">i", struct.pack(">2H", *temperature.registers))[0]
    assert Decimal(raw) * Decimal("0.01") == devices[1].value("temperature")


async def test_word_swapped_counter_decodes_with_the_low_word_first(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice], clock: ManualClock
) -> None:
    clock.advance(5 * 3600)  # the test device's counters grow 1 Wh an hour

    reply = await client.read_holding_registers(2, count=2, device_id=2)

    low, high = reply.registers
    assert Decimal((high << 16) | low) * Decimal("0.01") == devices[1].value("energy")


async def test_an_absent_unit_is_silent(
    client: AsyncModbusTcpClient, endpoint: TcpEndpoint
) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=9)

    assert endpoint.stats.absent == 1
    assert not (await client.read_input_registers(0, count=2, device_id=1)).isError()


async def test_an_absent_unit_behind_a_gateway_gets_exception_0x0b(
    devices: list[ModbusDevice],
) -> None:
    endpoint = await serve(devices, absent_unit="gateway_exception")
    master = AsyncModbusTcpClient("127.0.0.1", port=endpoint.port, timeout=1)
    try:
        await master.connect()
        reply = await master.read_input_registers(0, count=2, device_id=9)
    finally:
        master.close()
        await endpoint.close()

    assert reply.isError()
    assert reply.exception_code == 0x0B


async def test_a_refused_block_is_exception_two_and_the_rest_reads(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice]
) -> None:
    devices[0].refuse_points(["import_energy"])

    refused = await client.read_input_registers(0x48, count=4, device_id=1)
    voltage = await client.read_input_registers(0, count=2, device_id=1)

    assert refused.exception_code == 2
    assert not voltage.isError()


async def test_a_late_reply_arrives_after_its_delay(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice]
) -> None:
    devices[0].faults.reply_late(0.2)
    started = time.monotonic()

    reply = await asyncio.wait_for(
        client.read_input_registers(0, count=2, device_id=1), timeout=2
    )

    assert not reply.isError()
    assert time.monotonic() - started >= 0.2


async def test_a_dead_meter_times_out(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice], clock: ManualClock
) -> None:
    devices[0].faults.go_silent(30)

    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=1)
    clock.advance(30)

    assert not (await client.read_input_registers(0, count=2, device_id=1)).isError()


async def test_coils_write_and_read_back(
    client: AsyncModbusTcpClient, devices: list[ModbusDevice]
) -> None:
    await client.write_coil(0, True, device_id=2)

    coils = await client.read_coils(0, count=2, device_id=2)

    assert coils.bits[:2] == [True, False]
    assert devices[1].value("relay") is True


async def test_a_foreign_protocol_id_is_ignored_and_a_bad_length_drops_the_link(
    endpoint: TcpEndpoint,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
    try:
        writer.write(struct.pack(">HHHBBHH", 1, 7, 6, 1, 4, 0, 2))
        writer.write(struct.pack(">HHHBBHH", 2, 0, 6, 1, 4, 0, 2))
        header = await asyncio.wait_for(reader.readexactly(7), timeout=1)
        assert struct.unpack(">HHHB", header) == (2, 0, 7, 1)
        await reader.readexactly(6)

        writer.write(struct.pack(">HHHB", 3, 0, 999, 1))
        assert await asyncio.wait_for(reader.read(), timeout=1) == b""
    finally:
        writer.close()
    assert endpoint.stats.bad_frames == 2
