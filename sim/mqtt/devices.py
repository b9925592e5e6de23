"""Simulated MQTT devices: what each one publishes, and when, with faults on demand.

A device is a timeline: periodic reports at ``k × interval_s`` and fault moments.
``due(elapsed_s)`` returns every message scheduled up to that moment; the content
depends only on the scheduled moments and the seed, never on how late the caller
was, so a run is reproducible.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim.mqtt import payloads

Message = tuple[str, bytes]

GARBAGE_KINDS = ("nan", "strings", "truncated", "not_json")


class SectionError(ValueError):
    """A simulator section entry that cannot be right; names the device and field."""


@dataclass(frozen=True, slots=True)
class Fault:
    """Something that happens to a device at ``at_s`` (until ``until_s`` if given).

    ``kind``: leak, smoke, door_open, silent, garbage (with ``payload`` one of
    GARBAGE_KINDS), load (``watts``), current_in_ma (plug firmware quirk).
    """

    kind: str
    at_s: float
    until_s: float | None = None
    payload: str | None = None
    watts: float | None = None


@dataclass(order=True, slots=True)
class _Moment:
    at_s: float
    order: int
    action: str = field(compare=False)
    fault: Fault | None = field(compare=False, default=None)


class SimDevice:
    """Base of every simulated device; subclasses say what they publish."""

    fault_kinds: ClassVar[frozenset[str]] = frozenset({"silent", "garbage"})

    def __init__(
        self,
        *,
        device_id: str,
        base_topic: str,
        interval_s: float,
        faults: list[Fault],
        rng: random.Random,
        options: Mapping[str, Any],
    ) -> None:
        if interval_s <= 0:
            raise SectionError(f"{device_id}: interval_s must be positive")
        for fault in faults:
            if fault.kind not in self.fault_kinds:
                raise SectionError(
                    f"{device_id}: fault {fault.kind!r} does not apply to "
                    f"{type(self).__name__} (it takes {sorted(self.fault_kinds)})"
                )
        self.device_id = device_id
        self.base_topic = base_topic
        self.interval_s = interval_s
        self.rng = rng
        self.options = dict(options)
        self.silent = False
        self._reports = 0
        self._moments: list[_Moment] = []
        for order, fault in enumerate(faults):
            heapq.heappush(self._moments, _Moment(fault.at_s, order, "start", fault))
            if fault.until_s is not None:
                heapq.heappush(
                    self._moments, _Moment(fault.until_s, order, "end", fault)
                )

    def next_due(self) -> float:
        next_report = self._reports * self.interval_s
        if self._moments and self._moments[0].at_s <= next_report:
            return self._moments[0].at_s
        return next_report

    def due(self, elapsed_s: float) -> list[Message]:
        """Every message scheduled up to ``elapsed_s``, in order."""
        messages: list[Message] = []
        while self.next_due() <= elapsed_s:
            moment_s = self.next_due()
            if self._moments and self._moments[0].at_s == moment_s:
                messages.extend(self._fault_moment(heapq.heappop(self._moments)))
            else:
                first = self._reports == 0
                self._reports += 1
                messages.extend(self._quiet(self.report(moment_s, first=first)))
        return messages

    def _fault_moment(self, moment: _Moment) -> list[Message]:
        fault = moment.fault
        assert fault is not None
        active = moment.action == "start"
        if fault.kind == "silent":
            self.silent = active
            return []
        if fault.kind == "garbage":
            return self._quiet(self.garbage(str(fault.payload), moment.at_s))
        return self._quiet(self.apply(fault, active=active, at_s=moment.at_s))

    def _quiet(self, messages: list[Message]) -> list[Message]:
        return [] if self.silent else messages

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        raise NotImplementedError

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        raise NotImplementedError

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        raise NotImplementedError


# --- Zigbee2MQTT ------------------------------------------------------------------


class Z2mBatterySensor(SimDevice):
    """Aqara/Xiaomi battery sensors: full state on change, bare check-ins otherwise.

    The periodic check-in carries battery, voltage and linkquality only, like the
    real ones (Koenkk/zigbee2mqtt#3164): the state key is left out.
    """

    state_key: ClassVar[str]
    idle_value: ClassVar[bool]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = self.idle_value
        self.battery = 100
        self.voltage_mv = 3025 + self.rng.randint(-30, 30)

    def checkin(self) -> dict[str, Any]:
        return {
            "battery": self.battery,
            "voltage": self.voltage_mv,
            "linkquality": self.rng.randint(60, 120),
        }

    def full_state(self) -> dict[str, Any]:
        return {
            **self.checkin(),
            "battery_low": False,
            "device_temperature": 24 + self.rng.randint(0, 3),
            self.state_key: self.state,
        }

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        if first:
            return self._state_messages()
        return [(self.base_topic, payloads.z2m_state(self.checkin()))]

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        self.state = (not self.idle_value) if active else self.idle_value
        return self._state_messages()

    def _state_messages(self) -> list[Message]:
        messages = [(self.base_topic, payloads.z2m_state(self.full_state()))]
        if self.options.get("attribute_output"):
            topic = f"{self.base_topic}/{self.state_key}"
            messages.append((topic, payloads.z2m_attribute(self.state)))
        return messages

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        state = self.full_state()
        body = {
            "nan": lambda: payloads.with_bare_nan(state, ("device_temperature",)),
            "strings": lambda: payloads.with_strings(state),
            "truncated": lambda: payloads.truncated(payloads.z2m_state(state)),
            "not_json": lambda: payloads.NOT_JSON,
        }[kind]()
        return [(self.base_topic, body)]


class Z2mLeakSensor(Z2mBatterySensor):
    state_key = "water_leak"
    idle_value = False
    fault_kinds = frozenset({"silent", "garbage", "leak"})


class Z2mSmokeSensor(Z2mBatterySensor):
    state_key = "smoke"
    idle_value = False
    fault_kinds = frozenset({"silent", "garbage", "smoke"})


class Z2mDoorSensor(Z2mBatterySensor):
    """``contact`` is true while the door is closed."""

    state_key = "contact"
    idle_value = True
    fault_kinds = frozenset({"silent", "garbage", "door_open"})


class _Load:
    """An appliance load in watts that wanders a little around its set point."""

    def __init__(self, rng: random.Random, watts: float) -> None:
        self.rng = rng
        self.watts = watts

    def sample(self) -> float:
        if self.watts == 0:
            return 0.0
        return max(0.0, self.watts * (1 + self.rng.uniform(-0.05, 0.05)))


class Z2mPlug(SimDevice):
    """Tuya TS011F: z2m publishes the full cached state on every report."""

    fault_kinds = frozenset({"silent", "garbage", "load", "current_in_ma"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_watts = float(self.options.get("watts", 100.0))
        self.load = _Load(self.rng, self.base_watts)
        self.energy_kwh = float(self.options.get("energy_kwh", 8.42))
        self.current_in_ma = False
        self.last_at_s = 0.0

    def state(self, at_s: float) -> dict[str, Any]:
        power = self.load.sample()
        self.energy_kwh += power * (at_s - self.last_at_s) / 3_600_000
        self.last_at_s = at_s
        voltage = 230 + self.rng.randint(-4, 4)
        current = power / voltage
        return {
            "child_lock": "UNLOCK",
            "current": round(current * 1000)
            if self.current_in_ma
            else round(current, 2),
            "energy": round(self.energy_kwh, 2),
            "linkquality": self.rng.randint(40, 180),
            "power": round(power),
            "power_outage_memory": "on",
            "state": "ON" if power > 0 else "OFF",
            "voltage": voltage,
        }

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        return [(self.base_topic, payloads.z2m_state(self.state(at_s)))]

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        if fault.kind == "current_in_ma":
            self.current_in_ma = active
            return []
        self.load.watts = float(fault.watts or 0.0) if active else self.base_watts
        return self.report(at_s, first=False)

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        state = self.state(at_s)
        body = {
            "nan": lambda: payloads.with_bare_nan(state, ("power",)),
            "strings": lambda: payloads.with_strings(state),
            "truncated": lambda: payloads.truncated(payloads.z2m_state(state)),
            "not_json": lambda: payloads.NOT_JSON,
        }[kind]()
        return [(self.base_topic, body)]


# --- Tasmota ----------------------------------------------------------------------


class TasmotaEnergy(SimDevice):
    """Tasmota energy monitor: tele/<topic>/SENSOR every interval, 1 or 3 phases."""

    fault_kinds = frozenset({"silent", "garbage", "load"})

    def __init__(self, *, phases: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.phases = phases
        self.base_watts = float(self.options.get("watts", 300.0 * phases))
        self.loads = [_Load(self.rng, self.base_watts / phases) for _ in range(phases)]
        self.total_kwh = float(self.options.get("energy_kwh", 94.493))
        self.today_kwh = 0.0
        self.last_at_s = 0.0

    def energy(self, at_s: float) -> dict[str, Any]:
        power = [load.sample() for load in self.loads]
        step_kwh = sum(power) * (at_s - self.last_at_s) / 3_600_000
        self.total_kwh += step_kwh
        self.today_kwh += step_kwh
        self.last_at_s = at_s
        voltage = [230.0 + self.rng.randint(-4, 5) for _ in power]
        factor = [0.9 if watts else 0.0 for watts in power]
        current = [
            watts / (volts * pf) if pf else 0.0
            for watts, volts, pf in zip(power, voltage, factor, strict=True)
        ]
        return payloads.tasmota_energy(
            total_kwh=self.total_kwh,
            today_kwh=self.today_kwh,
            yesterday_kwh=1.069,
            power_w=power,
            voltage_v=voltage,
            current_a=current,
            factor=factor,
        )

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        messages = (
            [(f"tele/{self.base_topic}/LWT", payloads.tasmota_lwt(True))]
            if first
            else []
        )
        body = payloads.tasmota_sensor(at_s, {"ENERGY": self.energy(at_s)})
        return [*messages, (f"tele/{self.base_topic}/SENSOR", body)]

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        watts = float(fault.watts or 0.0) if active else self.base_watts
        for load in self.loads:
            load.watts = watts / self.phases
        return []

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        document = {"Time": payloads.tasmota_time(at_s), "ENERGY": self.energy(at_s)}
        nan_at: tuple[str | int, ...] = ("ENERGY", "Power") + (
            (1,) if self.phases > 1 else ()
        )
        body = {
            "nan": lambda: payloads.with_bare_nan(document, nan_at),
            "strings": lambda: payloads.with_strings(document),
            "truncated": lambda: payloads.truncated(
                payloads.tasmota_sensor(at_s, document)
            ),
            "not_json": lambda: payloads.NOT_JSON,
        }[kind]()
        return [(f"tele/{self.base_topic}/SENSOR", body)]


class TasmotaClimate(SimDevice):
    """Tasmota with one or more temperature/humidity sensors (SI7021 by default)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sensors = list(self.options.get("sensors", ["SI7021"]))
        self.temperature = {
            name: 20.0 + self.rng.uniform(-3, 3) for name in self.sensors
        }

    def readings(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for name in self.sensors:
            self.temperature[name] += self.rng.uniform(-0.2, 0.2)
            humidity = 55 + self.rng.uniform(-5, 5)
            document[name] = {
                "Temperature": round(self.temperature[name], 1),
                "Humidity": round(humidity, 1),
            }
        return document

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        body = payloads.tasmota_sensor(at_s, {**self.readings(), "TempUnit": "C"})
        return [(f"tele/{self.base_topic}/SENSOR", body)]

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        return []

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        document = {
            "Time": payloads.tasmota_time(at_s),
            **self.readings(),
            "TempUnit": "C",
        }
        body = {
            "nan": lambda: payloads.with_bare_nan(
                document, (self.sensors[0], "Temperature")
            ),
            "strings": lambda: payloads.with_strings(document),
            "truncated": lambda: payloads.truncated(
                payloads.tasmota_sensor(at_s, document)
            ),
            "not_json": lambda: payloads.NOT_JSON,
        }[kind]()
        return [(f"tele/{self.base_topic}/SENSOR", body)]


# --- Shelly Gen2 ------------------------------------------------------------------


class ShellySwitch(SimDevice):
    """Shelly Plus 1PM / 2PM: full status once, then NotifyStatus with changes only."""

    fault_kinds = frozenset({"silent", "garbage", "load"})

    def __init__(self, *, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_watts = float(self.options.get("watts", 60.0))
        self.loads = [_Load(self.rng, self.base_watts) for _ in range(channels)]
        self.energy_wh = [float(self.options.get("energy_wh", 123.585))] * channels
        self.status: list[dict[str, Any]] = [{} for _ in range(channels)]
        self.last_at_s = 0.0

    def switch_status(self, switch_id: int, at_s: float) -> dict[str, Any]:
        load = self.loads[switch_id]
        power = load.sample()
        self.energy_wh[switch_id] += power * (at_s - self.last_at_s) / 3600
        voltage = 230.0 + self.rng.uniform(-2, 2)
        return payloads.shelly_switch_status(
            switch_id,
            output=load.watts > 0,
            apower_w=power,
            voltage_v=voltage,
            current_a=power / voltage,
            energy_wh=self.energy_wh[switch_id],
            temperature_c=44.9,
            minute_ts=int(payloads.SIM_EPOCH.timestamp() + at_s) // 60 * 60,
        )

    def report(self, at_s: float, *, first: bool) -> list[Message]:
        fresh = [self.switch_status(index, at_s) for index in range(len(self.loads))]
        self.last_at_s = at_s
        if first:
            self.status = fresh
            messages = [(f"{self.base_topic}/online", payloads.shelly_online(True))]
            for index, component in enumerate(fresh):
                topic = f"{self.base_topic}/status/switch:{index}"
                messages.append((topic, payloads.shelly_status(component)))
            return messages
        changes = {}
        for index, component in enumerate(fresh):
            delta = payloads.changed_keys(self.status[index], component)
            if delta:
                changes[f"switch:{index}"] = delta
        self.status = fresh
        if not changes:
            return []
        ts = payloads.SIM_EPOCH.timestamp() + at_s
        body = payloads.shelly_notify_status(self.base_topic, ts, changes)
        return [(f"{self.base_topic}/events/rpc", body)]

    def apply(self, fault: Fault, *, active: bool, at_s: float) -> list[Message]:
        for load in self.loads:
            load.watts = float(fault.watts or 0.0) if active else self.base_watts
        return []

    def garbage(self, kind: str, at_s: float) -> list[Message]:
        ts = payloads.SIM_EPOCH.timestamp() + at_s
        notify = {
            "src": self.base_topic,
            "dst": f"{self.base_topic}/events",
            "method": "NotifyStatus",
            "params": {"ts": ts, "switch:0": {"apower": 1.0, "output": True}},
        }
        text = payloads.z2m_state(notify)
        body = {
            "nan": lambda: payloads.with_bare_nan(
                notify, ("params", "switch:0", "apower")
            ),
            "strings": lambda: payloads.with_strings(notify),
            "truncated": lambda: payloads.truncated(text),
            "not_json": lambda: payloads.NOT_JSON,
        }[kind]()
        return [(f"{self.base_topic}/events/rpc", body)]


def build_device(
    profile: str,
    *,
    device_id: str,
    base_topic: str,
    interval_s: float,
    faults: list[Fault],
    rng: random.Random,
    options: Mapping[str, Any],
) -> SimDevice:
    """The simulated device that plays the firmware a profile describes."""
    common: dict[str, Any] = {
        "device_id": device_id,
        "base_topic": base_topic,
        "interval_s": interval_s,
        "faults": faults,
        "rng": rng,
        "options": options,
    }
    simple: dict[str, type[SimDevice]] = {
        "z2m_aqara_sjcgq11lm": Z2mLeakSensor,
        "z2m_xiaomi_jtyj_gd_01lm": Z2mSmokeSensor,
        "z2m_aqara_mccgq11lm": Z2mDoorSensor,
        "z2m_tuya_ts011f": Z2mPlug,
        "tasmota_sensors": TasmotaClimate,
    }
    if profile in simple:
        return simple[profile](**common)
    if profile in ("tasmota_energy_1p", "tasmota_energy_3p"):
        return TasmotaEnergy(phases=1 if profile.endswith("1p") else 3, **common)
    if profile in ("shelly_plus_1pm", "shelly_plus_2pm"):
        return ShellySwitch(channels=1 if profile.endswith("1pm") else 2, **common)
    raise SectionError(f"{device_id}: the simulator has no MQTT device for {profile!r}")


SIMULATED_PROFILES = (
    "z2m_aqara_sjcgq11lm",
    "z2m_xiaomi_jtyj_gd_01lm",
    "z2m_aqara_mccgq11lm",
    "z2m_tuya_ts011f",
    "tasmota_energy_1p",
    "tasmota_energy_3p",
    "tasmota_sensors",
    "shelly_plus_1pm",
    "shelly_plus_2pm",
)
