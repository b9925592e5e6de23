"""Local actions against the simulators over real pseudo-terminals: the Xintai water
meter on an RS-485 line (the Modbus driver closes its valve and verifies it) and an
OSDP door reader (libosdp on both ends; the simulator records the output commands).
No cloud anywhere: these actions must work offline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import pytest

from drivers.modbus import ModbusRtuBus
from drivers.modbus import load_profile as load_driver_profile
from drivers.osdp import OsdpBus, ReaderConfig
from drivers.types import DeviceEvent, Reading
from edge.alarms import (
    ActionReport,
    ActionRunner,
    AlarmChange,
    AlarmEngine,
    AlarmKey,
    AlarmState,
    RuleEngine,
    RuleSet,
    Severity,
)
from edge.config import ActionSection
from sim.modbus import ModbusDevice, ModelOptions, RtuLine, load_profile, make_model
from sim.modbus.meters import WaterMeter
from sim.osdp import OsdpLineSim, osdp_line

LEAK = AlarmKey("leak-1", "water_leak")
SMOKE = AlarmKey("smoke-1", "smoke")
KEY = "000102030405060708090a0b0c0d0e0f"


@dataclass
class Targets:
    modbus_devices: dict[str, Any] = field(default_factory=dict)
    door_buses: dict[str, Any] = field(default_factory=dict)


def change(key: AlarmKey, state: AlarmState = AlarmState.ACTIVE) -> AlarmChange:
    return AlarmChange(key, state, Severity.CRITICAL, None, time.monotonic())


def valve_action(**overrides: Any) -> ActionSection:
    fields = {
        "on": "water_leak",
        "kind": "close_valve",
        "device": "water-main",
        "verify_timeout_s": 2.0,
        "verify_interval_s": 0.05,
        "retries": 0,
        **overrides,
    }
    return ActionSection.model_validate(fields)


def runner(actions: Sequence[ActionSection], targets: Targets) -> ActionRunner:
    return ActionRunner(actions, targets=targets, report=lambda report: None)


# --- the water meter -----------------------------------------------------------------


@dataclass
class WaterLine:
    meter: ModbusDevice
    targets: Targets

    @property
    def model(self) -> WaterMeter:
        assert isinstance(self.meter.model, WaterMeter)
        return self.meter.model


@pytest.fixture
async def water() -> AsyncIterator[WaterLine]:
    """The simulated Xintai meter on its pty, polled by the real Modbus driver."""
    profile = load_profile("xintai_water_meter")
    meter = ModbusDevice(
        device_id="water-main",
        profile=profile,
        unit_id=10,
        model=make_model(profile, 10, ModelOptions(seed="leak", timezone=UTC)),
        tick_s=0.05,
    )
    async with (
        RtuLine(name="plant", devices=[meter], baudrate=9600) as line,
        ModbusRtuBus(line.port, baudrate=9600, timeout_s=0.5) as bus,
    ):
        device = bus.add_device(
            "water-main", 10, load_driver_profile("xintai_water_meter")
        )
        readings = {r.point: r.value for r in await device.poll()}
        assert readings["valve"] == "open"
        yield WaterLine(meter, Targets(modbus_devices={"water-main": device}))


async def reports(
    actions: ActionRunner, count: int, within_s: float = 5.0
) -> list[ActionReport]:
    await actions.wait_for(lambda seen: len(seen) >= count, within_s)
    return list(actions.reports)


async def test_close_valve_is_verified_by_the_read_back(water: WaterLine) -> None:
    actions = runner([valve_action()], water.targets)

    actions.on_change(change(LEAK))
    [report] = await reports(actions, 1)

    assert (report.type, report.target, report.verified, report.attempt) == (
        "close_valve",
        "water-main",
        True,
        1,
    )
    assert report.detail == "valve reads closed right after the write"
    assert report.trigger == LEAK
    assert 0 <= report.latency_ms < 1000
    assert water.model.valve_open is False
    assert water.meter.stats.writes == 1
    event = report.event()
    assert (event.device_id, event.kind, event.alarm) == ("water-main", "action", True)
    assert event.data == {
        "type": "close_valve",
        "trigger": "water_leak",
        "trigger_device": "leak-1",
        "trigger_rule": None,
        "target": "water-main",
        "verified": True,
        "detail": "valve reads closed right after the write",
        "latency_ms": report.latency_ms,
        "attempt": 1,
    }


async def test_a_valve_still_travelling_is_re_read_until_it_reads_closed(
    water: WaterLine,
) -> None:
    water.model.valve_travel_s = 0.4
    actions = runner([valve_action()], water.targets)

    actions.on_change(change(LEAK))
    [report] = await reports(actions, 1)

    assert report.verified
    assert report.detail.startswith("valve reads closed after ")
    re_reads = int(report.detail.split()[4])
    assert re_reads >= 2  # the read-back said "open": the motor was still running
    assert report.latency_ms >= 350
    assert water.model.valve_open is False


async def test_a_stuck_valve_is_retried_then_reported_not_verified(
    water: WaterLine,
) -> None:
    water.model.valve_stuck = True
    actions = runner(
        [valve_action(verify_timeout_s=0.3, retries=1, retry_delay_s=0.05)],
        water.targets,
    )

    actions.on_change(change(LEAK))
    first, second = await reports(actions, 2)
    await asyncio.sleep(0.2)

    assert [(r.verified, r.attempt) for r in actions.reports] == [
        (False, 1),
        (False, 2),
    ]
    assert first.detail.startswith("valve still reads 'open' 0.3 s after the write (")
    assert second.latency_ms > first.latency_ms
    assert water.meter.stats.writes == 2  # bounded: one try and one retry
    assert water.model.valve_open is True


async def test_the_valve_is_closed_once_per_raise_of_the_alarm(
    water: WaterLine,
) -> None:
    actions = runner([valve_action()], water.targets)

    actions.on_change(change(LEAK))
    actions.on_change(change(LEAK))  # still the same open alarm
    await reports(actions, 1)
    await asyncio.sleep(0.2)
    assert water.meter.stats.writes == 1

    water.model.valve_open = True  # the plumber reopened it
    actions.on_change(change(LEAK, AlarmState.CLEARED))
    actions.on_change(change(LEAK))
    await reports(actions, 2)

    assert water.meter.stats.writes == 2
    assert water.model.valve_open is False


async def test_sources_restrict_which_sensors_close_the_valve(
    water: WaterLine,
) -> None:
    actions = runner([valve_action(sources=["leak-2"])], water.targets)

    actions.on_change(change(LEAK))
    actions.on_change(change(AlarmKey("leak-2", "smoke")))
    await asyncio.sleep(0.2)
    assert list(actions.reports) == []

    actions.on_change(change(AlarmKey("leak-2", "water_leak")))
    [report] = await reports(actions, 1)
    assert report.verified and report.trigger.device_id == "leak-2"


async def test_a_meter_the_gateway_does_not_poll_is_reported_not_verified() -> None:
    actions = runner([valve_action(retries=1, retry_delay_s=0)], Targets())

    actions.on_change(change(LEAK))
    first, second = await reports(actions, 2)

    assert (first.verified, first.detail) == (
        False,
        "water-main is not polled by this gateway (yet)",
    )
    assert second.attempt == 2


async def test_leak_to_verified_close_through_the_engine_without_a_cloud(
    water: WaterLine,
) -> None:
    """The engine's events, as the gateway would record them: the leak alarm at
    once from ``observe``, the verified action through ``emit``."""
    recorded: list[Reading | DeviceEvent] = []
    rules = RuleEngine(RuleSet(version=0), clear_hold_s=0)
    engine = AlarmEngine(
        rules, emit=recorded.extend, actions=[valve_action()], targets=water.targets
    )
    leak = DeviceEvent(
        "leak-1",
        "alarm",
        {"type": "water_leak", "state": "active", "point": "water_leak"},
        alarm=True,
    )

    async with engine:
        recorded += engine.observe([leak])
        await engine.actions.wait_for(lambda seen: len(seen) == 1, 5)

    assert [
        (e.kind, e.data["type"]) for e in recorded if isinstance(e, DeviceEvent)
    ] == [
        ("alarm", "water_leak"),
        ("action", "close_valve"),
    ]
    assert recorded[1].data["verified"] is True  # type: ignore[union-attr]


# --- the doors -----------------------------------------------------------------------


class EngineSink:
    """The gateway's side of the OSDP bus: observe, then record."""

    def __init__(self) -> None:
        self.recorded: list[Reading | DeviceEvent] = []
        rules = RuleEngine(RuleSet(version=0), clear_hold_s=0)
        self.engine = AlarmEngine(rules, emit=self.recorded.extend)
        self.changed = asyncio.Event()

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        self.recorded += self.engine.observe(items)
        self.changed.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        self.engine.set_online(device_id, online, reason)

    def alarms(self) -> list[dict[str, Any]]:
        return [
            e.data
            for e in self.recorded
            if isinstance(e, DeviceEvent) and e.kind == "alarm"
        ]


