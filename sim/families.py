"""Starters for the push-style device families (BLE, OSDP, MQTT) of a scenario.

Each wraps the family's own simulator in the runner's ``RunningFamily`` shape: its
wiring under one top-level key, and a status per device.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sim.ble.simulation import BleSimulation, ble_simulation
from sim.clock import SYSTEM_CLOCK, Clock
from sim.mqtt.simulation import MqttSimulation, mqtt_simulation
from sim.osdp.reader import OsdpLineSim, osdp_line
from sim.scenario import Scenario


class BleFamily:
    def __init__(self, simulation: BleSimulation) -> None:
        self.simulation = simulation

    def wiring(self) -> dict[str, Any]:
        if not self.simulation.wiring["devices"]:
            return {}
        return {"ble": self.simulation.wiring}

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            device["device_id"]: {"protocol": "ble", "profile": device["profile"]}
            for device in self.simulation.wiring["devices"]
        }


class OsdpFamily:
    def __init__(self, lines: list[OsdpLineSim]) -> None:
        self.lines = lines

    def wiring(self) -> dict[str, Any]:
        if not self.lines:
            return {}
        return {"osdp": [line.wiring for line in self.lines]}

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            device_id: {
                "protocol": "osdp",
                "outputs": len(reader.outputs),
            }
            for line in self.lines
            for device_id, reader in line.readers.items()
        }


class MqttFamily:
    def __init__(
        self, simulation: MqttSimulation | None, wiring: dict[str, Any]
    ) -> None:
        self.simulation = simulation
        self._wiring = wiring

    def wiring(self) -> dict[str, Any]:
        return {"mqtt": self._wiring} if self.simulation is not None else {}

    def status(self) -> dict[str, dict[str, Any]]:
        if self.simulation is None:
            return {}
        return {
            device["device_id"]: {"protocol": "mqtt", "profile": device["profile"]}
            for device in self._wiring["devices"]
        }


@asynccontextmanager
async def start_mqtt(
    scenario: Scenario, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[MqttFamily]:
    section = scenario.spec.mqtt
    if not section:
        yield MqttFamily(None, {})
        return
    simulation, wiring = mqtt_simulation(section, seed=scenario.seed)
    async with simulation:
        yield MqttFamily(simulation, wiring)


@asynccontextmanager
async def start_ble(
    scenario: Scenario, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[BleFamily]:
    section = scenario.spec.ble or []
    simulation = ble_simulation(section, seed=scenario.seed)
    if not simulation.wiring["devices"]:
        yield BleFamily(simulation)
        return
    async with simulation:
        yield BleFamily(simulation)


@asynccontextmanager
async def start_osdp(
    scenario: Scenario, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[OsdpFamily]:
    lines = [osdp_line(section)[0] for section in scenario.spec.osdp or []]
    async with AsyncExitStack() as stack:
        for line in lines:
            await stack.enter_async_context(line)
        yield OsdpFamily(lines)
