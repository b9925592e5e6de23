"""The runner: a scenario's devices listen, the wiring says where, pymodbus reads them,
and the simulator can say what it served."""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import numpy
import pytest
import serial
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from typer.testing import CliRunner

from firmware_profiles import PROFILE_DIR
from sim.cli import app
from sim.modbus.profile import ModbusPoint
from sim.modbus.slave import ModbusDevice
from sim.runner import Simulation, run, simulate
from sim.scenario import Scenario, load_scenario, parse_scenario
from tests.sim.test_modbus_kit import write_profiles

SCENARIO = """
[building]
name = "Runner block"
seed = 11

[[modbus_tcp]]
id = "main"
profile = "eastron_sdm120"
unit_id = 1
rated_power_w = 40000

[[modbus_tcp]]
id = "gw-a"
profile = "eastron_sdm120"
unit_id = 1
endpoint = "gateway"
absent_unit = "gateway_exception"

[[modbus_tcp]]
id = "gw-b"
profile = "pams_test_device"
unit_id = 2
endpoint = "gateway"
absent_unit = "gateway_exception"

[[modbus_tcp.faults]]
kind = "refuse"
points = ["ratio"]

[[modbus_rtu]]
line = "flats"
baudrate = 19200
parity = "E"

[[modbus_rtu.meters]]
id = "flat-1"
profile = "eastron_sdm120"
unit_id = 1

[[modbus_rtu.meters]]
id = "flat-2"
profile = "eastron_sdm120"
unit_id = 2

[[modbus_rtu.meters.faults]]
kind = "silent"

[[modbus_rtu.meters]]
id = "water"
profile = "pams_test_water"
unit_id = 10
"""


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    folder.mkdir()
    return write_profiles(folder)


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "block.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def scenario(profiles: Path) -> Scenario:
    data = tomllib.loads(SCENARIO)
    return parse_scenario(data, source="block.toml", profile_dirs=[profiles])


@pytest.fixture
async def simulation(scenario: Scenario) -> AsyncIterator[Simulation]:
    async with simulate(scenario) as running:
        yield running


def f32(registers: list[int]) -> Decimal:
    """The shortest decimal of a big-endian float32, as numpy prints it."""
    value = numpy.frombuffer(struct.pack(">2H", *registers), dtype=">f4")[0]
    return Decimal(str(value))


def test_the_wiring_names_every_device(simulation: Simulation) -> None:
    wiring = simulation.wiring()

    assert wiring["scenario"] == "Runner block"
    tcp = {entry["device_id"]: entry for entry in wiring["modbus_tcp"]}
    assert list(tcp) == ["main", "gw-a", "gw-b"]
    assert tcp["gw-a"]["port"] == tcp["gw-b"]["port"] != tcp["main"]["port"]
    assert tcp["gw-b"] == {
        "device_id": "gw-b",
        "host": "127.0.0.1",
        "port": tcp["gw-b"]["port"],
        "unit_id": 2,
        "profile": "pams_test_device",
    }
    (line,) = wiring["modbus_rtu"]
    assert line["port"].startswith("/dev/pts/")
    assert (line["line"], line["baudrate"], line["stopbits"]) == ("flats", 19200, 1)
    assert [d["device_id"] for d in line["devices"]] == ["flat-1", "flat-2", "water"]
    assert json.loads(json.dumps(wiring)) == wiring


def test_the_wiring_framing_opens_the_port(simulation: Simulation) -> None:
    # Even parity is asked for; a kernel that refuses parity on a pty gets 8N1.
    line = simulation.wiring()["modbus_rtu"][0]

    port = serial.Serial(
        line["port"],
        baudrate=line["baudrate"],
        parity=line["parity"],
        stopbits=line["stopbits"],
        bytesize=line["bytesize"],
        timeout=0.1,
    )
    port.timeout = 0  # pyserial sets the framing again, as pymodbus does
    port.close()

    assert line["parity"] in ("E", "N")


