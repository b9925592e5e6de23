"""Plausible physics behind each simulated meter.

A model knows quantities (volts, watts, cubic metres), not registers. Each profile point
is bound once to a quantity by its unit and name (``voltage_l2`` in V → phase-2
voltage), so the models work for any profile written to the README's format. Counters
are integrated exactly in Decimal over monotonic nanoseconds: the energy a meter adds
is the power it served times the time it served it.
"""

from __future__ import annotations

import logging
import math
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Context, Decimal, localcontext
from enum import StrEnum

from sim.errors import FaultError, RefusedWriteError
from sim.modbus.profile import ModbusPoint, ModbusProfile, PointKind

logger = logging.getLogger(__name__)

_CONTEXT = Context(prec=40)
_NS_PER_HOUR = Decimal(3_600_000_000_000)
Value = Decimal | bool


class Quantity(StrEnum):
    VOLTAGE = "voltage"
    VOLTAGE_LL = "voltage_line_to_line"
    CURRENT = "current"
    ACTIVE_POWER = "active_power"
    APPARENT_POWER = "apparent_power"
    REACTIVE_POWER = "reactive_power"
    POWER_FACTOR = "power_factor"
    PHASE_ANGLE = "phase_angle"
    FREQUENCY = "frequency"
    THD = "thd"
    IMPORT_ENERGY = "import_energy"
    EXPORT_ENERGY = "export_energy"
    TOTAL_ENERGY = "total_energy"
    IMPORT_REACTIVE = "import_reactive_energy"
    EXPORT_REACTIVE = "export_reactive_energy"
    TOTAL_REACTIVE = "total_reactive_energy"
    FORWARD_VOLUME = "forward_volume"
    REVERSE_VOLUME = "reverse_volume"
    REMAINING_VOLUME = "remaining_volume"
    FLOW_RATE = "flow_rate"
    PIPE_STATUS = "pipe_status"
    VALVE = "valve"
    PRESSURE = "pressure"
    TEMPERATURE = "temperature"
    BATTERY_VOLTAGE = "battery_voltage"
    DEVICE_ADDRESS = "device_address"
    CONSTANT = "constant"


COUNTERS = frozenset(
    {
        Quantity.IMPORT_ENERGY,
        Quantity.EXPORT_ENERGY,
        Quantity.TOTAL_ENERGY,
        Quantity.IMPORT_REACTIVE,
        Quantity.EXPORT_REACTIVE,
        Quantity.TOTAL_REACTIVE,
        Quantity.FORWARD_VOLUME,
        Quantity.REVERSE_VOLUME,
    }
)


@dataclass(frozen=True, slots=True)
class Binding:
    """What a point shows: a quantity, its phase (None: total or average), and
    ``factor``, the size of the point's unit in the model's base unit (kW → 1000)."""

    quantity: Quantity
    phase: int | None = None
    factor: Decimal = Decimal(1)
    average: bool = False


# --- load curves ----------------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2) / 2)


def residential(hour: float) -> float:
    """Flats: a low night, a morning peak, a higher evening peak."""
    return min(1.0, 0.18 + 0.45 * _bump(hour, 7.5, 1.0) + 0.8 * _bump(hour, 19.5, 1.8))


def commercial(hour: float) -> float:
    """Shops and offices: a plateau over opening hours."""
    opening = 1 / (1 + math.exp(-(hour - 8) * 2)) - 1 / (1 + math.exp(-(hour - 19) * 2))
    return min(1.0, 0.2 + 0.75 * opening)


def hvac(hour: float) -> float:
    """A heating and cooling plant: follows the afternoon warmth."""
    return min(1.0, 0.35 + 0.6 * _bump(hour, 14.5, 3.5))


def flat(hour: float) -> float:
    return 0.5


LOAD_CURVES: dict[str, Callable[[float], float]] = {
    "residential": residential,
    "commercial": commercial,
    "hvac": hvac,
    "flat": flat,
}


