"""The simulator's encoder against the facts in register_maps.md (sections C, D, E, F).

Expected words are written out by hand from those facts or from ``struct``, never
produced by the encoder itself.
"""

from __future__ import annotations

import math
import struct
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import pytest

from sim.errors import EncodeError
from sim.modbus.encoder import decode, encode, served, to_raw
from sim.modbus.profile import ByteOrder, DataType, ModbusPoint, Table


def point(
    data_type: str,
    order: str = "ABCD",
    *,
    scale: str = "1",
    offset: str = "0",
    table: Table = Table.HOLDING,
) -> ModbusPoint:
    return ModbusPoint(
        name="p",
        table=table,
        address=0,
        type=DataType(data_type),
        order=ByteOrder(order),
        scale=Decimal(scale),
        offset=Decimal(offset),
    )


def f32_words(value: float, fmt: str = ">f") -> tuple[int, ...]:
    data = struct.pack(fmt, value)
    return struct.unpack(f">{len(data) // 2}H", data)


# (id, type, order, scale, value, words on the wire)
CASES = [
    # register_maps.md F: the word-order traps, ABCD.
    ("F-230V-ABCD", "float32", "ABCD", "1", Decimal("230.0"), (0x4366, 0x0000)),
    ("F-50Hz-ABCD", "float32", "ABCD", "1", Decimal("50.0"), (0x4248, 0x0000)),
    ("F-1234.5kWh-ABCD", "float32", "ABCD", "1", Decimal("1234.5"), (0x449A, 0x5000)),
    ("F-0.545-ABCD", "float32", "ABCD", "1", Decimal("0.545"), (0x3F0B, 0x851F)),
    ("F--1500.25W-ABCD", "float32", "ABCD", "1", Decimal("-1500.25"), (0xC4BB, 0x8800)),
    # The same float in the other three orders.
    ("230V-CDAB", "float32", "CDAB", "1", Decimal("230.0"), (0x0000, 0x4366)),
    ("1234.5-BADC", "float32", "BADC", "1", Decimal("1234.5"), (0x9A44, 0x0050)),
    # register_maps.md E: the Xintai float32 little-endian (wire 1F 85 0B 3F).
    ("E-0.545-DCBA", "float32", "DCBA", "1", Decimal("0.545"), (0x1F85, 0x0B3F)),
    # register_maps.md C: EM24 int32 LSW first, scaled.
    ("C-230.5V-CDAB", "int32", "CDAB", "0.1", Decimal("230.5"), (0x0901, 0x0000)),
    ("C--1.5W-CDAB", "int32", "CDAB", "0.1", Decimal("-1.5"), (0xFFF1, 0xFFFF)),
    ("C-PF-int16", "int16", "ABCD", "0.001", Decimal("-0.985"), (0xFC27,)),
    ("C-50.0Hz-int16", "int16", "ABCD", "0.1", Decimal("50.0"), (0x01F4,)),
    # register_maps.md D: iEM int64 Wh read as kWh.
    (
        "D-12345.678kWh-int64",
        "int64",
        "ABCD",
        "0.001",
        Decimal("12345.678"),
        (0x0000, 0x0000, 0x00BC, 0x614E),
    ),
    # 64-bit orders: CDAB puts the lowest word first, BADC swaps bytes, DCBA both.
    (
        "uint64-CDAB",
        "uint64",
        "CDAB",
        "1",
        Decimal(0x0102030405060708),
        (0x0708, 0x0506, 0x0304, 0x0102),
    ),
    (
        "uint64-BADC",
        "uint64",
        "BADC",
        "1",
        Decimal(0x0102030405060708),
        (0x0201, 0x0403, 0x0605, 0x0807),
    ),
    (
        "uint64-DCBA",
        "uint64",
        "DCBA",
        "1",
        Decimal(0x0102030405060708),
        (0x0807, 0x0605, 0x0403, 0x0201),
    ),
    (
        "uint64-max-Wh",
        "uint64",
        "ABCD",
        "0.001",
        Decimal("18446744073709551.615"),
        (0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF),
    ),
    ("int64--1", "int64", "ABCD", "1", Decimal(-1), (0xFFFF,) * 4),
    ("uint32-ABCD", "uint32", "ABCD", "1", Decimal(0xDEADBEEF), (0xDEAD, 0xBEEF)),
    ("uint32-DCBA", "uint32", "DCBA", "1", Decimal(0xDEADBEEF), (0xEFBE, 0xADDE)),
    ("uint16-BADC", "uint16", "BADC", "1", Decimal(0x00AA), (0xAA00,)),
    ("uint16-ABCD", "uint16", "ABCD", "1", Decimal(0x00AA), (0x00AA,)),
    (
        "float64-ABCD",
        "float64",
        "ABCD",
        "1",
        Decimal("1234.5"),
        f32_words(1234.5, ">d"),
    ),
    (
        "float64-DCBA",
        "float64",
        "DCBA",
        "1",
        Decimal("1234.5"),
        tuple(
            int.from_bytes(struct.pack("<d", 1234.5)[i : i + 2], "big")
            for i in range(0, 8, 2)
        ),
    ),
    ("bool-register", "bool", "ABCD", "1", True, (1,)),
]


