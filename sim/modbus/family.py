"""The Modbus family of a scenario: builds its devices, starts its endpoints and lines,
and describes them in the wiring the gateway's configuration is generated from."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sim.clock import SYSTEM_CLOCK, Clock
from sim.errors import SimError
from sim.modbus.meters import ModelOptions, make_model
from sim.modbus.rtu import RtuLine
from sim.modbus.slave import ModbusDevice
from sim.modbus.tcp import TcpEndpoint
from sim.scenario import (
    BadCrcFault,
    Fault,
    LateFault,
    ModbusMeterSpec,
    ModbusTcpSpec,
    RefuseFault,
    ReplaceFault,
    RolloverFault,
    Scenario,
    SilentFault,
    ZeroGlitchFault,
    endpoint_key,
)

logger = logging.getLogger(__name__)


@dataclass
class ModbusFamily:
    """Every Modbus device of a scenario, with the endpoints and lines serving them."""

    devices: dict[str, ModbusDevice] = field(default_factory=dict)
    endpoints: list[TcpEndpoint] = field(default_factory=list)
    lines: list[RtuLine] = field(default_factory=list)
    _tcp: list[tuple[ModbusTcpSpec, TcpEndpoint]] = field(default_factory=list)

    def wiring(self) -> dict[str, Any]:
        return {
            "modbus_tcp": [
                {
                    "device_id": spec.id,
                    "host": endpoint.host,
                    "port": endpoint.port,
                    "unit_id": spec.unit_id,
                    "profile": spec.profile,
                }
                for spec, endpoint in self._tcp
            ],
            "modbus_rtu": [
                {
                    "line": line.name,
                    "port": line.port,
                    "baudrate": line.baudrate,
                    "parity": line.port_parity,
                    "stopbits": line.stopbits,
                    "bytesize": line.port_bytesize,
                    "devices": [
                        {
                            "device_id": device.device_id,
                            "unit_id": device.unit_id,
                            "profile": device.profile.id,
                        }
                        for device in line.devices.values()
                    ],
                }
                for line in self.lines
            ],
        }

    def status(self) -> dict[str, dict[str, Any]]:
        return {device_id: device_status(d) for device_id, d in self.devices.items()}

    def device(self, device_id: str) -> ModbusDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            raise KeyError(f"no Modbus device {device_id!r} in this scenario") from None


def build_modbus(scenario: Scenario, clock: Clock = SYSTEM_CLOCK) -> ModbusFamily:
    """The devices, endpoints and lines of ``scenario``, not yet started."""
    family = ModbusFamily()
    for _, meter in scenario.modbus_meters():
        family.devices[meter.id] = _device(scenario, meter, clock)

    groups: dict[str, list[ModbusTcpSpec]] = {}
    for index, tcp in enumerate(scenario.spec.modbus_tcp):
        groups.setdefault(endpoint_key(index, tcp), []).append(tcp)
    serving: dict[str, TcpEndpoint] = {}
    for members in groups.values():
        first = members[0]
        endpoint = TcpEndpoint(
            devices=[family.devices[m.id] for m in members],
            host=first.host,
            port=first.port,
            absent_unit=first.absent_unit,
            name=first.endpoint or first.id,
        )
        family.endpoints.append(endpoint)
        serving.update((m.id, endpoint) for m in members)
    family._tcp = [(tcp, serving[tcp.id]) for tcp in scenario.spec.modbus_tcp]

    for line in scenario.spec.modbus_rtu:
        family.lines.append(
            RtuLine(
                name=line.line,
                devices=[family.devices[m.id] for m in line.meters],
                baudrate=line.baudrate,
                parity=line.parity,
                stopbits=line.stopbits,
                bytesize=line.bytesize,
                wire_timing=line.wire_timing,
            )
        )
    return family


@asynccontextmanager
async def start_modbus(
    scenario: Scenario, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[ModbusFamily]:
    """Start every Modbus endpoint and line; the scenario's faults count from here."""
    family = build_modbus(scenario, clock)
    async with AsyncExitStack() as stack:
        for endpoint in family.endpoints:
            await stack.enter_async_context(endpoint)
        for line in family.lines:
            await stack.enter_async_context(line)
        for _, meter in scenario.modbus_meters():
            for fault in meter.faults:
                apply_fault(family.devices[meter.id], fault)
        yield family


def apply_fault(device: ModbusDevice, fault: Fault) -> None:
    """Give ``device`` a fault from a scenario; times count from this call."""
    faults = device.faults
    if isinstance(fault, RefuseFault):
        device.refuse_points(fault.points)
        if fault.table is not None:
            faults.refuse(fault.table, fault.address_set())
    elif isinstance(fault, LateFault):
        count = None if fault.always else fault.count
        faults.reply_late(fault.delay_ms / 1000, count=count, after_s=fault.at_s)
    elif isinstance(fault, SilentFault):
        faults.go_silent(fault.duration_s, after_s=fault.at_s)
    elif isinstance(fault, BadCrcFault):
        faults.corrupt_crc(None if fault.always else fault.count, after_s=fault.at_s)
    elif isinstance(fault, ZeroGlitchFault):
        faults.zero_glitch(fault.point, after_s=fault.at_s)
    elif isinstance(fault, RolloverFault):
        device.roll_over(fault.point, before=fault.before, after_s=fault.at_s)
    elif isinstance(fault, ReplaceFault):
        device.replace_meter(after_s=fault.at_s)
    else:  # pragma: no cover - the union above is exhaustive
        raise SimError(f"{device.device_id}: unknown fault {fault!r}")
    logger.info("%s fault planned: %s", device.device_id, fault.kind)


def _device(scenario: Scenario, meter: ModbusMeterSpec, clock: Clock) -> ModbusDevice:
    profile = scenario.profiles[meter.profile]
    options = ModelOptions(
        seed=f"{scenario.seed}/{meter.id}",
        timezone=scenario.timezone,
        load=meter.load,
        rated_power_w=meter.rated_power_w,
        rated_flow_m3h=meter.rated_flow_m3h,
    )
    return ModbusDevice(
        device_id=meter.id,
        profile=profile,
        unit_id=meter.unit_id,
        model=make_model(profile, meter.unit_id, options),
        clock=clock,
        latency_s=meter.latency_ms / 1000,
        gaps=meter.gaps,
    )


def device_status(device: ModbusDevice) -> dict[str, Any]:
    """Counters and values of one device, JSON-ready (Decimals as strings)."""
    stats = device.stats
    served = {name: device.last_served(name) for name in device.bindings}
    return {
        "family": "modbus",
        "unit_id": device.unit_id,
        "profile": device.profile.id,
        "requests": stats.requests,
        "replies": stats.replies,
        "silent": stats.silent,
        "late": stats.late,
        "bad_crc": stats.bad_crc,
        "writes": stats.writes,
        "exceptions": {str(code): n for code, n in sorted(stats.exceptions.items())},
        "values": {name: _json(value) for name, value in device.values().items()},
        "served": {
            name: _json(entry.value)
            for name, entry in served.items()
            if entry is not None
        },
    }


def _json(value: object) -> object:
    if isinstance(value, Decimal) and value.is_finite():
        return format(value.normalize(), "f")
    return value if isinstance(value, bool) else str(value)