# --- models ---------------------------------------------------------------------


class MeterModel(ABC):
    """The state of one simulated device; the slave turns it into registers."""

    def __init__(self, *, rng: random.Random, timezone: tzinfo) -> None:
        self.rng = rng
        self.timezone = timezone
        self._last_ns: int | None = None

    def advance(self, now_ns: int, wall: datetime) -> None:
        """Integrate counters up to ``now_ns``, then draw the next state."""
        if self._last_ns is not None and now_ns > self._last_ns:
            with localcontext(_CONTEXT):
                self.integrate(Decimal(now_ns - self._last_ns) / _NS_PER_HOUR)
        self._last_ns = now_ns
        local = wall.astimezone(self.timezone)
        self.draw(local.hour + local.minute / 60 + local.second / 3600)

    @abstractmethod
    def integrate(self, hours: Decimal) -> None:
        """Add what flowed during ``hours`` at the current state to the counters."""

    @abstractmethod
    def draw(self, hour_of_day: float) -> None:
        """Pick the state served until the next advance."""

    @abstractmethod
    def value(self, binding: Binding) -> Value:
        """The quantity in the model's base unit."""

    def write(self, binding: Binding, value: Value) -> None:
        """Take a value the gateway wrote; refuse what the device would refuse."""
        if binding.quantity in COUNTERS and isinstance(value, Decimal):
            self.set_counter(binding, value)
            return
        raise RefusedWriteError(f"{binding.quantity} is not writable on this device")

    def set_counter(self, binding: Binding, value: Decimal) -> None:
        raise FaultError(f"{binding.quantity} is not a counter of this model")

    @abstractmethod
    def replace(self) -> None:
        """A new meter in the old one's place: every counter starts again from zero."""


