"""Scenario files: the shipped demo, and every mistake named by its field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from firmware_profiles import PROFILE_DIR
from sim.errors import ScenarioError
from sim.scenario import load_scenario, parse_scenario, scenario_path

DEMO_PROFILES = (
    "eastron_sdm630",
    "carlo_gavazzi_em24",
    "schneider_iem3000",
    "xintai_water_meter",
    "eastron_sdm120",
)

GOOD = """
[building]
name = "Test block"
seed = 3

[[modbus_tcp]]
id = "main"
profile = "eastron_sdm120"
unit_id = 1

[[modbus_rtu]]
line = "flats"

[[modbus_rtu.meters]]
id = "flat-1"
profile = "eastron_sdm120"
unit_id = 1
"""


FAULT = "[[modbus_rtu.meters.faults]]\n"


def test_the_demo_is_found_by_name() -> None:
    assert scenario_path("demo").name == "demo.toml"
    assert scenario_path("demo").is_file()


def test_the_demo_has_the_buildings_meters() -> None:
    demo = load_scenario("demo", resolve_profiles=False)

    assert demo.name == "Riverside Court"
    assert len(demo.spec.modbus_tcp) >= 3
    assert len(demo.spec.modbus_rtu[0].meters) >= 3
    profiles = {meter.profile for _, meter in demo.modbus_meters()}
    assert profiles == set(DEMO_PROFILES)


def test_the_demo_loads_with_every_profile() -> None:
    missing = [p for p in DEMO_PROFILES if not (PROFILE_DIR / f"{p}.toml").exists()]
    if missing:
        pytest.skip(f"profiles not in firmware_profiles/ yet: {', '.join(missing)}")

    demo = load_scenario("demo")

    assert set(demo.profiles) == set(DEMO_PROFILES)


def test_a_good_scenario_loads() -> None:
    scenario = parse_scenario(tomllib.loads(GOOD), source="good.toml")

    assert [where for where, _ in scenario.modbus_meters()] == [
        "modbus_tcp[0]",
        "modbus_rtu[0].meters[0]",
    ]
    assert scenario.profiles["eastron_sdm120"].max_registers == 80


def edit(extra: str = "", *, replace: tuple[str, str] | None = None) -> str:
    text = GOOD if replace is None else GOOD.replace(*replace)
    return text + extra


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            edit(replace=('name = "Test block"\n', "")),
            r"building\.name: Field required",
        ),
        (
            edit(
                replace=(
                    "unit_id = 1\n\n[[modbus_rtu]]",
                    "unit_id = 300\n\n[[modbus_rtu]]",
                )
            ),
            r"modbus_tcp\[0\]\.unit_id: Input should be less than or equal to 255 "
            r"\(got 300\)",
        ),
        (
            edit(
                "unit_id = 248\n",
                replace=(
                    'id = "flat-1"\nprofile = "eastron_sdm120"\nunit_id = 1\n',
                    'id = "flat-1"\nprofile = "eastron_sdm120"\n',
                ),
            ),
            r"modbus_rtu\[0\]\.meters\[0\]\.unit_id: Input should be less than or "
            r"equal to 247 \(got 248\)",
        ),
        (
            edit(replace=('line = "flats"', 'line = "flats"\nbaud = 9600')),
            r"modbus_rtu\[0\]\.baud: Extra inputs are not permitted",
        ),
        (
            edit(replace=('line = "flats"', 'line = "flats"\nparity = "X"')),
            r"modbus_rtu\[0\]\.parity: Input should be 'N', 'E' or 'O' \(got 'X'\)",
        ),
        (
            edit(FAULT + 'kind = "late"\ndelay_ms = 0\n'),
            r"modbus_rtu\[0\]\.meters\[0\]\.faults\[0\]\.delay_ms: Input should be "
            r"greater than 0 \(got 0\)",
        ),
        (
            edit(FAULT + 'kind = "explode"\n'),
            r"modbus_rtu\[0\]\.meters\[0\]\.faults\[0\]\.kind: Input tag 'explode'",
        ),
        (
            edit(replace=('id = "flat-1"', 'id = "main"')),
            r"modbus_rtu\[0\]\.meters\[0\]\.id: 'main' is already used by "
            r"modbus_tcp\[0\]",
        ),
        (
            edit(
                '[[modbus_rtu.meters]]\nid = "flat-2"\nprofile = "eastron_sdm120"\n'
                "unit_id = 1\n"
            ),
            r"modbus_rtu\[0\]\.meters\[1\]\.unit_id: 1 is already used by "
            r"modbus_rtu\[0\]\.meters\[0\]",
        ),
        (
            edit(
                replace=(
                    'profile = "eastron_sdm120"\nunit_id = 1\n\n',
                    'profile = "nope"\nunit_id = 1\n\n',
                )
            ),
            r"modbus_tcp\[0\]\.profile: profile 'nope' not found",
        ),
        (
            edit(FAULT + 'kind = "zero_glitch"\npoint = "energy"\n'),
            r"modbus_rtu\[0\]\.meters\[0\]\.faults\[0\]\.point: profile eastron_sdm120 "
            r"has no point 'energy'",
        ),
        (
            edit(FAULT + 'kind = "rollover"\npoint = "import_energy"\n'),
            r"faults\[0\]\.point: import_energy is a float32; only integer counters "
            r"roll over",
        ),
        (
            edit(FAULT + 'kind = "zero_glitch"\npoint = "voltage"\n'),
            r"faults\[0\]\.point: voltage is a gauge, not a counter",
        ),
        (
            edit(
                replace=(
                    "unit_id = 1\n\n[[modbus_rtu]]",
                    'unit_id = 1\n[[modbus_tcp.faults]]\nkind = "bad_crc"\n'
                    "\n[[modbus_rtu]]",
                )
            ),
            r"modbus_tcp\[0\]\.faults\[0\]\.kind: bad_crc applies only to Modbus RTU",
        ),
        (
            edit(replace=("seed = 3", 'seed = 3\ntimezone = "Mars/Olympus"')),
            r"building\.timezone: 'Mars/Olympus' is not a known time zone",
        ),
        (
            edit(
                '[[modbus_rtu]]\nline = "flats"\n[[modbus_rtu.meters]]\nid = "x"\n'
                'profile = "eastron_sdm120"\nunit_id = 2\n'
            ),
            r"modbus_rtu\[1\]\.line: 'flats' is already the name of modbus_rtu\[0\]",
        ),
        (
            edit(
                replace=(
                    "unit_id = 1\n\n[[modbus_rtu]]",
                    "unit_id = 1\nport = 1502\n\n"
                    '[[modbus_tcp]]\nid = "b"\nprofile = "eastron_sdm120"\n'
                    "unit_id = 2\nport = 1502\n\n[[modbus_rtu]]",
                )
            ),
            r"modbus_tcp\[1\]\.port: 1502 is already used by modbus_tcp\[0\]",
        ),
        (
            edit(
                replace=(
                    "unit_id = 1\n\n[[modbus_rtu]]",
                    'unit_id = 1\nendpoint = "gw"\n\n'
                    '[[modbus_tcp]]\nid = "b"\nprofile = "eastron_sdm120"\n'
                    'unit_id = 2\nendpoint = "gw"\nabsent_unit = "gateway_exception"'
                    "\n\n[[modbus_rtu]]",
                )
            ),
            r"modbus_tcp\[1\]\.absent_unit: 'gateway_exception' differs from "
            r"modbus_tcp\[0\] on the same endpoint 'gw'",
        ),
        (
            edit(FAULT + 'kind = "refuse"\naddresses = [1]\n'),
            r"modbus_rtu\[0\]\.meters\[0\]\.faults\[0\]: Value error, addresses need a "
            r"table",
        ),
    ],
    ids=[
        "missing-name",
        "tcp-unit-id-too-big",
        "rtu-unit-id-too-big",
        "unknown-key",
        "bad-parity",
        "zero-delay",
        "unknown-fault",
        "duplicate-device-id",
        "duplicate-unit-on-line",
        "unknown-profile",
        "fault-on-missing-point",
        "rollover-on-float",
        "glitch-on-gauge",
        "bad-crc-on-tcp",
        "unknown-timezone",
        "duplicate-line",
        "port-used-twice",
        "endpoint-disagrees",
        "refuse-without-table",
    ],
)
def test_mistakes_are_named_by_their_field(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"scenario bad\.toml: .*" + message):
        parse_scenario(tomllib.loads(text), source="bad.toml")


def test_a_file_that_is_not_toml_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[building\nname = 1\n", encoding="utf-8")

    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML"):
        load_scenario(broken)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nowhere\.toml: cannot be read"):
        load_scenario(tmp_path / "nowhere.toml")
