"""Decoding register words, from the facts of data/modbus/register_maps.md."""

from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.decode import (
    bytes_to_words,
    decode_point,
    encode_point,
    float32_to_decimal,
    words_to_bytes,
)
from drivers.modbus.profile import (
    Access,
    ByteOrder,
    DataType,
    ModbusPoint,
    PointKind,
    Table,
)
from drivers.types import Quality


def make_point(
    data_type: str,
    order: str = "ABCD",
    *,
    scale: str = "1",
    offset: str = "0",
    table: Table = Table.INPUT,
    **extra: object,
) -> ModbusPoint:
    return ModbusPoint(
        name="p",
        table=table,
        address=0,
        type=DataType(data_type),
        order=ByteOrder(order),
        scale=Decimal(scale),
        offset=Decimal(offset),
        **extra,
    )


def value_of(point: ModbusPoint, words: list[int]) -> object:
    reading = decode_point("meter-1", point, words)
    assert reading.quality is Quality.GOOD, reading.reason
    return reading.value


# (id, type, order, words, scale, exact expected value)
CASES = [
    ("int16-minus-one", "int16", "ABCD", [0xFFFF], "1", Decimal(-1)),
    ("uint16-max", "uint16", "ABCD", [0xFFFF], "1", Decimal(65535)),
    ("int16-badc", "int16", "BADC", [0x3412], "1", Decimal(0x1234)),
    ("int32-abcd", "int32", "ABCD", [0x0001, 0x0002], "1", Decimal(65538)),
    ("int32-cdab", "int32", "CDAB", [0x0002, 0x0001], "1", Decimal(65538)),
    ("int32-badc", "int32", "BADC", [0x0100, 0x0200], "1", Decimal(65538)),
    ("int32-dcba", "int32", "DCBA", [0x0200, 0x0100], "1", Decimal(65538)),
    ("int32-minus-one", "int32", "ABCD", [0xFFFF, 0xFFFF], "1", Decimal(-1)),
    ("uint32-max", "uint32", "ABCD", [0xFFFF, 0xFFFF], "1", Decimal(2**32 - 1)),
    ("uint32-cdab", "uint32", "CDAB", [0x5678, 0x1234], "1", Decimal(0x12345678)),
    ("int64-abcd", "int64", "ABCD", [1, 2, 3, 4], "1", Decimal(0x0001000200030004)),
    ("int64-cdab", "int64", "CDAB", [4, 3, 2, 1], "1", Decimal(0x0001000200030004)),
    (
        "int64-badc",
        "int64",
        "BADC",
        [0x0100, 0x0200, 0x0300, 0x0400],
        "1",
        Decimal(0x0001000200030004),
    ),
    (
        "int64-dcba",
        "int64",
        "DCBA",
        [0x0400, 0x0300, 0x0200, 0x0100],
        "1",
        Decimal(0x0001000200030004),
    ),
    ("int64-min", "int64", "ABCD", [0x8000, 0, 0, 0], "1", Decimal(-(2**63))),
    ("uint64-max", "uint64", "ABCD", [0xFFFF] * 4, "1", Decimal(2**64 - 1)),
    (
        "uint64-max-scaled-exact",
        "uint64",
        "ABCD",
        [0xFFFF] * 4,
        "0.001",
        Decimal("18446744073709551.615"),
    ),
    # Section F: true values in ABCD, and what a word swap makes of the same words.
    ("230V-abcd", "float32", "ABCD", [0x4366, 0x0000], "1", Decimal(230)),
    ("230V-as-cdab", "float32", "CDAB", [0x4366, 0x0000], "1", Decimal("2.4178E-41")),
    ("50Hz-abcd", "float32", "ABCD", [0x4248, 0x0000], "1", Decimal(50)),
    ("50Hz-as-cdab", "float32", "CDAB", [0x4248, 0x0000], "1", Decimal("2.3777E-41")),
    ("1234.5kWh-abcd", "float32", "ABCD", [0x449A, 0x5000], "1", Decimal("1234.5")),
    (
        "1234.5kWh-as-cdab",
        "float32",
        "CDAB",
        [0x449A, 0x5000],
        "1",
        Decimal(8607918000),
    ),
    ("0.545-abcd", "float32", "ABCD", [0x3F0B, 0x851F], "1", Decimal("0.545")),
    (
        "0.545-as-cdab",
        "float32",
        "CDAB",
        [0x3F0B, 0x851F],
        "1",
        Decimal("-7.487723E-36"),
    ),
    ("-1500.25W-abcd", "float32", "ABCD", [0xC4BB, 0x8800], "1", Decimal("-1500.25")),
    (
        "-1500.25W-as-cdab",
        "float32",
        "CDAB",
        [0xC4BB, 0x8800],
        "1",
        Decimal("-3.8749854E-34"),
    ),
    # float32 in every order: 230.2 V is exactly 230.2, not 230.1999969...
    ("230.2V-abcd", "float32", "ABCD", [0x4366, 0x3333], "1", Decimal("230.2")),
    ("230.2V-cdab", "float32", "CDAB", [0x3333, 0x4366], "1", Decimal("230.2")),
    ("230.2V-badc", "float32", "BADC", [0x6643, 0x3333], "1", Decimal("230.2")),
    ("230.2V-dcba", "float32", "DCBA", [0x3333, 0x6643], "1", Decimal("230.2")),
    # Section G: the SDM230 reply 43 6A B2 3C, and the SolarEdge 00 00 3F 80.
    ("sdm230-reply", "float32", "ABCD", [0x436A, 0xB23C], "1", Decimal("234.69623")),
    ("solaredge-cdab", "float32", "CDAB", [0x0000, 0x3F80], "1", Decimal(1)),
    (
        "solaredge-as-abcd",
        "float32",
        "ABCD",
        [0x0000, 0x3F80],
        "1",
        Decimal("2.278E-41"),
    ),
    # float64 in every order.
    (
        "0.1-f64-abcd",
        "float64",
        "ABCD",
        [0x3FB9, 0x9999, 0x9999, 0x999A],
        "1",
        Decimal("0.1"),
    ),
    (
        "0.1-f64-cdab",
        "float64",
        "CDAB",
        [0x999A, 0x9999, 0x9999, 0x3FB9],
        "1",
        Decimal("0.1"),
    ),
    (
        "0.1-f64-badc",
        "float64",
        "BADC",
        [0xB93F, 0x9999, 0x9999, 0x9A99],
        "1",
        Decimal("0.1"),
    ),
    (
        "0.1-f64-dcba",
        "float64",
        "DCBA",
        [0x9A99, 0x9999, 0x9999, 0xB93F],
        "1",
        Decimal("0.1"),
    ),
    # Section C: Carlo Gavazzi EM24, int32 LSW first, scaled.
    ("em24-230.5V", "int32", "CDAB", [0x0901, 0x0000], "0.1", Decimal("230.5")),
    ("em24-minus-1.5W", "int32", "CDAB", [0xFFF1, 0xFFFF], "0.1", Decimal("-1.5")),
    ("em24-pf-int16", "int16", "ABCD", [0xFC18], "0.001", Decimal("-1.000")),
    # Section D: Schneider iEM int64 Wh to kWh, exact.
    (
        "iem-12345678Wh",
        "int64",
        "ABCD",
        [0x0000, 0x0000, 0x00BC, 0x614E],
        "0.001",
        Decimal("12345.678"),
    ),
    # Section E: Xintai, float32 little-endian. The protocol document's reply bytes
    # 1E 85 0B 3F are the float32 just below 0.545; 0.545 itself is 1F 85 0B 3F.
    (
        "xintai-doc-bytes",
        "float32",
        "DCBA",
        [0x1E85, 0x0B3F],
        "1",
        Decimal("0.54499996"),
    ),
    ("xintai-0.545", "float32", "DCBA", [0x1F85, 0x0B3F], "1", Decimal("0.545")),
]