class ElectricityMeter(MeterModel):
    """One- or three-phase consumer: voltage noise, a daily load curve, exact energy."""

    def __init__(
        self,
        *,
        rng: random.Random,
        timezone: tzinfo,
        phases: int,
        rated_power_w: Decimal,
        load: Callable[[float], float],
    ) -> None:
        super().__init__(rng=rng, timezone=timezone)
        self.phases = phases
        self.rated_power_w = rated_power_w
        self.load = load
        shares = [1 + rng.uniform(-0.15, 0.15) for _ in range(phases)]
        self.shares = [s / sum(shares) for s in shares]
        start_hours = Decimal(rng.randint(400, 4000))
        self.import_wh = [
            rated_power_w * start_hours / 4 * Decimal(str(s)) for s in self.shares
        ]
        self.export_wh = [Decimal(0)] * phases
        self.import_varh = [w / 5 for w in self.import_wh]
        self.voltage = [Decimal(230)] * phases
        self.power_w = [Decimal(0)] * phases
        self.pf = [Decimal("0.95")] * phases
        self.frequency = Decimal(50)
        self.thd = [Decimal(2)] * phases

    def integrate(self, hours: Decimal) -> None:
        for i in range(self.phases):
            self.import_wh[i] += self.power_w[i] * hours
            self.import_varh[i] += self._reactive(i) * hours

    def draw(self, hour_of_day: float) -> None:
        rng = self.rng
        demand = float(self.rated_power_w) * self.load(hour_of_day)
        for i in range(self.phases):
            noise = max(0.0, 1 + rng.gauss(0, 0.05))
            self.power_w[i] = _dec(demand * self.shares[i] * noise, "0.1")
            self.voltage[i] = _dec(230 + rng.gauss(0, 1.2), "0.01")
            self.pf[i] = _dec(min(0.995, max(0.8, 0.93 + rng.gauss(0, 0.02))), "0.001")
            self.thd[i] = _dec(max(0.5, 2.2 + rng.gauss(0, 0.3)), "0.01")
        self.frequency = _dec(50 + rng.gauss(0, 0.02), "0.01")

    def value(self, binding: Binding) -> Value:
        with localcontext(_CONTEXT):
            return self._value(binding)

    def _value(self, binding: Binding) -> Decimal:
        phases = self._phases(binding)
        per_phase = [self._phase_value(binding.quantity, i) for i in phases]
        if binding.quantity is Quantity.POWER_FACTOR and binding.phase is None:
            return self._total_pf()
        if binding.quantity is Quantity.PHASE_ANGLE and binding.phase is None:
            return _degrees(self._total_pf())
        if binding.quantity is Quantity.FREQUENCY:
            return self.frequency
        if binding.average or binding.quantity in _AVERAGED:
            return sum(per_phase, Decimal(0)) / len(per_phase)
        return sum(per_phase, Decimal(0))

    def set_counter(self, binding: Binding, value: Decimal) -> None:
        current = self.value(binding)
        assert isinstance(current, Decimal)
        index = (binding.phase or 1) - 1
        accumulator = {
            Quantity.IMPORT_ENERGY: self.import_wh,
            Quantity.TOTAL_ENERGY: self.import_wh,
            Quantity.EXPORT_ENERGY: self.export_wh,
            Quantity.IMPORT_REACTIVE: self.import_varh,
            Quantity.TOTAL_REACTIVE: self.import_varh,
        }.get(binding.quantity)
        if accumulator is None:
            raise FaultError(f"{binding.quantity} is not a counter of this meter")
        accumulator[index] += value - current

    def replace(self) -> None:
        zero = Decimal(0)
        self.import_wh = [zero] * self.phases
        self.export_wh = [zero] * self.phases
        self.import_varh = [zero] * self.phases

    def _phases(self, binding: Binding) -> range:
        if binding.phase is not None and binding.phase <= self.phases:
            return range(binding.phase - 1, binding.phase)
        return range(self.phases)

    def _phase_value(self, quantity: Quantity, i: int) -> Decimal:
        with localcontext(_CONTEXT):
            if quantity is Quantity.VOLTAGE:
                return self.voltage[i]
            if quantity is Quantity.VOLTAGE_LL:
                nxt = (i + 1) % self.phases
                return (self.voltage[i] + self.voltage[nxt]) / 2 * Decimal(3).sqrt()
            if quantity is Quantity.ACTIVE_POWER:
                return self.power_w[i]
            if quantity is Quantity.APPARENT_POWER:
                return self.power_w[i] / self.pf[i]
            if quantity is Quantity.REACTIVE_POWER:
                return self._reactive(i)
            if quantity is Quantity.CURRENT:
                return self.power_w[i] / (self.voltage[i] * self.pf[i])
            if quantity is Quantity.POWER_FACTOR:
                return self.pf[i]
            if quantity is Quantity.PHASE_ANGLE:
                return _degrees(self.pf[i])
            if quantity is Quantity.THD:
                return self.thd[i]
            return self._energy(quantity, i)

    def _energy(self, quantity: Quantity, i: int) -> Decimal:
        energy = {
            Quantity.IMPORT_ENERGY: self.import_wh[i],
            Quantity.EXPORT_ENERGY: self.export_wh[i],
            Quantity.TOTAL_ENERGY: self.import_wh[i] + self.export_wh[i],
            Quantity.IMPORT_REACTIVE: self.import_varh[i],
            Quantity.EXPORT_REACTIVE: Decimal(0),
            Quantity.TOTAL_REACTIVE: self.import_varh[i],
        }
        return energy.get(quantity, Decimal(0))

    def _reactive(self, i: int) -> Decimal:
        with localcontext(_CONTEXT):
            apparent = self.power_w[i] / self.pf[i]
            return (apparent * apparent - self.power_w[i] * self.power_w[i]).sqrt()

    def _total_pf(self) -> Decimal:
        with localcontext(_CONTEXT):
            active = sum(self.power_w, Decimal(0))
            apparent = sum(
                (p / pf for p, pf in zip(self.power_w, self.pf, strict=True)),
                Decimal(0),
            )
            return active / apparent if apparent else Decimal(1)


