"""The simulated device's PDU handler: every function code, every exception, faults.

Requests are written out as bytes and replies are decoded with ``struct`` here, so the
handler is checked against the Modbus application protocol, not against itself.
"""

from __future__ import annotations

import struct
import tomllib
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from sim.clock import ManualClock
from sim.errors import FaultError
from sim.modbus.meters import ModelOptions, WaterMeter, make_model
from sim.modbus.profile import parse_profile
from sim.modbus.slave import ModbusDevice
from tests.sim.test_modbus_kit import TEST_DEVICE, make_device, write_profiles


def request(function: int, *fields: int) -> bytes:
    return bytes([function]) + struct.pack(f">{len(fields)}H", *fields)


def registers(reply: bytes | None) -> tuple[int, ...]:
    assert reply is not None
    assert reply[0] < 0x80, f"exception {reply.hex()}"
    assert reply[1] == len(reply) - 2
    return struct.unpack(f">{reply[1] // 2}H", reply[2:])


def f32(words: tuple[int, ...]) -> float:
    return float(struct.unpack(">f", struct.pack(">2H", *words))[0])


@pytest.fixture
def profiles(tmp_path: Path) -> list[Path]:
    return [write_profiles(tmp_path)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sdm120(clock: ManualClock) -> ModbusDevice:
    return make_device("eastron_sdm120", clock=clock)


@pytest.fixture
def test_device(profiles: list[Path], clock: ManualClock) -> ModbusDevice:
    return make_device("pams_test_device", dirs=profiles, clock=clock)


@pytest.fixture
def water(profiles: list[Path], clock: ManualClock) -> ModbusDevice:
    return make_device("pams_test_water", dirs=profiles, clock=clock, unit_id=10)


# --- reads ----------------------------------------------------------------------


def test_input_registers_carry_the_voltage_as_big_endian_float(
    sdm120: ModbusDevice,
) -> None:
    words = registers(sdm120.process(request(0x04, 0x0000, 2)))

    volts = f32(words)

    assert 220 < volts < 240
    assert Decimal(repr(volts)).quantize(Decimal("0.01")) == sdm120.value("voltage")


def test_holding_registers_in_word_swapped_order(test_device: ModbusDevice) -> None:
    # temperature: int32, scale 0.01, range [20, 22] → the unmodelled point holds 21.
    words = registers(test_device.process(request(0x04, 0, 2)))

    assert words == (0x0000, 2100)
    assert test_device.value("temperature") == Decimal(21)


def test_a_block_with_holes_between_points_reads_zeros_there(
    sdm120: ModbusDevice,
) -> None:
    # 80 registers from 0, as the SDM230 of register_maps.md G is read.
    words = registers(sdm120.process(request(0x04, 0x0000, 80)))

    assert len(words) == 80
    assert words[2:6] == (0, 0, 0, 0)
    assert f32(words[0x46:0x48]) == pytest.approx(50, abs=0.2)


def test_a_strict_device_refuses_the_holes(clock: ManualClock) -> None:
    strict = make_device("eastron_sdm120", clock=clock, gaps="refuse")

    assert strict.process(request(0x04, 0x0000, 80)) == bytes([0x84, 0x02])
    assert strict.process(request(0x04, 0x0000, 2))[0] == 0x04  # type: ignore[index]


def test_coils_and_discrete_inputs_pack_bits_low_first(
    test_device: ModbusDevice,
) -> None:
    assert test_device.process(request(0x05, 0, 0xFF00)) == request(0x05, 0, 0xFF00)

    assert test_device.process(request(0x01, 0, 2)) == bytes([0x01, 1, 0b01])
    assert test_device.process(request(0x02, 0, 1)) == bytes([0x02, 1, 0b00])
    assert test_device.value("relay") is True


# --- writes ---------------------------------------------------------------------


def test_write_single_register_echoes_and_reads_back(test_device: ModbusDevice) -> None:
    reply = test_device.process(request(0x06, 0, 215))

    assert reply == request(0x06, 0, 215)
    assert registers(test_device.process(request(0x03, 0, 1))) == (215,)
    assert test_device.value("setpoint") == Decimal("21.5")


def test_write_multiple_registers_of_a_float64_in_dcba(
    test_device: ModbusDevice,
) -> None:
    data = struct.pack("<d", 0.125)  # DCBA: fully little-endian on the wire
    pdu = struct.pack(">BHHB", 0x10, 8, 4, 8) + data

    assert test_device.process(pdu) == request(0x10, 8, 4)
    assert test_device.value("ratio") == Decimal("0.125")


def test_write_multiple_coils(test_device: ModbusDevice) -> None:
    pdu = struct.pack(">BHHBB", 0x0F, 0, 1, 1, 0b1)

    assert test_device.process(pdu) == request(0x0F, 0, 1)
    assert test_device.value("relay") is True


def test_closing_the_valve_reads_back_closed_and_stops_the_flow(
    water: ModbusDevice, clock: ManualClock
) -> None:
    assert water.value("valve") == 1  # open

    assert water.process(request(0x06, 0x001C, 2)) == request(0x06, 0x001C, 2)
    clock.advance(1)

    assert registers(water.process(request(0x03, 0x001C, 1))) == (0x0002,)
    assert water.value("flow_rate") == 0
    assert water.process(request(0x06, 0x001C, 1)) == request(0x06, 0x001C, 1)
    assert water.value("valve") == 1


def test_a_travelling_valve_shows_its_old_position_until_it_arrives(
    water: ModbusDevice, clock: ManualClock
) -> None:
    assert isinstance(water.model, WaterMeter)
    water.model.valve_travel_s = 3
    water.process(request(0x03, 0x001C, 1))  # the meter's clock starts

    assert water.process(request(0x06, 0x001C, 2)) == request(0x06, 0x001C, 2)
    assert registers(water.process(request(0x03, 0x001C, 1))) == (0x0001,)
    clock.advance(2.9)
    assert water.value("valve") == 1
    clock.advance(0.2)
    assert registers(water.process(request(0x03, 0x001C, 1))) == (0x0002,)


def test_a_stuck_valve_acknowledges_commands_and_stays(
    water: ModbusDevice, clock: ManualClock
) -> None:
    assert isinstance(water.model, WaterMeter)
    water.model.valve_stuck = True

    assert water.process(request(0x06, 0x001C, 2)) == request(0x06, 0x001C, 2)
    clock.advance(60)

    assert water.value("valve") == 1
    assert water.stats.writes == 1


def test_an_unknown_valve_command_is_an_illegal_value(water: ModbusDevice) -> None:
    assert water.process(request(0x06, 0x001C, 7)) == bytes([0x86, 0x03])
    assert water.value("valve") == 1
    assert water.stats.exceptions[3] == 1


def test_resetting_the_water_counter_writes_zero_words(water: ModbusDevice) -> None:
    assert water.value("forward_volume") > 0  # type: ignore[operator]

    pdu = struct.pack(">BHHBHH", 0x10, 0x0001, 2, 4, 0, 0)

    assert water.process(pdu) == request(0x10, 0x0001, 2)
    assert water.value("forward_volume") == 0


def test_water_meter_registers_follow_the_xintai_map(water: ModbusDevice) -> None:
    words = registers(water.process(request(0x03, 0x0001, 28)))

    assert words[0x0007 - 1] == 0x00AA  # pipe full
    assert words[0x000E - 1] == 10  # its own unit id
    battery = struct.unpack("<f", struct.pack(">2H", *words[0x1A - 1 : 0x1C - 1]))[0]
    assert battery == pytest.approx(3.6)


# --- exceptions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pdu", "reply"),
    [
        (bytes([0x2B, 0x0E, 0x01, 0x00]), bytes([0xAB, 0x01])),
        (request(0x04, 0x0200, 2), bytes([0x84, 0x02])),
        (request(0x04, 0x0001, 2), bytes([0x84, 0x02])),
        (request(0x03, 0x0000, 2), bytes([0x83, 0x02])),
        (request(0x04, 0x0000, 0), bytes([0x84, 0x03])),
        (request(0x04, 0x0000, 81), bytes([0x84, 0x03])),
        (request(0x04, 0xFFFF, 2), bytes([0x84, 0x02])),
        (bytes([0x04, 0x00]), bytes([0x84, 0x03])),
        (request(0x06, 0x0000, 1), bytes([0x86, 0x02])),
    ],
    ids=[
        "unknown-function",
        "undefined-address",
        "off-by-one-splits-a-float",
        "wrong-table",
        "zero-quantity",
        "over-the-meters-80",
        "past-the-address-space",
        "truncated",
        "write-to-read-only",
    ],
)
def test_exception_codes(sdm120: ModbusDevice, pdu: bytes, reply: bytes) -> None:
    assert sdm120.process(pdu) == reply
    assert sdm120.stats.exceptions[reply[1]] == 1


