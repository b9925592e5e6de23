"""RuuviTag data format 5 (RAWv2) as the tag's firmware builds it.

From ruuvi-sensor-protocols dataformat_05.md: big-endian; temperature in 0.005 °C,
humidity in 0.0025 %, pressure in Pa minus 50000, acceleration in mG, a power word of
battery (mV - 1600, 11 bits) and TX power ((dBm + 40) / 2, 5 bits), movement counter,
measurement sequence, MAC. ``None`` sends the field's "not available" marker.
"""

from __future__ import annotations

import struct
from decimal import ROUND_HALF_EVEN, Decimal

COMPANY_ID = 0x0499
_LAYOUT = struct.Struct(">BhHHhhhHBH6s")


def _steps(value: Decimal, step: str) -> int:
    return int((value / Decimal(step)).to_integral_value(ROUND_HALF_EVEN))


def encode_df5(
    *,
    temperature: Decimal | None,
    humidity: Decimal | None,
    pressure_pa: int | None,
    acceleration_mg: tuple[int | None, int | None, int | None],
    battery_mv: int | None,
    tx_power_dbm: int | None,
    movement_counter: int | None,
    sequence: int | None,
    address: str | None,
) -> bytes:
    """Manufacturer data of company 0x0499 (without the company id)."""
    battery = 0x7FF if battery_mv is None else battery_mv - 1600
    tx_power = 0x1F if tx_power_dbm is None else (tx_power_dbm + 40) // 2
    return _LAYOUT.pack(
        0x05,
        -0x8000 if temperature is None else _steps(temperature, "0.005"),
        0xFFFF if humidity is None else _steps(humidity, "0.0025"),
        0xFFFF if pressure_pa is None else pressure_pa - 50000,
        *(-0x8000 if axis is None else axis for axis in acceleration_mg),
        (battery << 5) | tx_power,
        0xFF if movement_counter is None else movement_counter,
        0xFFFF if sequence is None else sequence,
        b"\xff" * 6 if address is None else bytes.fromhex(address.replace(":", "")),
    )