async def test_pymodbus_reads_what_the_simulator_served(
    simulation: Simulation,
) -> None:
    wiring = simulation.wiring()
    main = wiring["modbus_tcp"][0]
    client = AsyncModbusTcpClient(main["host"], port=main["port"], timeout=1)
    await client.connect()
    try:
        reply = await client.read_input_registers(0x0C, count=2, device_id=1)
    finally:
        client.close()

    served = simulation.device("main").last_served("active_power")
    assert served is not None
    assert f32(reply.registers) == served.value
    assert simulation.device("main").stats.requests == 1


async def test_scenario_faults_are_in_force(simulation: Simulation) -> None:
    wiring = simulation.wiring()
    gateway = wiring["modbus_tcp"][1]
    tcp = AsyncModbusTcpClient("127.0.0.1", port=gateway["port"], timeout=1)
    await tcp.connect()
    try:
        refused = await tcp.read_holding_registers(8, count=4, device_id=2)
        unknown = await tcp.read_input_registers(0, count=2, device_id=3)
    finally:
        tcp.close()

    line = wiring["modbus_rtu"][0]
    rtu = AsyncModbusSerialClient(
        line["port"], baudrate=19200, parity=line["parity"], timeout=0.3, retries=0
    )
    await rtu.connect()
    try:
        with pytest.raises(ModbusIOException):
            await rtu.read_input_registers(0, count=2, device_id=2)
        alive = await rtu.read_input_registers(0, count=2, device_id=1)
    finally:
        rtu.close()

    assert refused.exception_code == 2
    assert unknown.exception_code == 0x0B
    assert not alive.isError()
    assert simulation.device("flat-2").stats.silent == 1


async def test_the_status_counts_requests_and_values(simulation: Simulation) -> None:
    line = simulation.wiring()["modbus_rtu"][0]
    rtu = AsyncModbusSerialClient(
        line["port"], baudrate=19200, parity=line["parity"], timeout=1
    )
    await rtu.connect()
    try:
        await rtu.write_register(0x001C, 2, device_id=10)
        valve = await rtu.read_holding_registers(0x001C, count=1, device_id=10)
    finally:
        rtu.close()

    status = simulation.status()["devices"]["water"]

    assert valve.registers == [2]
    assert (status["requests"], status["replies"], status["writes"]) == (2, 2, 1)
    assert status["values"]["valve"] == "2"
    assert status["served"]["valve"] == "2"
    assert status["values"]["pipe_status"] == "170"


