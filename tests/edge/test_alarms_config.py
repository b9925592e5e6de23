"""Rules and actions in the site configuration: what loads, and what is refused with
the place named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.alarms import AlarmEngine
from edge.config import ConfigError, load_config

SITE = """
[gateway]
id = "gw-1"

[cloud]
url = "http://127.0.0.1:9"

[[modbus_rtu]]
id = "plant"
port = "/dev/ttyUSB0"

[[modbus_rtu.devices]]
id = "water-main"
unit_id = 10
profile = "xintai_water_meter"

[[modbus_rtu.devices]]
id = "pump-meter"
unit_id = 1
profile = "eastron_sdm120"

[mqtt]
[[mqtt.devices]]
id = "leak-basement"
profile = "z2m_aqara_sjcgq11lm"
base_topic = "zigbee2mqtt/basement"

[[mqtt.devices]]
id = "smoke-bins"
profile = "z2m_xiaomi_jtyj_gd_01lm"
base_topic = "zigbee2mqtt/bins"

[[mqtt.devices]]
id = "lift"
profile = "tasmota_sensors"
base_topic = "lift"

[[osdp]]
id = "doors"
port = "/dev/ttyUSB1"

[[osdp.readers]]
id = "door-lobby"
address = 1
"""

GOOD = """
[alarms]
clear_hold_s = 5
severity = { door_held_open = "warning" }

[[rules]]
id = "pump-overcurrent"
device = "pump-meter"
point = "current"
type = "equipment_fault"
above = 12
clear_below = 10
for_s = 30

[[rules]]
id = "lift-temperature"
device = "lift"
point = "ds18b20_temperature"
above = 45.5

[[rules]]
id = "pump-offline"
device = "pump-meter"
offline_s = 60

[[actions]]
on = "water_leak"
kind = "close_valve"
device = "water-main"
sources = ["leak-basement"]

[[actions]]
on = "smoke"
kind = "release_doors"
devices = ["door-lobby"]
seconds = 25
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SITE + text, encoding="utf-8")
    return path


def test_rules_and_actions_load(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))

    assert [rule.id for rule in config.rules] == [
        "pump-overcurrent",
        "lift-temperature",
        "pump-offline",
    ]
    assert str(config.rules[1].above) == "45.5"
    assert [(a.kind, a.on) for a in config.actions] == [
        ("close_valve", "water_leak"),
        ("release_doors", "smoke"),
    ]
    engine = AlarmEngine.from_site(config, emit=lambda items: None)
    assert engine.rules.version == 0
    assert engine.rules.clear_hold_s == 5
    assert engine.rules.severities.of("door_held_open") == "warning"


def test_a_site_without_alarms_loads_no_profiles_for_them(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))

    engine = AlarmEngine.from_site(config, emit=lambda items: None)

    assert (config.rules, config.actions) == ([], [])
    assert engine.rules.rules == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'device = "water-mian"\n',
            "actions[0] (close_valve on water_leak): device 'water-mian' is not in "
            "the site configuration",
        ),
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'device = "pump-meter"\n',
            "actions[0] (close_valve on water_leak): profile eastron_sdm120 of "
            "pump-meter has no point 'valve'",
        ),
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'device = "water-main"\npoint = "battery_low"\n',
            "actions[0] (close_valve on water_leak): point 'battery_low' of "
            "water-main is read-only (profile xintai_water_meter)",
        ),
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'device = "smoke-bins"\n',
            "actions[0] (close_valve on water_leak): smoke-bins is a mqtt device; "
            "a valve is closed through a Modbus point",
        ),
        (
            '[[actions]]\non = "smoke"\nkind = "release_doors"\n'
            'devices = ["water-main"]\n',
            "actions[0] (release_doors on smoke): water-main is a modbus device, "
            "not an OSDP door reader",
        ),
        (
            '[[actions]]\non = "smoke"\nkind = "release_doors"\n'
            'devices = ["door-lobby"]\nseconds = 30\n',
            "actions[0] (release_doors on smoke): seconds = 30 is over the 25.5 s "
            "an OSDP output timer carries",
        ),
        (
            '[[actions]]\non = "smok"\nkind = "release_doors"\n'
            'devices = ["door-lobby"]\n',
            "actions[0] (release_doors on smok): nothing on this site raises 'smok' "
            "(raised here: door_forced, door_held_open, smoke, tamper, water_leak)",
        ),
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'device = "water-main"\nsources = ["leak-cellar"]\n',
            "actions[0] (close_valve on water_leak): source 'leak-cellar' is not in "
            "the site configuration",
        ),
        (
            '[[actions]]\non = "water_leak"\nkind = "close_valve"\n'
            'devices = ["water-main"]\n',
            "actions[0]: Value error, close_valve takes one device",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\npoint = "curent"\nabove = 1\n',
            "rules[0] (r): pump-meter has no point 'curent'",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "lift"\npoint = "ds18b20"\nabove = 1\n',
            "rules[0] (r): lift has no point 'ds18b20'",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump"\npoint = "current"\nabove = 1\n',
            "rules[0] (r): device 'pump' is not in the site configuration",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\npoint = "current"\n'
            "above = 1\nstale_s = 60\n",
            "rules[0]: Value error, a rule needs exactly one condition",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\npoint = "current"\n'
            "offline_s = 5\n",
            "rules[0]: Value error, an offline rule watches the device, not a point",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\npoint = "current"\n'
            "above = 10\nbelow = 5\nclear_below = 4\n",
            "rules[0]: Value error, the band is empty",
        ),
        (
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\nstale_s = 5\n'
            'point = "current"\n'
            '[[rules]]\nid = "r"\ndevice = "pump-meter"\noffline_s = 5\n',
            "rules: top level: rule id 'r' is used twice",
        ),
        (
            '[alarms]\nseverity = { water_leak = "urgent" }\n',
            "alarms.severity.water_leak: Input should be 'critical', 'major', "
            "'minor' or 'warning'",
        ),
    ],
    ids=[
        "unknown-valve-device",
        "no-valve-point",
        "read-only-point",
        "valve-on-mqtt-device",
        "door-that-is-a-meter",
        "door-timer-too-long",
        "type-nothing-raises",
        "unknown-source",
        "devices-for-a-valve",
        "unknown-point",
        "wildcard-point-needs-its-suffix",
        "unknown-rule-device",
        "two-conditions",
        "offline-with-point",
        "empty-band",
        "duplicate-rule-id",
        "unknown-severity",
    ],
)
def test_what_cannot_be_right_is_refused_naming_the_place(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = write(tmp_path, extra)

    with pytest.raises(ConfigError) as refused:
        load_config(path)

    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)