@dataclass
class DoorLine:
    line: OsdpLineSim
    bus: OsdpBus
    targets: Targets
    sink: EngineSink


@pytest.fixture
async def doors() -> AsyncIterator[DoorLine]:
    line, wiring = osdp_line(
        {
            "line": "doors",
            "readers": [{"device_id": "door-1", "address": 1, "scbk": KEY}],
        }
    )
    configs = [ReaderConfig.from_mapping(entry) for entry in wiring["readers"]]
    sink = EngineSink()
    async with (
        line,
        OsdpBus(
            port=wiring["port"],
            baudrate=wiring["baudrate"],
            readers=configs,
            sink=sink,
            offline_after_s=0.5,
            retry_initial_s=0.2,
            retry_max_s=1.0,
        ) as bus,
    ):
        async with asyncio.timeout(5):
            await bus.wait_online("door-1")
        yield DoorLine(line, bus, Targets(door_buses={"door-1": bus}), sink)


def door_action(**overrides: Any) -> ActionSection:
    fields = {
        "on": "smoke",
        "kind": "release_doors",
        "devices": ["door-1"],
        "seconds": 25,
        "retries": 0,
        **overrides,
    }
    return ActionSection.model_validate(fields)


def unlocks(doors: DoorLine) -> list[tuple[int, int, float]]:
    return [
        (o.output_no, o.control_code, o.seconds) for o in doors.line["door-1"].outputs
    ]