_AVERAGED = frozenset(
    {
        Quantity.VOLTAGE,
        Quantity.VOLTAGE_LL,
        Quantity.POWER_FACTOR,
        Quantity.PHASE_ANGLE,
        Quantity.THD,
    }
)


class WaterMeter(MeterModel):
    """A household water meter with a motorised valve: flow only while the valve is
    open, volume integrated from the flow served, prepaid credit running down.

    Valve faults, set on the model: ``valve_travel_s`` makes the motor take that long
    to reach the commanded position (the status bits show the old one meanwhile, so
    a read-back right after the write is stale); ``valve_stuck`` is a jammed motor
    that acknowledges commands and does not move.
    """

    VALVE_OPEN = 0x1
    VALVE_CLOSED = 0x2

    def __init__(
        self,
        *,
        rng: random.Random,
        timezone: tzinfo,
        rated_flow_m3h: Decimal,
        load: Callable[[float], float],
        unit_id: int,
    ) -> None:
        super().__init__(rng=rng, timezone=timezone)
        self.rated_flow_m3h = rated_flow_m3h
        self.load = load
        self.unit_id = unit_id
        self.forward_m3 = _dec(rng.uniform(40, 900), "0.001")
        self.reverse_m3 = _dec(rng.uniform(0, 0.5), "0.001")
        self.remaining_m3 = _dec(rng.uniform(20, 60), "0.001")
        self.flow_m3h = Decimal(0)
        self.valve_open = True
        self.valve_travel_s = 0.0
        self.valve_stuck = False
        self._valve_moving: tuple[bool, int] | None = None  # (open, arrives at ns)
        self.temperature = Decimal(14)
        self.pressure = Decimal("0.3")

    def advance(self, now_ns: int, wall: datetime) -> None:
        if self._valve_moving is not None and now_ns >= self._valve_moving[1]:
            self._set_valve(self._valve_moving[0])
            self._valve_moving = None
        super().advance(now_ns, wall)

    def integrate(self, hours: Decimal) -> None:
        used = self.flow_m3h * hours
        self.forward_m3 += used
        self.remaining_m3 = max(Decimal(0), self.remaining_m3 - used)

    def draw(self, hour_of_day: float) -> None:
        rng = self.rng
        running = self.valve_open and rng.random() < 0.2 + 0.6 * self.load(hour_of_day)
        flow = float(self.rated_flow_m3h) * rng.uniform(0.1, 1.0) if running else 0.0
        self.flow_m3h = _dec(flow, "0.0001")
        self.temperature = _dec(14 + rng.gauss(0, 0.2), "0.01")
        self.pressure = _dec(
            0.3 + rng.gauss(0, 0.01) if self.valve_open else 0, "0.001"
        )

    def value(self, binding: Binding) -> Value:
        quantity = binding.quantity
        values: Mapping[Quantity, Decimal] = {
            Quantity.FORWARD_VOLUME: self.forward_m3,
            Quantity.REVERSE_VOLUME: self.reverse_m3,
            Quantity.REMAINING_VOLUME: self.remaining_m3,
            Quantity.FLOW_RATE: self.flow_m3h,
            Quantity.PIPE_STATUS: Decimal(0xAA),
            Quantity.VALVE: Decimal(
                self.VALVE_OPEN if self.valve_open else self.VALVE_CLOSED
            ),
            Quantity.PRESSURE: self.pressure,
            Quantity.TEMPERATURE: self.temperature,
            Quantity.BATTERY_VOLTAGE: Decimal("3.6"),
            Quantity.DEVICE_ADDRESS: Decimal(self.unit_id),
        }
        return values.get(quantity, Decimal(0))

    def write(self, binding: Binding, value: Value) -> None:
        if binding.quantity is Quantity.VALVE:
            if value not in (self.VALVE_OPEN, self.VALVE_CLOSED):
                raise RefusedWriteError(
                    f"valve command {value} is neither 1 (open) nor 2 (close)"
                )
            if self.valve_stuck:
                logger.info("valve command %s taken, but the valve is stuck", value)
            elif self.valve_travel_s > 0 and self._last_ns is not None:
                arrives = self._last_ns + round(self.valve_travel_s * 1e9)
                self._valve_moving = (value == self.VALVE_OPEN, arrives)
            else:
                self._set_valve(value == self.VALVE_OPEN)
            return
        super().write(binding, value)

    def _set_valve(self, is_open: bool) -> None:
        self.valve_open = is_open
        if not is_open:
            self.flow_m3h = Decimal(0)

    def set_counter(self, binding: Binding, value: Decimal) -> None:
        if binding.quantity is Quantity.FORWARD_VOLUME:
            self.forward_m3 = value
        elif binding.quantity is Quantity.REVERSE_VOLUME:
            self.reverse_m3 = value
        else:
            raise FaultError(f"{binding.quantity} is not a counter of this water meter")

    def replace(self) -> None:
        self.forward_m3 = Decimal(0)
        self.reverse_m3 = Decimal(0)


