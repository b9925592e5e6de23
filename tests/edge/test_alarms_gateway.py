"""The whole gateway with the cloud unreachable: a leak on a real MQTT broker closes
the simulated water main over a real pty, verified, and the alarm, its clear and the
action are committed to the buffer at alarm priority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC
from pathlib import Path

import aiomqtt
import pytest

from drivers.types import DeviceEvent, Reading
from edge.agent import Gateway
from edge.buffer import KIND_EVENT, Buffer
from edge.config import SiteConfig, load_config
from sim.modbus import ModbusDevice, ModelOptions, RtuLine, load_profile, make_model
from sim.modbus.meters import WaterMeter
from sync.schema import Priority
from tests.conftest import Broker, free_port

BASE = "zigbee2mqtt/basement_leak_gw"


class WatchedGateway(Gateway):
    """The gateway, with a way to wait for what it records."""

    def __init__(self, config: SiteConfig) -> None:
        self.recorded = asyncio.Event()
        super().__init__(config)

    def _record(self, items: Sequence[Reading | DeviceEvent]) -> None:
        super()._record(items)
        self.recorded.set()

    async def until(self, condition: Callable[[], bool], within_s: float = 10) -> None:
        async with asyncio.timeout(within_s):
            while not condition():
                self.recorded.clear()
                await self.recorded.wait()


@pytest.fixture
async def water_line() -> AsyncIterator[tuple[RtuLine, ModbusDevice]]:
    profile = load_profile("xintai_water_meter")
    meter = ModbusDevice(
        device_id="water-main",
        profile=profile,
        unit_id=10,
        model=make_model(profile, 10, ModelOptions(seed="gw", timezone=UTC)),
        tick_s=0.05,
    )
    async with RtuLine(name="plant", devices=[meter], baudrate=9600) as line:
        yield line, meter


def site(tmp_path: Path, line: RtuLine, broker: Broker) -> Path:
    text = f"""
[gateway]
id = "gw-offline"
data_dir = "{tmp_path / "edge"}"

[cloud]
url = "http://127.0.0.1:{free_port()}"
backoff_initial_s = 0.05
backoff_max_s = 0.2

[alarms]
clear_hold_s = 0.2
tick_s = 0.05

[[modbus_rtu]]
id = "plant"
port = "{line.port}"
timeout_s = 0.3

[[modbus_rtu.devices]]
id = "water-main"
unit_id = 10
profile = "xintai_water_meter"
poll_interval_s = 1.0

[[rules]]
id = "water-main-offline"
device = "water-main"
offline_s = 0

[mqtt]
host = "{broker.host}"
port = {broker.port}

[[mqtt.devices]]
id = "leak-basement"
profile = "z2m_aqara_sjcgq11lm"
base_topic = "{BASE}"

[[actions]]
on = "water_leak"
kind = "close_valve"
device = "water-main"
verify_interval_s = 0.05
"""
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_leak_closes_the_valve_with_the_cloud_unreachable(
    tmp_path: Path,
    water_line: tuple[RtuLine, ModbusDevice],
    mqtt_broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAMS_EDGE_TOKEN", "not-needed-offline")
    line, meter = water_line
    gateway = WatchedGateway(load_config(site(tmp_path, line, mqtt_broker)))
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop, drain_timeout_s=0.2))
    try:
        await gateway.until(lambda: gateway.mqtt is not None)  # the first poll
        await asyncio.wait_for(gateway.mqtt.wait_connected(), 10)
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
            await client.publish(BASE, b'{"battery":100,"water_leak":true}', qos=1)
            await gateway.alarms.actions.wait_for(lambda seen: len(seen) == 1, 10)
            await client.publish(BASE, b'{"battery":100,"water_leak":false}', qos=1)
            await gateway.until(lambda: not gateway.alarms.rules.open_alarms())
    finally:
        stop.set()
        summary = await running

    assert isinstance(meter.model, WaterMeter) and meter.model.valve_open is False
    assert summary.records_synced == 0  # nothing reached a cloud: there was none
    assert not summary.drained
    events = stored_events(tmp_path / "edge" / "buffer.db")
    alarms = [(p, d) for k, p, d in events if k == "alarm"]
    actions = [(p, d) for k, p, d in events if k == "action"]
    assert [(p, d["type"], d["state"], d["severity"]) for p, d in alarms] == [
        (Priority.ALARM, "water_leak", "active", "critical"),
        (Priority.ALARM, "water_leak", "cleared", "critical"),
    ]
    [(priority, action)] = actions
    assert priority == Priority.ALARM
    assert (action["type"], action["target"], action["verified"]) == (
        "close_valve",
        "water-main",
        True,
    )
    # The meter answered throughout: its offline rule (no grace) never fired.
    assert all(d["type"] != "device_offline" for _, d in alarms)


def stored_events(path: Path) -> list[tuple[str, int, dict[str, object]]]:
    buffer = Buffer(path, boot_id="test-reader")
    try:
        batch = buffer.next_batch(100_000)
    finally:
        buffer.close()
    assert batch is not None
    return [
        (r.name, r.priority, json.loads(r.data or "{}"))
        for r in batch.records
        if r.kind == KIND_EVENT
    ]
