"""How the meter models bind profile points to physics, and what the physics says."""

from __future__ import annotations

import random
from datetime import UTC
from decimal import Decimal

import pytest

from sim.modbus.meters import (
    LOAD_CURVES,
    Binding,
    ElectricityMeter,
    Quantity,
    bind,
    residential,
)
from sim.modbus.profile import DataType, ModbusPoint, PointKind, Table
from sim.scenario import LoadCurve


def point(name: str, unit: str | None, **extra: object) -> ModbusPoint:
    return ModbusPoint(
        name=name,
        table=Table.INPUT,
        address=0,
        type=DataType.FLOAT32,
        unit=unit,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("name", "unit", "expected"),
    [
        ("voltage", "V", Binding(Quantity.VOLTAGE)),
        ("voltage_l2", "V", Binding(Quantity.VOLTAGE, phase=2)),
        ("voltage_l1_l2", "V", Binding(Quantity.VOLTAGE_LL, phase=1)),
        ("voltage_average", "V", Binding(Quantity.VOLTAGE, average=True)),
        ("current_l3", "A", Binding(Quantity.CURRENT, phase=3)),
        ("current_average", "A", Binding(Quantity.CURRENT, average=True)),
        ("power_l1", "W", Binding(Quantity.ACTIVE_POWER, phase=1)),
        ("total_power", "kW", Binding(Quantity.ACTIVE_POWER, factor=Decimal(1000))),
        ("apparent_power_l1", "VA", Binding(Quantity.APPARENT_POWER, phase=1)),
        ("total_reactive_power", "var", Binding(Quantity.REACTIVE_POWER)),
        ("power_factor_l2", None, Binding(Quantity.POWER_FACTOR, phase=2)),
        ("total_power_factor", None, Binding(Quantity.POWER_FACTOR)),
        ("phase_angle", "°", Binding(Quantity.PHASE_ANGLE)),
        ("frequency", "Hz", Binding(Quantity.FREQUENCY)),
        ("voltage_thd_l1", "%", Binding(Quantity.THD, phase=1)),
        ("import_energy", "kWh", Binding(Quantity.IMPORT_ENERGY, factor=Decimal(1000))),
        (
            "export_energy_l3",
            "kWh",
            Binding(Quantity.EXPORT_ENERGY, phase=3, factor=Decimal(1000)),
        ),
        ("total_energy", "Wh", Binding(Quantity.TOTAL_ENERGY)),
        (
            "total_reactive_energy",
            "kvarh",
            Binding(Quantity.TOTAL_REACTIVE, factor=Decimal(1000)),
        ),
        ("serial_number", None, Binding(Quantity.CONSTANT)),
    ],
)
def test_electricity_points_bind_by_unit_and_name(
    name: str, unit: str | None, expected: Binding
) -> None:
    assert bind(point(name, unit), "electricity_meter") == expected


@pytest.mark.parametrize(
    ("name", "unit", "extra", "quantity"),
    [
        ("forward_volume", "m³", {"kind": PointKind.COUNTER}, Quantity.FORWARD_VOLUME),
        ("reverse_volume", "m³", {}, Quantity.REVERSE_VOLUME),
        ("remaining_volume", "m³", {}, Quantity.REMAINING_VOLUME),
        ("flow_rate", "m³/h", {}, Quantity.FLOW_RATE),
        ("pipe_status", None, {"states": {85: "empty"}}, Quantity.PIPE_STATUS),
        ("valve", None, {"writable": True}, Quantity.VALVE),
        ("valve_fault", None, {"states": {1: "abnormal"}}, Quantity.CONSTANT),
        ("battery_voltage", "V", {}, Quantity.BATTERY_VOLTAGE),
    ],
)
def test_water_points_bind_by_unit_and_name(
    name: str, unit: str | None, extra: dict[str, object], quantity: Quantity
) -> None:
    assert bind(point(name, unit, **extra), "water_meter").quantity is quantity


def three_phase() -> ElectricityMeter:
    meter = ElectricityMeter(
        rng=random.Random("3p"),
        timezone=UTC,
        phases=3,
        rated_power_w=Decimal(30000),
        load=residential,
    )
    meter.draw(19.5)
    return meter


def test_totals_are_the_sum_of_the_phases() -> None:
    meter = three_phase()

    phases = [meter.value(Binding(Quantity.ACTIVE_POWER, phase=p)) for p in (1, 2, 3)]

    assert meter.value(Binding(Quantity.ACTIVE_POWER)) == sum(phases)  # type: ignore[arg-type]
    assert 15000 < sum(phases) < 40000  # type: ignore[arg-type, operator]


def test_total_power_factor_is_active_over_apparent() -> None:
    meter = three_phase()

    active = meter.value(Binding(Quantity.ACTIVE_POWER))
    apparent = meter.value(Binding(Quantity.APPARENT_POWER))
    pf = meter.value(Binding(Quantity.POWER_FACTOR))

    assert isinstance(active, Decimal) and isinstance(apparent, Decimal)
    assert abs(pf - active / apparent) < Decimal("1e-20")  # type: ignore[operator]


def test_voltages_stay_near_230_and_frequency_near_50() -> None:
    meter = three_phase()
    for hour in range(24 * 30):
        meter.draw(hour % 24)
        for phase in (1, 2, 3):
            volts = meter.value(Binding(Quantity.VOLTAGE, phase=phase))
            assert Decimal(220) < volts < Decimal(240)  # type: ignore[operator]
        assert Decimal("49.9") < meter.frequency < Decimal("50.1")


def test_every_scenario_load_curve_has_a_model() -> None:
    assert set(LoadCurve.__args__) == set(LOAD_CURVES)  # type: ignore[attr-defined]
    for curve in LOAD_CURVES.values():
        assert all(0 < curve(hour / 4) <= 1 for hour in range(96))