class ConstantModel(MeterModel):
    """For device kinds without physics here: every point holds still, except
    counters, which grow by one unit an hour so they are never seen to stand still."""

    def __init__(self, *, rng: random.Random, timezone: tzinfo) -> None:
        super().__init__(rng=rng, timezone=timezone)
        self.counter = Decimal(0)

    def integrate(self, hours: Decimal) -> None:
        self.counter += hours

    def draw(self, hour_of_day: float) -> None:
        return

    def value(self, binding: Binding) -> Value:
        return self.counter if binding.quantity in COUNTERS else Decimal(0)

    def set_counter(self, binding: Binding, value: Decimal) -> None:
        self.counter = value

    def replace(self) -> None:
        self.counter = Decimal(0)


# --- binding points to quantities -----------------------------------------------

_PHASE = re.compile(r"(?:^|_)(?:l|phase_?|p)([123])(?=_|$)")
_LINE_TO_LINE = re.compile(r"l1_?l2|l2_?l3|l3_?l1|line_to_line|_ll(?:_|$)")
_UNITS: dict[str, tuple[str, Decimal]] = {}
for _base in ("w", "va", "var", "wh", "varh"):
    _UNITS[_base] = (_base, Decimal(1))
    _UNITS["k" + _base] = (_base, Decimal(1000))
    _UNITS["m" + _base] = (_base, Decimal(1_000_000))


def bind(point: ModbusPoint, profile_kind: str) -> Binding:
    """The quantity ``point`` shows, from its unit and name; CONSTANT if unknown."""
    name = point.name.lower()
    unit = (point.unit or "").strip().lower().replace("³", "3")
    match = _PHASE.search(name)
    phase = int(match.group(1)) if match else None
    average = "avg" in name or "average" in name
    if profile_kind == "water_meter":
        return Binding(_water_quantity(point, name, unit))
    base, factor = _UNITS.get(unit, (unit, Decimal(1)))
    quantity = _electric_quantity(point, name, base)
    return Binding(quantity, phase=phase, factor=factor, average=average)