@pytest.mark.parametrize(
    ("data_type", "order", "words", "scale", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decodes_registers_exactly(
    data_type: str, order: str, words: list[int], scale: str, expected: Decimal
) -> None:
    value = value_of(make_point(data_type, order, scale=scale), words)

    assert isinstance(value, Decimal)
    assert value == expected
    assert str(value) == str(expected)


def test_word_swap_turns_230_volts_into_a_denormal() -> None:
    words = [0x4366, 0x0000]

    right = value_of(make_point("float32", "ABCD"), words)
    wrong = value_of(make_point("float32", "CDAB"), words)

    assert right == Decimal(230)
    assert isinstance(wrong, Decimal)
    assert Decimal(0) < wrong < Decimal("1e-40")
    assert wrong == Decimal("2.4178E-41")


def test_int64_counter_never_passes_through_float() -> None:
    # 2**53 + 1 Wh cannot be held by a float64; the reading must still be exact.
    raw = 2**53 + 1
    words = [(raw >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]

    value = value_of(make_point("int64", scale="0.001"), words)

    assert value == Decimal("9007199254740.993")


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        pytest.param([0x7FC0, 0x0000], "NaN", id="nan"),
        pytest.param([0x7F80, 0x0000], "inf", id="plus-infinity"),
        pytest.param([0xFF80, 0x0000], "-inf", id="minus-infinity"),
    ],
)
def test_nan_and_infinity_are_no_value(words: list[int], reason: str) -> None:
    reading = decode_point("meter-1", make_point("float32"), words)

    assert reading.quality is Quality.UNAVAILABLE
    assert reading.value is None
    assert reading.reason is not None
    assert reason in reading.reason


def test_no_value_marker_is_unavailable_with_the_marker_named() -> None:
    point = make_point("int32", "CDAB", scale="0.1", no_value=(0x7FFFFFFF,))

    reading = decode_point("meter-1", point, [0xFFFF, 0x7FFF])

    assert reading.quality is Quality.UNAVAILABLE
    assert reading.value is None
    assert reading.reason == (
        "p: raw value 2147483647 is the profile's 'no value' marker"
    )


def test_out_of_range_keeps_the_value_and_names_value_and_range() -> None:
    point = make_point("float32", unit="V", valid_range=(Decimal(0), Decimal(300)))

    reading = decode_point("meter-1", point, [0x43C8, 0x0000])  # 400.0

    assert reading.quality is Quality.OUT_OF_RANGE
    assert reading.value == Decimal(400)
    assert reading.reason == "p: 400 V is outside the plausible range [0, 300]"


def test_state_text_from_raw_value() -> None:
    point = make_point(
        "uint16",
        table=Table.HOLDING,
        kind=PointKind.STATE,
        states=((0x55, "empty"), (0xAA, "full")),
    )

    assert value_of(point, [0x00AA]) == "full"
    unknown = decode_point("meter-1", point, [0x0001])
    assert unknown.quality is Quality.OUT_OF_RANGE
    assert unknown.reason == (
        "p: raw value 1 (0x1) is none of the known states (85=empty, 170=full)"
    )


def test_masks_split_one_register_into_points() -> None:
    valve = make_point(
        "uint16",
        table=Table.HOLDING,
        kind=PointKind.STATE,
        states=((1, "open"), (2, "closed")),
        mask=0x0003,
    )
    battery = make_point(
        "uint16",
        table=Table.HOLDING,
        kind=PointKind.STATE,
        states=((0, "ok"), (1, "low")),
        mask=0x0008,
    )

    assert value_of(valve, [0x000A]) == "closed"
    assert value_of(battery, [0x000A]) == "low"
    assert value_of(battery, [0x0002]) == "ok"


def test_coil_is_a_bool() -> None:
    point = make_point("bool", table=Table.COIL)

    assert value_of(point, [True]) is True


# --- encoding, the inverse ------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "order", "words", "scale"),
    [
        pytest.param(*case[1:5], id=case[0])
        for case in CASES
        if not case[0].endswith("-as-cdab") and not case[0].endswith("-as-abcd")
    ],
)
def test_encode_is_the_inverse_of_decode(
    data_type: str, order: str, words: list[int], scale: str
) -> None:
    point = make_point(data_type, order, scale=scale)
    value = value_of(point, words)

    assert encode_point(point, value) == words


