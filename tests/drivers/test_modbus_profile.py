"""Loading Modbus profiles: the shipped files, and configs that cannot be right."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import ProfileError
from drivers.modbus import (
    Access,
    ByteOrder,
    DataType,
    PointKind,
    Table,
    load_profile,
    parse_profile,
    plan_profile,
)
from firmware_profiles import PROFILE_DIR

MODBUS_PROFILES = [
    "eastron_sdm120",
    "eastron_sdm630",
    "carlo_gavazzi_em24",
    "schneider_iem3000",
    "xintai_water_meter",
]


@pytest.mark.parametrize("profile_id", MODBUS_PROFILES)
def test_shipped_profiles_load_and_name_their_sources(profile_id: str) -> None:
    profile = load_profile(profile_id)

    assert profile.id == profile_id
    assert profile.sources
    assert plan_profile(profile)


def test_every_modbus_file_in_the_folder_is_tested() -> None:
    shipped = {
        path.stem
        for path in PROFILE_DIR.glob("*.toml")
        if 'protocol = "modbus"' in path.read_text(encoding="utf-8")
    }

    assert shipped == set(MODBUS_PROFILES)


def test_load_by_path_equals_load_by_id() -> None:
    assert load_profile(PROFILE_DIR / "eastron_sdm120.toml") == load_profile(
        "eastron_sdm120"
    )


def test_iem3000_manual_numbers_become_wire_addresses_one_lower() -> None:
    profile = load_profile("schneider_iem3000")

    assert profile.address_base == 1
    assert profile.point("current_l1").address == 2999  # manual register 3000
    assert profile.point("voltage_l1").address == 3027  # manual 3028
    energy = profile.point("import_energy")
    assert energy.address == 3203  # mbmd 0x0C83
    assert energy.type is DataType.INT64
    assert energy.scale == Decimal("0.001")
    assert energy.kind is PointKind.COUNTER
    assert profile.point("total_power").scale == Decimal(1000)


def test_em24_reads_int32_word_swapped_and_int16_plainly() -> None:
    profile = load_profile("carlo_gavazzi_em24")

    assert profile.point("voltage_l1").order is ByteOrder.CDAB
    assert profile.point("voltage_l1").scale == Decimal("0.1")
    assert profile.point("current_l1").scale == Decimal("0.001")
    assert profile.point("power_factor_l1").type is DataType.INT16
    assert profile.point("power_factor_l1").order is ByteOrder.ABCD


def test_xintai_valve_is_a_writable_state_sharing_its_register() -> None:
    profile = load_profile("xintai_water_meter")
    valve = profile.point("valve")

    assert valve.table is Table.HOLDING
    assert valve.address == 0x001C
    assert valve.kind is PointKind.STATE
    assert valve.access is Access.READ_WRITE
    assert dict(valve.states) == {1: "open", 2: "closed"}
    assert profile.point("battery_low").address == valve.address
    assert profile.point("flow_rate").order is ByteOrder.DCBA
    assert profile.point("pipe_status").order is ByteOrder.ABCD
    assert dict(profile.point("pipe_status").states) == {0x55: "empty", 0xAA: "full"}


# --- refusals ---------------------------------------------------------------------

BASE: dict[str, Any] = {
    "profile": {
        "id": "test_meter",
        "manufacturer": "Test",
        "model": "T1",
        "protocol": "modbus",
        "kind": "electricity_meter",
        "sources": ["this test"],
    },
    "modbus": {"address_base": 0, "default_order": "ABCD", "max_registers": 125},
    "points": [
        {"name": "voltage", "table": "input", "address": 0, "type": "float32"},
    ],
}


def document(*points: dict[str, Any], **modbus: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["points"].extend(copy.deepcopy(list(points)))
    doc["modbus"].update(modbus)
    return doc


def with_point(**fields: Any) -> dict[str, Any]:
    point = {"name": "bad", "table": "input", "address": 10, "type": "float32"}
    point.update(fields)
    return document(point)


REFUSALS = [
    (
        "word-swap-on-16-bit",
        with_point(type="int16", order="CDAB"),
        "profile test_meter, point 'bad': order CDAB swaps words, but int16 is a "
        "single register; use ABCD or BADC",
    ),
    (
        "dcba-on-16-bit",
        with_point(type="uint16", order="DCBA"),
        "point 'bad': order DCBA swaps words, but uint16 is a single register",
    ),
    (
        "overlap",
        with_point(address=1),
        "profile test_meter, point 'bad': overlaps point 'voltage' in the input table "
        "(wire addresses 0..1 and 1..2)",
    ),
    (
        "registers-do-not-fit",
        with_point(registers=1),
        "point 'bad': registers = 1 does not fit type float32, which takes 2 registers",
    ),
    (
        "unknown-type",
        with_point(type="float16"),
        "point 'bad': unknown type 'float16'; expected one of int16, uint16",
    ),
    (
        "unknown-table",
        with_point(table="inputs"),
        "point 'bad': unknown table 'inputs'; expected one of coil, discrete, "
        "holding, input",
    ),
    (
        "unknown-order",
        with_point(order="ACBD"),
        "point 'bad': unknown order 'ACBD'; expected one of ABCD, CDAB, BADC, DCBA",
    ),
    (
        "past-65535",
        with_point(address=65535),
        "point 'bad': address 65535 with 2 registers ends at wire address 65536, past "
        "the end of the address space (65535)",
    ),
    (
        "below-address-base",
        document(
            {"name": "bad", "table": "input", "address": 0, "type": "uint16"},
            address_base=1,
        ),
        "point 'voltage': address 0 is below address_base = 1",
    ),
    (
        "max-registers-over-125",
        document(max_registers=126),
        "profile test_meter: max_registers is 126; Modbus allows 1 to 125 registers "
        "per read",
    ),
    (
        "point-larger-than-max-registers",
        with_point(type="int64") | {"modbus": {"max_registers": 2}},
        "point 'bad': type int64 takes 4 registers, more than max_registers = 2",
    ),
    (
        "duplicate-name",
        with_point(name="voltage", address=10),
        "point 'voltage': the name is used by two points",
    ),
    (
        "bool-in-register-table",
        with_point(type="bool"),
        "point 'bad': type bool cannot live in the input table",
    ),
    (
        "register-type-in-coil-table",
        with_point(table="coil", type="uint16"),
        "point 'bad': type uint16 cannot live in the coil table",
    ),
    (
        "unknown-key",
        with_point(adress=3),
        "point 'bad': unknown key adress in this point",
    ),
    (
        "rw-on-input-table",
        with_point(access="rw"),
        "point 'bad': access = 'rw' but the input table is read-only in Modbus",
    ),
    (
        "states-without-kind-state",
        with_point(type="uint16", states={"1": "on"}),
        'point \'bad\': states are given but kind is "gauge", not "state"',
    ),
    (
        "nan-marker-on-integer",
        with_point(type="int16", no_value=["nan"]),
        "point 'bad': \"nan\" as no_value needs a float type, not int16",
    ),
    (
        "mask-on-float",
        with_point(mask=3),
        "point 'bad': mask is only for uint16 points, not float32",
    ),
    (
        "masks-sharing-bits",
        document(
            {
                "name": "a",
                "table": "holding",
                "address": 5,
                "type": "uint16",
                "mask": 3,
            },
            {
                "name": "b",
                "table": "holding",
                "address": 5,
                "type": "uint16",
                "mask": 2,
            },
        ),
        "point 'b': overlaps point 'a' in the holding table",
    ),
    ("zero-scale", with_point(scale="0"), "point 'bad': scale must not be 0"),
    (
        "range-upside-down",
        with_point(range=[10, 0]),
        "point 'bad': range [10, 0] has low above high",
    ),
    (
        "no-sources",
        {**BASE, "profile": {**BASE["profile"], "sources": []}},
        "profile test_meter: [profile].sources must list where the facts came from",
    ),
    (
        "not-modbus",
        {**BASE, "profile": {**BASE["profile"], "protocol": "mqtt"}},
        "profile test_meter: protocol is 'mqtt', not 'modbus'",
    ),
]


@pytest.mark.parametrize(
    ("doc", "message"), [pytest.param(*case[1:], id=case[0]) for case in REFUSALS]
)
def test_profiles_that_cannot_be_right_are_refused(
    doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(doc)

    assert message in str(caught.value)


def test_disjoint_masks_on_one_register_are_accepted() -> None:
    profile = parse_profile(
        document(
            {
                "name": "a",
                "table": "holding",
                "address": 5,
                "type": "uint16",
                "mask": 3,
            },
            {
                "name": "b",
                "table": "holding",
                "address": 5,
                "type": "uint16",
                "mask": 4,
            },
        )
    )

    assert [point.name for point in profile.points] == ["voltage", "a", "b"]


def test_default_order_does_not_word_swap_single_registers() -> None:
    profile = parse_profile(
        document(
            {"name": "pf", "table": "input", "address": 10, "type": "int16"},
            default_order="CDAB",
        )
    )

    assert profile.point("voltage").order is ByteOrder.CDAB
    assert profile.point("pf").order is ByteOrder.ABCD


def test_file_id_must_equal_file_name(tmp_path: Path) -> None:
    source = (PROFILE_DIR / "eastron_sdm120.toml").read_text(encoding="utf-8")
    path = tmp_path / "sdm120_copy.toml"
    path.write_text(source, encoding="utf-8")

    with pytest.raises(ProfileError, match="the id must equal the file name"):
        load_profile(path)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[profile\nid = 1", encoding="utf-8")

    with pytest.raises(ProfileError, match=r"broken\.toml is not valid TOML"):
        load_profile(path)


def test_state_keys_are_decimal() -> None:
    doc = with_point(type="uint16", kind="state", states={"0x55": "empty"})

    with pytest.raises(ProfileError) as caught:
        parse_profile(doc)

    assert str(caught.value) == (
        "profile test_meter, point 'bad': state key '0x55' is not a decimal integer"
    )