def _electric_quantity(point: ModbusPoint, name: str, unit: str) -> Quantity:
    exported = "export" in name
    by_unit = {
        "a": Quantity.CURRENT,
        "w": Quantity.ACTIVE_POWER,
        "va": Quantity.APPARENT_POWER,
        "var": Quantity.REACTIVE_POWER,
        "hz": Quantity.FREQUENCY,
    }
    if unit == "v":
        return Quantity.VOLTAGE_LL if _LINE_TO_LINE.search(name) else Quantity.VOLTAGE
    if unit in by_unit:
        return by_unit[unit]
    if unit == "wh":
        if "total" in name and "import" not in name and not exported:
            return Quantity.TOTAL_ENERGY
        return Quantity.EXPORT_ENERGY if exported else Quantity.IMPORT_ENERGY
    if unit == "varh":
        if "total" in name and "import" not in name and not exported:
            return Quantity.TOTAL_REACTIVE
        return Quantity.EXPORT_REACTIVE if exported else Quantity.IMPORT_REACTIVE
    if "thd" in name:
        return Quantity.THD
    if "power_factor" in name or re.search(r"(?:^|_)pf(?:_|$)", name):
        return Quantity.POWER_FACTOR
    if unit in ("°", "deg", "degree", "degrees") or "angle" in name:
        return Quantity.PHASE_ANGLE
    return Quantity.CONSTANT


def _water_quantity(point: ModbusPoint, name: str, unit: str) -> Quantity:
    texts = set(point.states.values())
    if "valve" in name and (point.writable or texts & {"open", "closed"}):
        return Quantity.VALVE
    if "pipe" in name or texts & {"empty", "full"}:
        return Quantity.PIPE_STATUS
    if unit in ("m3/h", "m3h"):
        return Quantity.FLOW_RATE
    if unit == "m3":
        if any(word in name for word in ("remaining", "prepaid", "balance", "credit")):
            return Quantity.REMAINING_VOLUME
        if any(word in name for word in ("reverse", "negative", "backward")):
            return Quantity.REVERSE_VOLUME
        return Quantity.FORWARD_VOLUME
    by_unit = {
        "mpa": Quantity.PRESSURE,
        "°c": Quantity.TEMPERATURE,
        "c": Quantity.TEMPERATURE,
    }
    if unit in by_unit:
        return by_unit[unit]
    if unit == "v":
        return Quantity.BATTERY_VOLTAGE
    if "address" in name:
        return Quantity.DEVICE_ADDRESS
    return Quantity.CONSTANT


def constant_value(point: ModbusPoint) -> Value:
    """What an unbound point holds: the middle of its range, a known state, or 0."""
    if point.kind is PointKind.STATE and point.states:
        return Decimal(min(point.states))
    if point.value_range is not None:
        low, high = point.value_range
        return (low + high) / 2
    return Decimal(0)


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """Scenario knobs that shape a model; None picks a default for the device kind."""

    seed: str
    timezone: tzinfo
    load: str = "residential"
    rated_power_w: Decimal | None = None
    rated_flow_m3h: Decimal | None = None


def make_model(
    profile: ModbusProfile, unit_id: int, options: ModelOptions
) -> MeterModel:
    """The model for ``profile``'s kind of device, seeded from ``options.seed``."""
    rng = random.Random(options.seed)
    load = LOAD_CURVES[options.load]
    if profile.kind == "electricity_meter":
        phases = 3 if any(_has_phase(p.name, 3) for p in profile.points) else 1
        default_power = Decimal(3000 if phases == 1 else 30000)
        return ElectricityMeter(
            rng=rng,
            timezone=options.timezone,
            phases=phases,
            rated_power_w=options.rated_power_w or default_power,
            load=load,
        )
    if profile.kind == "water_meter":
        return WaterMeter(
            rng=rng,
            timezone=options.timezone,
            rated_flow_m3h=options.rated_flow_m3h or Decimal("1.5"),
            load=load,
            unit_id=unit_id,
        )
    logger.info(
        "profile %s: kind %r has no model; points hold still", profile.id, profile.kind
    )
    return ConstantModel(rng=rng, timezone=options.timezone)


def _has_phase(name: str, phase: int) -> bool:
    match = _PHASE.search(name.lower())
    return match is not None and int(match.group(1)) == phase


def _dec(number: float, step: str) -> Decimal:
    return Decimal(repr(number)).quantize(Decimal(step))


def _degrees(pf: Decimal) -> Decimal:
    return _dec(math.degrees(math.acos(max(-1.0, min(1.0, float(pf))))), "0.01")
