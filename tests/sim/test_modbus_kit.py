"""Small firmware profiles and helpers shared by the Modbus simulator tests.

The profiles are written to a temporary folder, never to firmware_profiles/: they
exist to reach every type, byte order and table, not to describe a real device.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC
from pathlib import Path

from sim.clock import Clock, ManualClock
from sim.modbus.meters import ModelOptions, make_model
from sim.modbus.profile import load_profile
from sim.modbus.slave import GapPolicy, ModbusDevice

TEST_DEVICE = """
[profile]
id = "pams_test_device"
manufacturer = "PAMS"
model = "every type"
protocol = "modbus"
kind = "test_device"
sources = ["tests/sim"]

[modbus]
address_base = 0
default_order = "ABCD"
max_registers = 125
max_gap = 10

[[points]]
name = "setpoint"
table = "holding"
address = 0
type = "int16"
scale = "0.1"
unit = "°C"
access = "rw"

[[points]]
name = "mode"
table = "holding"
address = 1
type = "uint16"
order = "BADC"
access = "rw"

[[points]]
name = "energy"
table = "holding"
address = 2
type = "uint32"
order = "CDAB"
scale = "0.01"
unit = "kWh"
kind = "counter"

[[points]]
name = "big_counter"
table = "holding"
address = 4
type = "uint64"
scale = "0.001"
kind = "counter"
access = "rw"

[[points]]
name = "ratio"
table = "holding"
address = 8
type = "float64"
order = "DCBA"
access = "rw"

[[points]]
name = "signed_total"
table = "holding"
address = 12
type = "int64"
order = "BADC"
access = "rw"

[[points]]
name = "level"
table = "holding"
address = 20
type = "float32"
order = "CDAB"
access = "rw"

[[points]]
name = "relay"
table = "coil"
address = 0
type = "bool"
access = "rw"

[[points]]
name = "relay_2"
table = "coil"
address = 1
type = "bool"

[[points]]
name = "door"
table = "discrete"
address = 0
type = "bool"

[[points]]
name = "temperature"
table = "input"
address = 0
type = "int32"
scale = "0.01"
range = [20, 22]
"""

# The Kaifeng Xintai water meter of register_maps.md E, as the simulator tests need it.
TEST_WATER_METER = """
[profile]
id = "pams_test_water"
manufacturer = "PAMS"
model = "valve water meter"
protocol = "modbus"
kind = "water_meter"
sources = ["register_maps.md E"]

[modbus]
address_base = 0
default_order = "DCBA"
max_registers = 28

[[points]]
name = "forward_volume"
table = "holding"
address = 0x0001
type = "float32"
unit = "m³"
kind = "counter"
access = "rw"

[[points]]
name = "reverse_volume"
table = "holding"
address = 0x0003
type = "float32"
unit = "m³"
kind = "counter"

[[points]]
name = "flow_rate"
table = "holding"
address = 0x0005
type = "float32"
unit = "m³/h"

[[points]]
name = "pipe_status"
table = "holding"
address = 0x0007
type = "uint16"
kind = "state"
states = { 0x55 = "empty", 0xAA = "full" }

[[points]]
name = "remaining_volume"
table = "holding"
address = 0x0008
type = "float32"
unit = "m³"

[[points]]
name = "device_address"
table = "holding"
address = 0x000E
type = "uint16"
order = "ABCD"

[[points]]
name = "battery_voltage"
table = "holding"
address = 0x001A
type = "float32"
unit = "V"

[[points]]
name = "valve"
table = "holding"
address = 0x001C
type = "uint16"
mask = 0x0003
kind = "state"
access = "rw"
states = { 1 = "open", 2 = "closed" }

[[points]]
name = "battery_low"
table = "holding"
address = 0x001C
type = "uint16"
mask = 0x0008
kind = "state"
states = { 0 = "ok", 1 = "low" }
"""


def write_profiles(folder: Path) -> Path:
    """Write the test profiles into ``folder`` and return it."""
    (folder / "pams_test_device.toml").write_text(TEST_DEVICE, encoding="utf-8")
    (folder / "pams_test_water.toml").write_text(TEST_WATER_METER, encoding="utf-8")
    return folder


def make_device(
    profile_id: str,
    *,
    dirs: list[Path] | None = None,
    clock: Clock | None = None,
    unit_id: int = 1,
    gaps: GapPolicy = "fill",
    latency_s: float = 0.0,
    seed: str = "7",
) -> ModbusDevice:
    profile = load_profile(profile_id, dirs)
    options = ModelOptions(seed=seed, timezone=UTC)
    return ModbusDevice(
        device_id=f"{profile_id}-{unit_id}",
        profile=profile,
        unit_id=unit_id,
        model=make_model(profile, unit_id, options),
        clock=clock or ManualClock(),
        latency_s=latency_s,
        gaps=gaps,
    )


def test_the_kit_profiles_load(tmp_path: Path) -> None:
    folder = write_profiles(tmp_path)

    device = load_profile("pams_test_device", [folder])
    water = load_profile("pams_test_water", [folder])

    assert len(device.points) == 11
    assert water.point("valve").writable


SIM_MODULES = [
    "sim.cli",
    "sim.runner",
    "sim.scenario",
    "sim.modbus",
    "sim.modbus.family",
    "sim.modbus.slave",
    "sim.modbus.rtu",
    "sim.modbus.tcp",
    "sim.modbus.meters",
    "sim.modbus.encoder",
    "sim.modbus.profile",
]


def test_every_module_imports_first_and_none_pulls_in_drivers() -> None:
    # Each import starts from an empty module cache, so an import cycle that only
    # bites when a given module is imported first shows up here.
    script = (
        "import importlib, sys\n"
        f"for name in {SIM_MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in "
        "('sim', 'drivers')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "    assert 'drivers' not in sys.modules, name\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
