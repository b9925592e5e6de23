"""The Modbus driver on RS-485, over a real pseudo-terminal.

The test plays the meter on the pty's master end with frames it builds itself; the
driver opens the slave path with pyserial as it would open /dev/ttyUSB0. Timeouts are
real (a few hundred ms), because what is tested is what happens on a real line when a
reply comes late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from drivers.modbus import ModbusRtuBus, parse_profile
from drivers.types import Quality

from .modbus_helpers import (
    FakeClock,
    PtyLink,
    exception_reply,
    float32_words,
    read_reply,
    rtu_frame,
    serving,
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
TIMEOUT_S = 0.2
LATE_S = 0.3  # the slow meter answers this long after the request


@pytest.fixture
async def link() -> AsyncIterator[PtyLink]:
    pty = PtyLink()
    yield pty
    pty.close()
    assert pty.bad_frames == []


def voltage_of(register_words: list[int]) -> dict[int, int]:
    return dict(enumerate(register_words))


async def slow_meter_timeline(link: PtyLink, bus: ModbusRtuBus) -> tuple[object, ...]:
    """A meter that answers the first request too late, then the next one at once.

    The meter is one device: it answers in order, so its answer to the second request
    can only leave after its late answer to the first.
    """
    meter = bus.add_device("meter-1", 1, VOLTMETER)
    loop = asyncio.get_running_loop()
    late_answer_sent = asyncio.Event()

    def send_late_answer() -> None:
        link.send(read_reply(1, 4, float32_words(111.0)))
        late_answer_sent.set()

    first_poll = asyncio.create_task(meter.poll())
    first_request = await link.next_request()
    loop.call_later(LATE_S, send_late_answer)
    first = await first_poll

    second_poll = asyncio.create_task(meter.poll())
    second_request = await link.next_request()
    await late_answer_sent.wait()
    link.send(read_reply(1, 4, float32_words(222.0)))
    second = await second_poll
    return first_request, second_request, first, second


async def test_a_late_reply_is_never_taken_as_the_next_answer(link: PtyLink) -> None:
    async with ModbusRtuBus(link.path, baudrate=9600, timeout_s=TIMEOUT_S) as bus:
        first_request, second_request, first, second = await slow_meter_timeline(
            link, bus
        )
        stats = bus.stats

    assert first_request == second_request  # identical frames: only timing tells
    (first_reading,) = first  # type: ignore[misc]
    assert first_reading.quality is Quality.UNAVAILABLE
    assert first_reading.reason == (
        "timeout: no reply within 0.2 s to unit 1 FC 04 input 0..1 (2 registers)"
    )
    (second_reading,) = second  # type: ignore[misc]
    assert second_reading.quality is Quality.GOOD
    assert second_reading.value == Decimal(222)
    assert stats.late_replies == 1  # the late answer did arrive, and was dropped
    assert stats.timeouts == 1


async def test_control_without_the_guard_the_late_reply_fools_the_driver(
    link: PtyLink,
) -> None:
    """The same timeline with the post-timeout guard switched off: the late answer
    lands while the second request waits and is taken for it. This is the failure the
    guard exists for, and shows the test above measures something."""
    async with ModbusRtuBus(
        link.path, baudrate=9600, timeout_s=TIMEOUT_S, late_reply_guard_s=0
    ) as bus:
        *_, second = await slow_meter_timeline(link, bus)

    (second_reading,) = second  # type: ignore[misc]
    assert second_reading.value == Decimal(111)


async def test_absent_unit_times_out_without_affecting_its_neighbour(
    link: PtyLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="drivers.modbus.bus")
    units = {1: voltage_of(float32_words(230.2))}  # unit 7 is not on the line

    async with (
        serving(link, units),
        ModbusRtuBus(link.path, baudrate=19200, timeout_s=TIMEOUT_S) as bus,
    ):
        present = bus.add_device("meter-1", 1, VOLTMETER)
        absent = bus.add_device("meter-7", 7, VOLTMETER)
        together = await asyncio.gather(present.poll(), absent.poll(), present.poll())

    (first,), (missing,), (again,) = together
    assert first.value == Decimal("230.2")
    assert again.value == Decimal("230.2")
    assert missing.quality is Quality.UNAVAILABLE
    assert missing.reason == (
        "timeout: no reply within 0.2 s to unit 7 FC 04 input 0..1 (2 registers)"
    )
    assert present.online
    assert not absent.online
    assert absent.last_error == missing.reason
    assert [r.unit_id for r in link.received] == [1, 7, 1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"meter-7: no answer, points unavailable: {missing.reason}"]


async def test_dead_meter_is_backed_off_so_it_cannot_starve_the_bus(
    link: PtyLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="drivers.modbus.bus")
    clock = FakeClock()
    units: dict[int, dict[int, int]] = {}  # nobody answers yet

    async with (
        serving(link, units),
        ModbusRtuBus(
            link.path,
            timeout_s=0.05,
            late_reply_guard_s=0,
            backoff_after=2,
            backoff_base_s=10,
            backoff_max_s=15,
            clock=clock,
        ) as bus,
    ):
        meter = bus.add_device("meter-5", 5, VOLTMETER)
        await meter.poll()
        await meter.poll()
        assert len(link.received) == 2
        assert meter.consecutive_failures == 2

        (skipped,) = await meter.poll()  # inside the back-off: nothing is sent
        assert len(link.received) == 2
        assert skipped.reason is not None
        assert skipped.reason.startswith(
            "not polled: unit 5 failed 2 polls in a row, next attempt in 10.0 s"
        )

        clock.advance(10)
        await meter.poll()  # tried, fails again: the delay doubles up to the cap
        assert len(link.received) == 3
        clock.advance(14.9)
        await meter.poll()
        assert len(link.received) == 3

        units[5] = voltage_of(float32_words(229.9))  # the meter is back
        clock.advance(0.1)
        (reading,) = await meter.poll()

    assert reading.value == Decimal("229.9")
    assert meter.online
    assert meter.consecutive_failures == 0
    assert meter.last_error is None
    lines = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name.endswith("bus")
    ]
    device_lines = [
        (level, text) for level, text in lines if text.startswith("meter-5")
    ]
    assert [level for level, _ in device_lines] == [
        "WARNING",
        "DEBUG",
        "INFO",
        "DEBUG",
        "INFO",
    ]
    assert device_lines[-1] == (
        "INFO",
        "meter-5: unit 5 answers again after 3 failed polls",
    )


async def test_crc_error_is_named(link: PtyLink) -> None:
    async with ModbusRtuBus(link.path, timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        poll = asyncio.create_task(meter.poll())
        await link.next_request()
        good = read_reply(1, 4, float32_words(230.0))
        link.send(good[:-2] + bytes([good[-2] ^ 0xFF, good[-1]]))
        (reading,) = await poll

    assert reading.quality is Quality.UNAVAILABLE
    assert reading.reason is not None
    assert reading.reason.startswith(
        "CRC error in the 9 bytes received (01 04 04 43 66"
    )
    assert reading.reason.endswith("to unit 1 FC 04 input 0..1 (2 registers)")
    assert bus.stats.garbled == 1


async def test_reply_with_the_wrong_function_code_is_refused(link: PtyLink) -> None:
    async with ModbusRtuBus(link.path, timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        poll = asyncio.create_task(meter.poll())
        await link.next_request()
        link.send(read_reply(1, 3, float32_words(230.0)))  # FC 03 to an FC 04 read
        (reading,) = await poll

    assert reading.quality is Quality.UNAVAILABLE
    assert reading.reason == (
        "reply does not match FC 04 input 0..1 (2 registers) to unit 1: function code 3"
    )


async def test_reply_with_the_wrong_byte_count_is_refused(link: PtyLink) -> None:
    async with ModbusRtuBus(link.path, timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        poll = asyncio.create_task(meter.poll())
        await link.next_request()
        link.send(read_reply(1, 4, [0x4366]))  # one register where two were asked
        (reading,) = await poll

    assert reading.reason == (
        "reply does not match FC 04 input 0..1 (2 registers) to unit 1: 1 registers "
        "instead of 2"
    )


async def test_exception_reply_over_rtu(link: PtyLink) -> None:
    async with ModbusRtuBus(link.path, timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        poll = asyncio.create_task(meter.poll())
        request = await link.next_request()
        link.send(exception_reply(1, 4, 2))
        (reading,) = await poll

    assert request.frame == rtu_frame(1, bytes.fromhex("04 0000 0002"))
    assert reading.reason == (
        "unsupported: exception 2 (ILLEGAL DATA ADDRESS) from unit 1 to FC 04 input "
        "0..1 (2 registers); retried every 600 s"
    )
    assert meter.online


async def test_the_request_frame_of_register_maps_section_g(link: PtyLink) -> None:
    """esphome/issues#4532: 01 04 00 00 00 50 F0 36, 80 registers from address 0."""
    wide = parse_profile(
        {
            "profile": {"id": "sdm230", "protocol": "modbus", "sources": ["test"]},
            "modbus": {"max_gap": 80},
            "points": [
                {"name": "voltage", "table": "input", "address": 0, "type": "float32"},
                {"name": "last", "table": "input", "address": 78, "type": "float32"},
            ],
        }
    )
    async with ModbusRtuBus(link.path, timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("sdm230", 1, wide)
        poll = asyncio.create_task(meter.poll())
        request = await link.next_request()
        link.send(read_reply(1, 4, [0x436A, 0xB23C] + [0] * 78))
        voltage, _ = await poll

    assert request.frame == bytes.fromhex("01 04 00 00 00 50 F0 36")
    assert voltage.value == Decimal("234.69623")


async def test_missing_serial_port_is_a_reason() -> None:
    async with ModbusRtuBus("/dev/pams-no-such-tty", timeout_s=TIMEOUT_S) as bus:
        meter = bus.add_device("meter-1", 1, VOLTMETER)
        (reading,) = await meter.poll()

    assert reading.quality is Quality.UNAVAILABLE
    assert reading.reason is not None
    assert reading.reason.startswith("cannot open serial port /dev/pams-no-such-tty:")


async def test_per_device_timeout_and_frame_gap(link: PtyLink) -> None:
    loop = asyncio.get_running_loop()
    async with ModbusRtuBus(link.path, timeout_s=1.0, frame_gap_s=0.002) as bus:
        quick = bus.add_device("meter-2", 2, VOLTMETER, timeout_s=0.05)
        spaced = bus.add_device("meter-1", 1, VOLTMETER, frame_gap_s=0.08)

        (timed_out,) = await quick.poll()  # nobody answers unit 2
        await link.next_request()

        poll = asyncio.create_task(spaced.poll())
        await link.next_request()
        link.send(read_reply(1, 4, float32_words(230.0)))
        replied_at = loop.time()
        await poll
        second = asyncio.create_task(spaced.poll())
        await link.next_request()
        asked_at = loop.time()
        link.send(read_reply(1, 4, float32_words(230.0)))
        (reading,) = await second

    assert timed_out.reason == (
        "timeout: no reply within 0.05 s to unit 2 FC 04 input 0..1 (2 registers)"
    )
    assert reading.value == Decimal(230)
    assert asked_at - replied_at >= 0.08  # the device's own gap, not the bus's