async def test_run_writes_the_wiring_then_stops_on_request(
    scenario: Scenario, tmp_path: Path
) -> None:
    wiring_path = tmp_path / "out" / "wiring.json"
    status_path = tmp_path / "out" / "status.json"
    stop, ready = asyncio.Event(), asyncio.Event()

    task = asyncio.create_task(
        run(
            scenario,
            wiring_path=wiring_path,
            status_path=status_path,
            stop=stop,
            ready=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    wiring = json.loads(wiring_path.read_text(encoding="utf-8"))
    main = wiring["modbus_tcp"][0]
    client = AsyncModbusTcpClient("127.0.0.1", port=main["port"], timeout=1)
    await client.connect()
    await client.read_input_registers(0, count=2, device_id=1)
    client.close()
    stop.set()
    status = await asyncio.wait_for(task, timeout=5)

    assert status["devices"]["main"]["requests"] == 1
    assert json.loads(status_path.read_text())["devices"]["main"]["requests"] == 1
    assert {p.name for p in wiring_path.parent.iterdir()} == {
        "wiring.json",
        "status.json",
    }


async def test_run_stops_after_its_duration(scenario: Scenario) -> None:
    started = time.monotonic()

    status = await asyncio.wait_for(run(scenario, duration_s=0.2), timeout=5)

    assert time.monotonic() - started >= 0.2
    assert set(status["devices"]) == {
        "main",
        "gw-a",
        "gw-b",
        "flat-1",
        "flat-2",
        "water",
    }


def test_cli_show_lists_the_devices(scenario_file: Path, profiles: Path) -> None:
    result = CliRunner().invoke(
        app, ["show", str(scenario_file), "--profiles", str(profiles)]
    )

    assert result.exit_code == 0, result.output
    for device in ("main", "gw-a", "gw-b", "flat-1", "flat-2", "water"):
        assert device in result.output
    assert "refuse" in result.output and "silent" in result.output


def test_cli_show_names_the_wrong_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[building]\nname = "x"\nseed = "many"\n', encoding="utf-8")

    result = CliRunner().invoke(app, ["show", str(bad)])

    assert result.exit_code == 2
    assert "building.seed: Input should be a valid integer" in result.output


def test_cli_run_serves_until_sigterm(
    scenario_file: Path, profiles: Path, tmp_path: Path
) -> None:
    wiring_path = tmp_path / "wiring.json"
    command = [
        sys.executable,
        "-c",
        "from sim.cli import app; app()",
        "run",
        str(scenario_file),
        "--wiring",
        str(wiring_path),
        "--profiles",
        str(profiles),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not wiring_path.exists() and process.poll() is None:
            assert time.monotonic() < deadline, "no wiring after 20 s"
            time.sleep(0.05)
        wiring = json.loads(wiring_path.read_text(encoding="utf-8"))
        assert Path(wiring["modbus_rtu"][0]["port"]).exists()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr
    assert "scenario Runner block stopping" in stderr


DEMO_PROFILES = (
    "eastron_sdm630",
    "carlo_gavazzi_em24",
    "schneider_iem3000",
    "xintai_water_meter",
    "eastron_sdm120",
)


def decode_registers(point: ModbusPoint, registers: list[int]) -> Decimal:
    """A decoder written for this test alone: rearrange to big-endian, then struct."""
    chunks = [word.to_bytes(2, "big") for word in registers]
    if point.order.value in ("BADC", "DCBA"):
        chunks = [chunk[::-1] for chunk in chunks]
    if point.order.value in ("CDAB", "DCBA"):
        chunks.reverse()
    data = b"".join(chunks)
    if point.type.value == "float32":
        raw = Decimal(str(numpy.frombuffer(data, dtype=">f4")[0]))
    elif point.type.value == "float64":
        raw = Decimal(repr(struct.unpack(">d", data)[0]))
    else:
        raw = Decimal(int.from_bytes(data, "big", signed=point.type.is_signed))
    if point.mask is not None:
        raw = Decimal((int(raw) & point.mask) >> point.shift)
    return raw * point.scale + point.offset


async def test_the_demo_building_answers_on_every_device() -> None:
    missing = [p for p in DEMO_PROFILES if not (PROFILE_DIR / f"{p}.toml").exists()]
    if missing:
        pytest.skip(f"profiles not in firmware_profiles/ yet: {', '.join(missing)}")
    demo = load_scenario("demo")

    async with simulate(demo) as simulation:
        wiring = simulation.wiring()
        for entry in wiring["modbus_tcp"]:
            client = AsyncModbusTcpClient(entry["host"], port=entry["port"], timeout=1)
            await client.connect()
            try:
                await check_every_point(client, simulation.device(entry["device_id"]))
            finally:
                client.close()
        (line,) = wiring["modbus_rtu"]
        client = AsyncModbusSerialClient(
            line["port"], baudrate=line["baudrate"], parity=line["parity"], timeout=1
        )
        await client.connect()
        try:
            for entry in line["devices"]:
                await check_every_point(client, simulation.device(entry["device_id"]))
        finally:
            client.close()


async def check_every_point(
    client: AsyncModbusTcpClient | AsyncModbusSerialClient, device: ModbusDevice
) -> None:
    """Read each point alone; what a decoder gets is what the simulator served."""
    readers = {
        "input": client.read_input_registers,
        "holding": client.read_holding_registers,
    }
    for point in device.profile.points:
        reply = await readers[point.table.value](
            point.address, count=point.registers, device_id=device.unit_id
        )
        if device.device_id == "carpark-sub" and point.name.startswith("voltage_thd"):
            assert reply.exception_code == 2, point.name
            continue
        assert not reply.isError(), f"{device.device_id} {point.name}: {reply}"
        served = device.last_served(point.name)
        assert served is not None
        assert decode_registers(point, reply.registers) == served.value, (
            f"{device.device_id} {point.name}"
        )