async def test_smoke_releases_the_door_and_the_reader_acknowledges(
    doors: DoorLine,
) -> None:
    actions = runner([door_action()], doors.targets)

    actions.on_change(change(SMOKE))
    [report] = await reports(actions, 1)

    assert (report.type, report.target, report.verified) == (
        "release_doors",
        "door-1",
        True,
    )
    assert report.detail == "lock released for 25 s, acknowledged"
    assert report.event().data["seconds"] == 25
    await doors.line.wait_for(lambda: len(doors.line["door-1"].outputs) == 1)
    assert unlocks(doors) == [(0, 5, 25.0)]  # lock output 0, temporary on, 25 s
    await actions.aclose()


async def test_the_release_is_renewed_while_smoke_lasts_and_stops_after(
    doors: DoorLine,
) -> None:
    # A 0.4 s release is renewed every 0.2 s (the OSDP timer carries at most 25.5 s,
    # so a long alarm needs renewing the same way).
    actions = runner([door_action(seconds=0.4)], doors.targets)

    actions.on_change(change(SMOKE))
    await doors.line.wait_for(lambda: len(doors.line["door-1"].outputs) >= 3)
    actions.on_change(change(SMOKE, AlarmState.CLEARED))
    issued = len(doors.line["door-1"].outputs)
    await asyncio.sleep(0.5)

    assert len(doors.line["door-1"].outputs) == issued  # no more after the clear
    assert set(unlocks(doors)) == {(0, 5, 0.4)}
    assert [(r.verified, r.attempt) for r in actions.reports] == [(True, 1)]
    await actions.aclose()


async def test_a_door_that_cannot_be_released_is_retried_and_reported(
    doors: DoorLine,
) -> None:
    doors.targets.door_buses["door-9"] = doors.bus  # not a reader on this bus
    actions = runner(
        [door_action(devices=["door-1", "door-9"], retries=1, retry_delay_s=0.05)],
        doors.targets,
    )

    actions.on_change(change(SMOKE))
    await reports(actions, 3)

    assert [(r.target, r.verified, r.attempt) for r in actions.reports] == [
        ("door-1", True, 1),
        ("door-9", False, 1),
        ("door-9", False, 2),
    ]
    assert actions.reports[1].detail == f"no OSDP reader 'door-9' on {doors.bus.port}"
    await actions.aclose()


async def test_a_forced_door_on_the_simulator_reaches_the_contract(
    doors: DoorLine,
) -> None:
    reader = doors.line["door-1"]
    reader.close_door()  # the first contact report is the baseline
    await asyncio.sleep(0.3)

    reader.open_door()  # without an unlock: forced
    await doors.sink.wait_for(lambda: len(doors.sink.alarms()) == 1)
    reader.close_door()
    await doors.sink.wait_for(lambda: len(doors.sink.alarms()) == 2)

    assert [
        (a["type"], a["state"], a["severity"], a["point"], a["rule"])
        for a in doors.sink.alarms()
    ] == [
        ("door_forced", "active", "major", "door", None),
        ("door_forced", "cleared", "major", "door", None),
    ]
    kinds = [e.kind for e in doors.sink.recorded if isinstance(e, DeviceEvent)]
    assert kinds.count("door_forced") == 1  # the door event itself is kept too
