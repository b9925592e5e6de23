"""The Modbus driver against pymodbus' own TCP server on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pymodbus.constants import ExcCodes

from drivers.modbus import CommandError, ModbusTcpBus, load_profile, parse_profile
from drivers.types import Quality, Reading
from tests.conftest import free_port

from .modbus_helpers import (
    FakeClock,
    bit_block,
    float32_words,
    int64_words,
    register_block,
    tcp_device,
)


def by_point(readings: list[Reading]) -> dict[str, Reading]:
    return {reading.point: reading for reading in readings}


def refusing(table_function: int, addresses: set[int]) -> Callable[..., Any]:
    """A pymodbus action answering exception 2 to any read touching ``addresses``."""

    async def action(
        function_code: int,
        _start: int,
        address: int,
        count: int,
        _registers: list[int],
        _values: object,
    ) -> ExcCodes | None:
        asked = set(range(address, address + count))
        if function_code == table_function and asked & addresses:
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    return action


FOUR_POINTS = parse_profile(
    {
        "profile": {
            "id": "four_points",
            "protocol": "modbus",
            "kind": "electricity_meter",
            "sources": ["test"],
        },
        "modbus": {"max_gap": 10},
        "points": [
            {"name": "a", "table": "input", "address": 0, "type": "float32"},
            {"name": "b", "table": "input", "address": 2, "type": "float32"},
            {"name": "c", "table": "input", "address": 4, "type": "uint16"},
            {"name": "d", "table": "input", "address": 6, "type": "float32"},
        ],
    }
)
VOLTMETER = parse_profile(
    {
        "profile": {"id": "voltmeter", "protocol": "modbus", "sources": ["test"]},
        "modbus": {},
        "points": [
            {"name": "voltage", "table": "input", "address": 0, "type": "float32"},
        ],
    }
)
FOUR_WORDS = {
    0: float32_words(230.5)[0],
    1: float32_words(230.5)[1],
    2: float32_words(1.5)[0],
    3: float32_words(1.5)[1],
    4: 7,
    6: float32_words(50.0)[0],
    7: float32_words(50.0)[1],
}


async def test_refused_point_is_split_out_and_retried_rarely() -> None:
    refused = {4}
    clock = FakeClock()
    async with (
        tcp_device(
            inputs=[register_block(0, FOUR_WORDS, 8)], action=refusing(4, refused)
        ) as server,
        ModbusTcpBus(
            "127.0.0.1",
            server.port,
            timeout_s=2.0,
            unsupported_retry_s=600,
            clock=clock,
        ) as bus,
    ):
        meter = bus.add_device("meter-1", 1, FOUR_POINTS)

        first = by_point(await meter.poll())

        assert first["a"].value == Decimal("230.5")
        assert first["b"].value == Decimal("1.5")
        assert first["d"].value == Decimal(50)
        assert all(first[name].quality is Quality.GOOD for name in "abd")
        assert first["c"].quality is Quality.UNAVAILABLE
        assert first["c"].value is None
        assert first["c"].reason == (
            "unsupported: exception 2 (ILLEGAL DATA ADDRESS) from unit 1 to FC 04 "
            "input 4..4 (1 registers); retried every 600 s"
        )
        assert server.reads() == [
            (4, 0, 8),  # the merged block: refused
            (4, 0, 4),  # first half: a, b
            (4, 4, 4),  # second half: refused
            (4, 4, 1),  # c alone: refused
            (4, 6, 2),  # d alone
        ]
        assert meter.online
        assert meter.unsupported == {"c": first["c"].reason}

        server.requests.clear()
        second = by_point(await meter.poll())
        assert server.reads() == [(4, 0, 4), (4, 6, 2)]  # register 4 is not asked
        assert second["c"].reason == first["c"].reason
        assert second["d"].value == Decimal(50)

        server.requests.clear()
        clock.advance(599)
        await meter.poll()
        assert server.reads() == [(4, 0, 4), (4, 6, 2)]

        server.requests.clear()
        clock.advance(1)
        refused.clear()  # a firmware update makes the register readable
        third = by_point(await meter.poll())
        assert server.reads() == [(4, 0, 4), (4, 6, 2), (4, 4, 1)]
        assert third["c"].value == Decimal(7)
        assert meter.unsupported == {}

        server.requests.clear()
        await meter.poll()
        assert server.reads() == [(4, 0, 8)]  # merged again


async def test_sdm630_without_thd_registers_still_delivers_every_other_point() -> None:
    profile = load_profile("eastron_sdm630")
    words: dict[int, int] = {}
    for index, point in enumerate(profile.points):
        words.update(
            zip(
                range(point.address, point.end), float32_words(index + 0.5), strict=True
            )
        )
    thd = set(range(0xEA, 0xFA))  # a smaller model: voltage THD is not there

    async with (
        tcp_device(
            inputs=[register_block(0, words, 0x180)], action=refusing(4, thd)
        ) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        meter = bus.add_device("sdm630-1", 1, profile)
        readings = await meter.poll()
        server.requests.clear()
        await meter.poll()

    unsupported = {r.point for r in readings if r.quality is Quality.UNAVAILABLE}
    assert unsupported == {
        "voltage_thd_l1",
        "voltage_thd_l2",
        "voltage_thd_l3",
        "voltage_thd_average",
    }
    for index, (point, reading) in enumerate(
        zip(profile.points, readings, strict=True)
    ):
        assert reading.point == point.name
        if point.name not in unsupported:
            assert reading.value == Decimal(index) + Decimal("0.5"), point.name
    assert all(not thd & set(range(a, a + n)) for _, a, n in server.reads())
    assert len(server.reads()) == 3


async def test_iem3000_64_bit_energy_is_exact_end_to_end() -> None:
    # Wire addresses from mbmd's iem3000.go, not from our profile: an off-by-one in
    # the profile's 1-based numbering would read the neighbouring register.
    words = {
        **dict(zip(range(2999, 3001), float32_words(12.5), strict=True)),
        **dict(zip(range(3027, 3029), float32_words(230.2), strict=True)),
        **dict(zip(range(3203, 3207), int64_words(12345678), strict=True)),
        **dict(zip(range(3207, 3211), int64_words(2**53 + 1), strict=True)),
    }
    async with (
        tcp_device(holding=[register_block(2990, words, 3540)], unit_id=7) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        meter = bus.add_device("iem-1", 7, load_profile("schneider_iem3000"))
        readings = by_point(await meter.poll())

    assert readings["current_l1"].value == Decimal("12.5")
    assert readings["voltage_l1"].value == Decimal("230.2")
    assert str(readings["import_energy"].value) == "12345.678"
    assert readings["import_energy"].unit == "kWh"
    # Past what a float64 holds exactly, and past the plausible range: still exact.
    export = readings["export_energy"]
    assert export.value == Decimal("9007199254740.993")
    assert export.quality is Quality.OUT_OF_RANGE
    assert export.reason == (
        "export_energy: 9007199254740.993 kWh is outside the plausible range "
        "[0, 10000000000]"
    )


async def test_uint64_max_reaches_the_reading_exactly() -> None:
    profile = parse_profile(
        {
            "profile": {"id": "wide", "protocol": "modbus", "sources": ["test"]},
            "modbus": {},
            "points": [
                {
                    "name": "pulses",
                    "table": "holding",
                    "address": 100,
                    "type": "uint64",
                    "order": "CDAB",
                    "scale": "0.001",
                    "kind": "counter",
                }
            ],
        }
    )
    async with (
        tcp_device(
            holding=[register_block(100, dict.fromkeys(range(100, 104), 0xFFFF), 104)]
        ) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        (reading,) = await bus.add_device("counter-1", 1, profile).poll()

    assert str(reading.value) == "18446744073709551.615"


async def test_connection_refused_is_a_reason_not_an_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens here
    caplog.set_level(logging.DEBUG, logger="drivers.modbus.bus")

    async with ModbusTcpBus("127.0.0.1", port, timeout_s=1.0) as bus:
        meter = bus.add_device("meter-9", 1, FOUR_POINTS)
        readings = await meter.poll()

    assert [r.quality for r in readings] == [Quality.UNAVAILABLE] * 4
    # The bus tried once when it opened; the poll is told when it tries again.
    assert readings[0].reason is not None
    assert readings[0].reason.startswith(f"connection refused by 127.0.0.1:{port}")
    assert not meter.online
    assert meter.last_error == readings[0].reason
    device_lines = [r for r in caplog.records if r.getMessage().startswith("meter-9")]
    assert [r.levelname for r in device_lines] == ["WARNING"]


async def test_other_exception_codes_mark_the_block_but_the_device_answered() -> None:
    async def busy(function_code: int, *_: object) -> ExcCodes:
        return ExcCodes.DEVICE_BUSY

    async with (
        tcp_device(inputs=[register_block(0, FOUR_WORDS, 8)], action=busy) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        meter = bus.add_device("meter-1", 1, FOUR_POINTS)
        readings = await meter.poll()

    assert readings[0].reason == (
        "exception 6 (SERVER DEVICE BUSY) from unit 1 to FC 04 input 0..7 (8 registers)"
    )
    assert server.reads() == [(4, 0, 8)]  # busy is not a reason to split
    assert meter.online
    assert meter.unsupported == {}


# --- writes --------------------------------------------------------------------------


async def test_close_the_water_valve_and_read_it_back() -> None:
    profile = load_profile("xintai_water_meter")
    words = {0x001C: 0x0001 | 0x0008}  # open, battery low
    async with (
        tcp_device(holding=[register_block(0, words, 0x20)], unit_id=3) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        meter = bus.add_device("water-1", 3, profile)
        before = by_point(await meter.poll())

        readback = await meter.write("valve", "closed")

        writes = [p for p in server.requests if p.function_code == 6]
        after = by_point(await meter.poll())

    assert before["valve"].value == "open"
    assert before["battery_low"].value == "low"
    assert [(w.address, list(w.registers)) for w in writes] == [(0x001C, [0x0002])]
    assert readback.point == "valve"
    assert readback.value == "closed"
    assert readback.quality is Quality.GOOD
    assert after["valve"].value == "closed"


async def test_write_float_with_fc16_and_coil_with_fc05() -> None:
    profile = parse_profile(
        {
            "profile": {"id": "controller", "protocol": "modbus", "sources": ["test"]},
            "modbus": {},
            "points": [
                {
                    "name": "setpoint",
                    "table": "holding",
                    "address": 10,
                    "type": "float32",
                    "order": "CDAB",
                    "unit": "°C",
                    "access": "rw",
                },
                {
                    "name": "relay",
                    "table": "coil",
                    "address": 3,
                    "type": "bool",
                    "access": "rw",
                },
            ],
        }
    )
    async with (
        tcp_device(
            holding=[register_block(0, {}, 20)], coils=[bit_block(0, 16)]
        ) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        device = bus.add_device("hvac-1", 1, profile)
        setpoint = await device.write("setpoint", Decimal("21.5"))
        relay = await device.write("relay", True)

    high, low = struct.unpack(">HH", struct.pack(">f", 21.5))
    fc16 = [p for p in server.requests if p.function_code == 16]
    fc05 = [p for p in server.requests if p.function_code == 5]
    assert [(p.address, list(p.registers)) for p in fc16] == [(10, [low, high])]
    assert [(p.address, list(p.bits)) for p in fc05] == [(3, [True])]
    assert setpoint.value == Decimal("21.5")
    assert relay.value is True


async def test_refused_write_raises_with_the_exception_named() -> None:
    async def read_only(function_code: int, *_: object) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_FUNCTION if function_code == 6 else None

    async with (
        tcp_device(
            holding=[register_block(0, {0x1C: 1}, 0x20)], action=read_only
        ) as server,
        ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0) as bus,
    ):
        meter = bus.add_device("water-1", 1, load_profile("xintai_water_meter"))
        with pytest.raises(CommandError) as refused:
            await meter.write("valve", "closed")
        with pytest.raises(CommandError) as read_only_point:
            await meter.write("flow_rate", 1)
        with pytest.raises(CommandError) as bad_value:
            await meter.write("valve", "half-open")
        with pytest.raises(CommandError) as unknown:
            await meter.write("pressure", 1)

    assert str(refused.value) == (
        "water-1: writing 'closed' to 'valve' failed: exception 1 (ILLEGAL FUNCTION) "
        "from unit 1 to write holding 28"
    )
    assert str(read_only_point.value) == "water-1: point 'flow_rate' is read-only"
    assert str(bad_value.value) == (
        "water-1: point 'valve' has no state 'half-open'; states are open, closed"
    )
    assert str(unknown.value) == (
        "water-1: profile xintai_water_meter has no point named 'pressure'"
    )


async def test_late_tcp_reply_is_matched_by_transaction_id() -> None:
    """The answer to a timed-out request arrives while the next one waits, just
    before the right answer: the transaction id tells them apart. The device is
    played by hand here, because pymodbus' server answers in order."""
    requests: list[bytes] = []

    def reply(request: bytes, value: float) -> bytes:
        data = b"".join(w.to_bytes(2, "big") for w in float32_words(value))
        pdu = bytes([request[7], len(data)]) + data
        return (
            request[:2]
            + b"\x00\x00"
            + (len(pdu) + 1).to_bytes(2, "big")
            + request[6:7]
            + pdu
        )

    async def slow_device(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        first = await reader.readexactly(12)  # MBAP header + FC 04 request
        second = await reader.readexactly(12)
        requests.extend([first, second])
        writer.write(reply(first, 111.0) + reply(second, 222.0))
        await writer.drain()
        await reader.read()  # until the driver closes
        writer.close()

    server = await asyncio.start_server(slow_device, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, ModbusTcpBus("127.0.0.1", port, timeout_s=0.2) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        (first,) = await meter.poll()
        (second,) = await meter.poll()

    assert first.reason == (
        "timeout: no reply within 0.2 s to unit 1 FC 04 input 0..1 (2 registers)"
    )
    assert [request[:2] for request in requests] == [b"\x00\x01", b"\x00\x02"]
    assert second.value == Decimal(222)


async def test_tcp_connection_is_made_again_after_timeouts_in_a_row() -> None:
    answering = asyncio.Event()

    async def hang_until_answering(*_: object) -> None:
        await answering.wait()

    async with (
        tcp_device(
            inputs=[register_block(0, dict(enumerate(float32_words(1.0))), 2)],
            action=hang_until_answering,
        ) as server,
        ModbusTcpBus(
            "127.0.0.1", server.port, timeout_s=0.05, reconnect_after_timeouts=2
        ) as bus,
    ):
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        await meter.poll()
        await meter.poll()
        answering.set()
        (reading,) = await meter.poll()

    assert bus.stats.connects == 2
    assert bus.stats.timeouts == 2
    assert reading.value == Decimal(1)


async def test_the_bus_closes_when_a_cancel_is_swallowed_as_the_reply_lands() -> None:
    """Python 3.11's asyncio.wait_for, inside pymodbus, may return the reply and drop
    a cancel that arrived with it; closing the bus must not hang on that."""
    async with tcp_device(
        inputs=[register_block(0, dict(enumerate(float32_words(1.0))), 2)]
    ) as server:
        bus = ModbusTcpBus("127.0.0.1", server.port, timeout_s=2.0)
        await bus.__aenter__()
        assert bus._client is not None
        execute = bus._client.execute
        in_flight = asyncio.Event()

        async def execute_dropping_a_cancel(*args: Any, **kwargs: Any) -> Any:
            in_flight.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.2)  # the cancel lands while the reply is due
            return await execute(*args, **kwargs)

        bus._client.execute = execute_dropping_a_cancel  # type: ignore[method-assign]
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        poll = asyncio.create_task(meter.poll())
        await in_flight.wait()

        async with asyncio.timeout(3):
            await bus.__aexit__(None, None, None)
        (reading,) = await poll

    assert (reading.quality, reading.value) == (Quality.GOOD, Decimal(1))
