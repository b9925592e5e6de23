"""The simulator's own profile reader: what it takes and what it refuses by name."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.errors import ProfileError
from sim.modbus.profile import (
    ByteOrder,
    DataType,
    Table,
    load_profile,
    parse_profile,
    wire_address,
)
from tests.sim.test_modbus_kit import TEST_DEVICE


def profile_with(point: dict[str, Any], **modbus: Any) -> dict[str, Any]:
    return {
        "profile": {"id": "bad", "protocol": "modbus", "kind": "electricity_meter"},
        "modbus": {"address_base": 0, "default_order": "ABCD", **modbus},
        "points": [point],
    }


def test_sdm120_loads_with_wire_addresses() -> None:
    profile = load_profile("eastron_sdm120")

    total = profile.point("total_energy")
    assert (total.table, total.address, total.type) == (
        Table.INPUT,
        0x0156,
        DataType.FLOAT32,
    )
    assert total.order is ByteOrder.ABCD
    assert profile.max_registers == 80


@pytest.mark.parametrize(
    ("point", "modbus", "reason"),
    [
        (
            {"name": "v", "table": "input", "address": 0, "type": "float16"},
            {},
            r"point v: type: 'float16' is not one of",
        ),
        (
            {"name": "v", "table": "inputs", "address": 0, "type": "float32"},
            {},
            r"point v: table: 'inputs' is not one of",
        ),
        (
            {
                "name": "v",
                "table": "input",
                "address": 0,
                "type": "float32",
                "registers": 1,
            },
            {},
            r"point v: type float32 fills 2 register\(s\), but registers = 1",
        ),
        (
            {
                "name": "pf",
                "table": "input",
                "address": 0,
                "type": "int16",
                "order": "CDAB",
            },
            {},
            r"point pf: byte order CDAB swaps words, but a int16 has one word",
        ),
        (
            {
                "name": "v",
                "table": "input",
                "address": 0,
                "type": "float32",
                "adress": 1,
            },
            {},
            r"point v: unknown key\(s\) adress",
        ),
        (
            {"name": "v", "table": "input", "address": 0, "type": "float32"},
            {"address_base": 1},
            r"point v: address 0 \(wire -1\) lies outside the address space",
        ),
        (
            {"name": "v", "table": "input", "address": 0, "type": "int16", "scale": 0},
            {},
            r"point v: scale must not be 0",
        ),
        (
            {"name": "v", "table": "input", "address": 0, "type": "int16", "mask": 3},
            {},
            r"point v: mask is for uint16 points, not int16",
        ),
        (
            {"name": "v", "table": "input", "address": 0, "type": "uint64"},
            {"max_registers": 2},
            r"point v: 4 registers are more than max_registers = 2",
        ),
        (
            {"name": "v", "table": "input", "address": 0xFFFF, "type": "float32"},
            {},
            r"point v: address 65535 \(wire 65535\) lies outside the address space",
        ),
        (
            {"name": "relay", "table": "coil", "address": 0, "type": "uint16"},
            {},
            r"point relay: a coil point must have type bool",
        ),
        (
            {"name": "v", "table": "input", "address": 0, "type": "float32"},
            {"max_registers": 126},
            r"max_registers must be 1 to 125, not 126",
        ),
        (
            {
                "name": "v",
                "table": "input",
                "address": 0,
                "type": "float32",
                "scale": "x",
            },
            {},
            r"point v: scale: 'x' is not a number",
        ),
    ],
    ids=[
        "unknown-type",
        "unknown-table",
        "registers-do-not-fit",
        "word-swap-on-16-bit",
        "misspelt-key",
        "below-address-base",
        "zero-scale",
        "mask-on-int16",
        "point-larger-than-max-registers",
        "past-the-end",
        "coil-not-bool",
        "max-registers-over-125",
        "scale-not-a-number",
    ],
)
def test_impossible_profiles_are_refused_by_name(
    point: dict[str, Any], modbus: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ProfileError, match=reason):
        parse_profile(profile_with(point, **modbus), source="test")


def test_overlapping_points_are_refused_naming_both() -> None:
    data = tomllib.loads(TEST_DEVICE)
    data["points"].append(
        {"name": "clash", "table": "holding", "address": 3, "type": "uint16"}
    )

    with pytest.raises(ProfileError, match="point clash: overlaps point energy"):
        parse_profile(data, source="test")


def test_the_same_address_in_two_tables_is_no_overlap() -> None:
    data = tomllib.loads(TEST_DEVICE)

    profile = parse_profile(data, source="test")

    assert profile.point("temperature").address == profile.point("setpoint").address


def test_one_based_addresses_are_one_above_the_wire() -> None:
    # Schneider prints current I1 as register 3000; the request asks for 2999.
    assert wire_address(3000, base=1) == 2999
    assert wire_address(3000, base=0) == 3000


def test_default_order_applies_to_multi_register_values_only() -> None:
    # The EM24 sends int32 word-swapped and its int16 registers plainly.
    data = profile_with(
        {"name": "pf", "table": "input", "address": 0x32, "type": "int16"},
        default_order="CDAB",
    )
    data["points"].append(
        {"name": "v", "table": "input", "address": 0, "type": "int32"}
    )

    profile = parse_profile(data, source="test")

    assert profile.point("pf").order is ByteOrder.ABCD
    assert profile.point("v").order is ByteOrder.CDAB


def test_masked_points_share_a_register_when_their_bits_are_disjoint() -> None:
    valve = {"table": "holding", "address": 0x1C, "type": "uint16"}
    data = profile_with({"name": "valve", "mask": 0x3, **valve})
    data["points"].append({"name": "battery_low", "mask": 0x8, **valve})

    profile = parse_profile(data, source="test")

    assert profile.point("battery_low").shift == 3
    data["points"].append({"name": "fault", "mask": 0x2, **valve})
    with pytest.raises(ProfileError, match="point fault: overlaps point valve"):
        parse_profile(data, source="test")


def test_a_profile_id_must_match_its_file_name(tmp_path: Path) -> None:
    (tmp_path / "other_name.toml").write_text(TEST_DEVICE, encoding="utf-8")

    with pytest.raises(ProfileError, match="file name says 'other_name'"):
        load_profile("other_name", [tmp_path])


def test_a_missing_profile_names_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"profile 'nope' not found \(searched"):
        load_profile("nope", [tmp_path])