@pytest.mark.parametrize(
    ("pdu", "reply"),
    [
        (request(0x03, 0, 126), bytes([0x83, 0x03])),
        (request(0x05, 0, 0x1234), bytes([0x85, 0x03])),
        (struct.pack(">BHHBH", 0x10, 0, 1, 4, 7), bytes([0x90, 0x03])),
        (struct.pack(">BHHB", 0x10, 0, 124, 248) + bytes(248), bytes([0x90, 0x03])),
        (struct.pack(">BHHBB", 0x0F, 0, 2, 1, 0b11), bytes([0x8F, 0x02])),
        (request(0x06, 2, 5), bytes([0x86, 0x02])),
    ],
    ids=[
        "read-over-125",
        "coil-value-not-ff00",
        "byte-count-mismatch",
        "write-over-123",
        "coil-block-with-read-only",
        "write-to-read-only-counter",
    ],
)
def test_exception_codes_on_the_test_device(
    test_device: ModbusDevice, pdu: bytes, reply: bytes
) -> None:
    assert test_device.process(pdu) == reply


def test_a_refused_block_does_not_sink_the_others(sdm120: ModbusDevice) -> None:
    sdm120.refuse_points(["frequency"])

    assert sdm120.process(request(0x04, 0x0046, 6)) == bytes([0x84, 0x02])
    assert registers(sdm120.process(request(0x04, 0x0048, 4)))
    assert registers(sdm120.process(request(0x04, 0x0000, 2)))


