"""OSDP profiles and reader configuration: what loads, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.errors import ProfileError
from drivers.osdp import ReaderConfig, load_profile
from drivers.osdp.profile import parse_profile

KEY = "000102030405060708090a0b0c0d0e0f"


def document(**osdp: Any) -> dict[str, Any]:
    header = {"id": "test_door", "protocol": "osdp", "kind": "door_controller"}
    return {"profile": header, "osdp": {"door_contact_input": 0, **osdp}}


def test_generic_door_profile_loads() -> None:
    profile = load_profile("osdp_generic_door")

    assert profile.door_input == 0
    assert profile.door_open_when_active is True
    assert profile.tamper_input == 1
    assert profile.relay_output == 0
    assert profile.held_open_s == 30
    assert profile.card_formats == ("h10301",)
    assert profile.alarms == {"door_forced", "door_held_open", "tamper"}


def test_reader_from_mapping_takes_the_profile_and_overrides() -> None:
    reader = ReaderConfig.from_mapping(
        {
            "device_id": "door-1",
            "address": 3,
            "scbk": KEY,
            "profile": "osdp_generic_door",
            "held_open_s": 2.5,
        }
    )

    assert reader.scbk == bytes.fromhex(KEY)
    assert reader.tamper_input == 1
    assert reader.held_open_s == 2.5


@pytest.mark.parametrize(
    ("osdp", "words"),
    [
        pytest.param(
            {"tamper_input": 0}, "both door contact and tamper", id="same-input"
        ),
        pytest.param({"unlock_s": 30}, "unlock_s 30.0", id="unlock-too-long"),
        pytest.param({"held_open_s": 0}, "held_open_s 0.0", id="held-zero"),
        pytest.param({"card_formats": ["h99999"]}, "h99999", id="unknown-format"),
        pytest.param({"alarms": ["door_opened"]}, "door_opened", id="unknown-alarm"),
        pytest.param({"door_open_when": "closed"}, "door_open_when", id="bad-polarity"),
        pytest.param({"lock_output": "0"}, "lock_output", id="output-as-text"),
        pytest.param({"door_contact_input": 300}, "300", id="input-out-of-range"),
    ],
)
def test_profiles_that_cannot_be_right_are_refused(
    osdp: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(document(**osdp), expected_id="test_door")

    assert "test_door" in str(caught.value)
    assert words in str(caught.value)


def test_a_profile_of_another_protocol_is_refused() -> None:
    doc = document()
    doc["profile"]["protocol"] = "modbus"

    with pytest.raises(ProfileError, match="not 'osdp'"):
        parse_profile(doc, expected_id="test_door")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        pytest.param({"address": 127}, "address 127", id="broadcast-address"),
        pytest.param({"scbk": "0011"}, "2 bytes, not 16", id="short-key"),
        pytest.param({"scbk": "zz" * 16}, "not hex", id="key-not-hex"),
        pytest.param({"colour": "red"}, "unknown keys ['colour']", id="unknown-key"),
    ],
)
def test_reader_configuration_mistakes_are_refused(
    entry: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        ReaderConfig.from_mapping({"device_id": "door-9", "address": 1, **entry})

    assert "door-9" in str(caught.value)
    assert words in str(caught.value)


def test_a_refused_key_is_not_quoted() -> None:
    secret = "ab" * 15 + "zz"

    with pytest.raises(ProfileError) as caught:
        ReaderConfig.from_mapping({"device_id": "d", "address": 1, "scbk": secret})

    assert secret not in str(caught.value)