def test_encode_writes_the_valve_command_into_its_bits() -> None:
    valve = make_point(
        "uint16",
        table=Table.HOLDING,
        kind=PointKind.STATE,
        access=Access.READ_WRITE,
        states=((1, "open"), (2, "closed")),
        mask=0x0003,
    )

    assert encode_point(valve, "closed") == [0x0002]
    assert encode_point(valve, "open") == [0x0001]
    with pytest.raises(
        ValueError, match="has no state 'shut'; states are open, closed"
    ):
        encode_point(valve, "shut")


@pytest.mark.parametrize(
    ("data_type", "scale", "value", "message"),
    [
        pytest.param(
            "int16", "0.1", Decimal("1.05"), "not a whole number of steps", id="step"
        ),
        pytest.param("uint16", "1", -1, "outside the uint16 range", id="negative"),
        pytest.param("int32", "1", 2**31, "outside the int32 range", id="too-big"),
        pytest.param(
            "float32", "1", 1e39, "does not fit the float32", id="float-overflow"
        ),
    ],
)
def test_encode_refuses_values_the_type_cannot_hold(
    data_type: str, scale: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_point(make_point(data_type, scale=scale, table=Table.HOLDING), value)


def test_encode_refuses_text_for_a_number() -> None:
    with pytest.raises(TypeError, match="takes a number, not 'ten'"):
        encode_point(make_point("int16", table=Table.HOLDING), "ten")


# --- properties ---------------------------------------------------------------


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_float32_decimal_is_the_shortest_that_round_trips(bits: int) -> None:
    value = struct.unpack(">f", struct.pack(">I", bits))[0]
    if value != value or value in (float("inf"), float("-inf")):
        return

    ours = float32_to_decimal(value)

    assert struct.pack(">f", float(ours)) == struct.pack(">f", value)
    assert ours == Decimal(np.format_float_scientific(np.float32(value), unique=True))


@given(
    st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
    st.sampled_from(list(ByteOrder)),
)
def test_word_orders_are_their_own_inverse(words: list[int], order: ByteOrder) -> None:
    assert bytes_to_words(words_to_bytes(words, order), order) == words