def test_single_point_devices_refuse_merged_reads(clock: ManualClock) -> None:
    data = tomllib.loads(TEST_DEVICE)
    data["modbus"]["single_point_reads"] = True
    profile = parse_profile(data, source="test")
    model = make_model(profile, 1, ModelOptions(seed="1", timezone=UTC))
    device = ModbusDevice(
        device_id="quirky", profile=profile, unit_id=1, model=model, clock=clock
    )

    assert device.process(request(0x03, 0, 2)) == bytes([0x83, 0x02])
    assert registers(device.process(request(0x03, 2, 2)))


# --- physics --------------------------------------------------------------------


def test_energy_is_power_times_time_exactly(
    sdm120: ModbusDevice, clock: ManualClock
) -> None:
    power_w = sdm120.physical_value("active_power")
    before_kwh = sdm120.physical_value("import_energy")
    assert isinstance(power_w, Decimal)
    assert isinstance(before_kwh, Decimal)

    clock.advance(1800)
    after_kwh = sdm120.physical_value("import_energy")

    assert after_kwh - before_kwh == power_w / 2 / 1000


def test_current_is_power_over_voltage_times_power_factor(
    sdm120: ModbusDevice,
) -> None:
    p = sdm120.physical_value("active_power")
    v = sdm120.physical_value("voltage")
    pf = sdm120.physical_value("power_factor")
    current = sdm120.physical_value("current")
    assert isinstance(p, Decimal) and isinstance(v, Decimal) and isinstance(pf, Decimal)

    assert abs(current - p / (v * pf)) < Decimal("1e-20")  # type: ignore[operator]


def test_counters_only_grow_over_a_simulated_week(
    sdm120: ModbusDevice, clock: ManualClock
) -> None:
    served: list[Decimal] = []
    for _ in range(7 * 24 * 4):
        clock.advance(900)
        words = registers(sdm120.process(request(0x04, 0x0048, 2)))
        served.append(Decimal(repr(f32(words))))

    assert served == sorted(served)
    assert served[-1] > served[0]


