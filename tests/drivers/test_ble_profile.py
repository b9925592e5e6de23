"""BLE firmware profiles: the shipped ones load, and impossible ones are refused."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from drivers.ble.profile import (
    BindkeyPolicy,
    BleFormat,
    Dedupe,
    load_ble_profile,
    parse_ble_profile,
)
from drivers.errors import ProfileError

SHIPPED = {
    "bthome_leak_sensor": ["leak", "battery"],
    "bthome_th_sensor": ["temperature", "humidity", "battery"],
    "bthome_button": ["battery"],
    "ruuvitag_df5": [
        "temperature",
        "humidity",
        "pressure",
        "acceleration_x",
        "acceleration_y",
        "acceleration_z",
        "battery_voltage",
        "tx_power",
        "movement_counter",
    ],
}


@pytest.mark.parametrize(("profile_id", "points"), list(SHIPPED.items()))
def test_shipped_profile_loads_with_its_points(
    profile_id: str, points: list[str]
) -> None:
    profile = load_ble_profile(profile_id)

    assert profile.id == profile_id
    assert [point.name for point in profile.points] == points


def test_leak_profile_raises_water_leak_on_the_moisture_binary() -> None:
    profile = load_ble_profile("bthome_leak_sensor")

    assert profile.point("leak").source == "binary:moisture"
    assert [(a.name, a.point, a.when) for a in profile.alarms] == [
        ("water_leak", "leak", True)
    ]


def test_ruuvi_profile_keeps_163_835_degrees_out() -> None:
    profile = load_ble_profile("ruuvitag_df5")

    low, high = profile.point("temperature").range or (None, None)
    assert (profile.format, profile.bindkey, profile.dedupe) == (
        BleFormat.RUUVI_DF5,
        BindkeyPolicy.NONE,
        Dedupe.MEASUREMENT_SEQUENCE,
    )
    assert low is not None and high is not None
    assert not low <= Decimal("163.835") <= high


VALID: dict[str, Any] = {
    "profile": {"id": "test_sensor", "protocol": "ble"},
    "ble": {"format": "bthome_v2", "dedupe": "packet_id"},
    "points": [{"name": "temperature", "source": "temperature", "range": [-30, 60]}],
    "alarms": [],
    "events": [{"source": "button", "kind": "button_press"}],
}


def broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "words"),
    [
        pytest.param(
            broken(("profile", "protocol"), "modbus"), "not 'ble'", id="not ble"
        ),
        pytest.param(
            broken(("ble", "format"), "mibeacon"), "format = 'mibeacon'", id="format"
        ),
        pytest.param(
            broken(("ble", "dedupe"), "measurement_sequence"),
            "does not apply to bthome_v2",
            id="Ruuvi dedupe on BTHome",
        ),
        pytest.param(
            broken(("points", 0, "source"), "temprature"),
            "source 'temprature' is not a quantity",
            id="misspelt source",
        ),
        pytest.param(
            broken(("points", 0, "range"), [60, -30]),
            "low above high",
            id="range upside down",
        ),
        pytest.param(
            broken(("points", 0, "kind"), "meter"), "kind 'meter'", id="point kind"
        ),
        pytest.param(
            broken(("alarms",), [{"name": "water_leak", "point": "leak"}]),
            "point 'leak' is not defined",
            id="alarm on a missing point",
        ),
        pytest.param(
            broken(("events", 0, "source"), "knob"),
            "event source 'knob'",
            id="unknown event",
        ),
        pytest.param(
            broken(("points",), VALID["points"] * 2),
            "point 'temperature' is defined twice",
            id="same point twice",
        ),
        pytest.param(
            broken(("ble", "repeat_window_s"), -1),
            "repeat_window_s = -1",
            id="negative window",
        ),
    ],
)
def test_impossible_profile_is_refused_naming_what_is_wrong(
    document: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProfileError, match=words):
        parse_ble_profile(document)


def test_suffixed_and_binary_sources_are_accepted() -> None:
    document = broken(
        ("points",),
        [
            {"name": "inside", "source": "temperature_1"},
            {"name": "smoke", "source": "binary:smoke"},
        ],
    )

    profile = parse_ble_profile(document)

    assert [p.source for p in profile.points] == ["temperature_1", "binary:smoke"]


def test_profile_id_must_match_its_file_name() -> None:
    with pytest.raises(ProfileError, match="does not match its file name 'other'"):
        parse_ble_profile(VALID, expected_id="other")