@pytest.mark.parametrize(
    ("data_type", "order", "scale", "value", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_encode_matches_the_facts(
    data_type: str, order: str, scale: str, value: Decimal, words: tuple[int, ...]
) -> None:
    target = point(data_type, order, scale=scale)

    assert encode(target, value, rounding=ROUND_HALF_EVEN) == words


@pytest.mark.parametrize(
    ("data_type", "order", "scale", "value", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decode_reads_the_facts_back(
    data_type: str, order: str, scale: str, value: Decimal, words: tuple[int, ...]
) -> None:
    target = point(data_type, order, scale=scale)

    assert decode(target, words) == value


def test_a_word_swap_turns_230_volts_into_a_denormal() -> None:
    # register_maps.md F: ABCD words decoded as CDAB give 2.4178e-41.
    words = encode(point("float32", "ABCD"), Decimal(230))

    wrong = decode(point("float32", "CDAB"), words)

    assert isinstance(wrong, Decimal)
    assert math.isclose(float(wrong), 2.4178e-41, rel_tol=1e-4)


def test_float32_decodes_to_the_shortest_decimal_that_round_trips() -> None:
    # 0x436AB23C is the "234.696 V" of the SDM230 log in register_maps.md G.
    value = decode(point("float32"), (0x436A, 0xB23C))

    assert str(value) == "234.69623"
    assert struct.pack(">f", float(value)) == bytes.fromhex("436AB23C")
    assert struct.pack(">f", float("234.6962")) != bytes.fromhex("436AB23C")


def test_the_xintai_protocol_example_bytes_read_as_0_545() -> None:
    # Wire bytes 1E 85 0B 3F, little-endian float 0x3F0B851E.
    value = decode(point("float32", "DCBA"), (0x1E85, 0x0B3F))

    assert value == Decimal("0.54499996")


def test_exact_mode_refuses_a_value_between_raw_steps() -> None:
    counter = point("uint64", scale="0.001")

    with pytest.raises(EncodeError, match=r"not a whole number of raw steps of 0\.001"):
        encode(counter, Decimal("1.0005"))


def test_exact_uint64_counter_round_trips_without_loss() -> None:
    counter = point("uint64", scale="0.001")
    value = Decimal("18446744073709550.123")

    assert served(counter, value) == value


def test_counters_round_down_and_gauges_to_nearest() -> None:
    energy = point("uint32", scale="0.01")

    assert to_raw(energy, Decimal("1.239"), rounding=ROUND_FLOOR) == 123
    assert to_raw(energy, Decimal("1.235"), rounding=ROUND_HALF_EVEN) == 124


def test_offset_is_inverted_before_scale() -> None:
    # value = raw × 0.5 + (−40): 20 °C is raw 120.
    temperature = point("int16", scale="0.5", offset="-40")

    assert encode(temperature, Decimal(20)) == (120,)
    assert decode(temperature, (120,)) == Decimal(20)


def test_a_value_past_the_type_is_refused_unless_the_counter_wraps() -> None:
    counter = point("uint16")

    with pytest.raises(EncodeError, match=r"raw value 65537 does not fit a uint16"):
        encode(counter, Decimal(65537))
    assert encode(counter, Decimal(65537), wrap=True) == (1,)


def test_signed_counter_wraps_into_the_negative_half() -> None:
    counter = point("int16")

    assert encode(counter, Decimal(32768), wrap=True) == (0x8000,)
    assert decode(counter, (0x8000,)) == Decimal(-32768)


def test_float32_overflow_is_refused() -> None:
    with pytest.raises(EncodeError, match="does not fit a float32"):
        encode(point("float32"), Decimal("1e40"))


def test_nan_is_a_legal_float_register_value() -> None:
    words = encode(point("float32"), float("nan"))

    value = decode(point("float32"), words)

    assert isinstance(value, Decimal)
    assert value.is_nan()


def test_bits_encode_as_one_word_per_bit() -> None:
    coil = point("bool", table=Table.COIL)

    assert encode(coil, True) == (1,)
    assert encode(coil, False) == (0,)
    assert decode(coil, (1,)) is True


def test_decode_refuses_the_wrong_number_of_words() -> None:
    with pytest.raises(EncodeError, match=r"spans 2 register\(s\), got 1 word"):
        decode(point("float32"), (0x4366,))