def test_the_load_curve_peaks_in_the_evening(
    sdm120: ModbusDevice, clock: ManualClock
) -> None:
    # The clock starts at midnight UTC and the device's building is on UTC.
    by_hour: dict[int, list[Decimal]] = {}
    for step in range(7 * 24):
        value = sdm120.physical_value("active_power")
        assert isinstance(value, Decimal)
        by_hour.setdefault(step % 24, []).append(value)
        clock.advance(3600)

    average = {hour: sum(values) / len(values) for hour, values in by_hour.items()}
    assert average[19] > 2 * average[3]
    assert average[7] > average[3]


def test_the_same_seed_gives_the_same_building(clock: ManualClock) -> None:
    first = make_device("eastron_sdm120", clock=ManualClock(), seed="42/apt-1")
    second = make_device("eastron_sdm120", clock=ManualClock(), seed="42/apt-1")
    other = make_device("eastron_sdm120", clock=ManualClock(), seed="43/apt-1")

    assert first.values() == second.values()
    assert first.values() != other.values()


# --- faults ---------------------------------------------------------------------


def test_a_dead_meter_is_silent_for_its_window(
    sdm120: ModbusDevice, clock: ManualClock
) -> None:
    sdm120.faults.go_silent(2.0, after_s=1.0)
    read = request(0x04, 0, 2)

    assert sdm120.answer(read) is not None
    clock.advance(1.5)
    assert sdm120.answer(read) is None
    clock.advance(1.6)
    assert sdm120.answer(read) is not None
    assert (sdm120.stats.requests, sdm120.stats.silent, sdm120.stats.replies) == (
        3,
        1,
        2,
    )


def test_a_late_reply_carries_its_delay_once(clock: ManualClock) -> None:
    device = make_device("eastron_sdm120", clock=clock, latency_s=0.02)
    device.faults.reply_late(0.5)
    read = request(0x04, 0, 2)

    first, second = device.answer(read), device.answer(read)

    assert first is not None and second is not None
    assert first.delay_s == pytest.approx(0.52)
    assert second.delay_s == pytest.approx(0.02)
    assert device.stats.late == 1


def test_a_zero_glitch_is_served_once(sdm120: ModbusDevice) -> None:
    sdm120.faults.zero_glitch("import_energy")
    read = request(0x04, 0x0048, 2)

    glitched = registers(sdm120.process(read))
    served = sdm120.last_served("import_energy")
    normal = registers(sdm120.process(read))

    assert glitched == (0, 0)
    assert served is not None and served.value == 0
    assert f32(normal) > 100
    assert sdm120.value("import_energy") > 100  # type: ignore[operator]


def test_an_integer_counter_rolls_over(
    test_device: ModbusDevice, clock: ManualClock
) -> None:
    # energy: uint32 word-swapped, 0.01 kWh a step; the unmodelled device adds 1 Wh/h.
    test_device.roll_over("energy", before=5)

    assert test_device.value("energy") == Decimal((1 << 32) - 5) * Decimal("0.01")
    clock.advance(10_000 * 3600)
    assert test_device.value("energy") == Decimal("9.95")
    words = registers(test_device.process(request(0x03, 2, 2)))
    assert words == (995, 0)  # low word first


def test_a_float_counter_cannot_roll_over(sdm120: ModbusDevice) -> None:
    with pytest.raises(FaultError, match="point import_energy: only integer counters"):
        sdm120.roll_over("import_energy")


def test_a_replaced_meter_starts_from_zero(
    sdm120: ModbusDevice, clock: ManualClock
) -> None:
    before = sdm120.value("import_energy")
    sdm120.replace_meter(after_s=60)

    clock.advance(30)
    assert sdm120.value("import_energy") >= before  # type: ignore[operator]
    clock.advance(31)
    assert sdm120.value("import_energy") < 1  # type: ignore[operator]


def test_refused_addresses_answer_exception_two_on_writes_too(
    test_device: ModbusDevice,
) -> None:
    test_device.faults.refuse(test_device.profile.point("setpoint").table, [0])

    assert test_device.process(request(0x06, 0, 1)) == bytes([0x86, 0x02])
    assert test_device.process(request(0x03, 0, 1)) == bytes([0x83, 0x02])
