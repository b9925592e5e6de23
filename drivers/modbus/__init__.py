"""Modbus RTU and TCP: profiles, decoding, request planning and the polling runtime.

from drivers.modbus import ModbusRtuBus, load_profile

async with ModbusRtuBus("/dev/ttyUSB0", baudrate=9600, timeout_s=0.5) as bus:
    meter = bus.add_device("meter-3f", 1, load_profile("eastron_sdm630"))
    readings = await meter.poll()
"""

from drivers.modbus.bus import (
    EXCEPTION_NAMES,
    BusStats,
    CommandError,
    ModbusDevice,
    ModbusRtuBus,
    ModbusTcpBus,
)
from drivers.modbus.decode import decode_point, encode_point
from drivers.modbus.planner import ReadRequest, plan_profile, plan_reads, split_request
from drivers.modbus.profile import (
    Access,
    ByteOrder,
    DataType,
    ModbusPoint,
    ModbusProfile,
    PointKind,
    Table,
    load_profile,
    parse_profile,
)

__all__ = [
    "EXCEPTION_NAMES",
    "Access",
    "BusStats",
    "ByteOrder",
    "CommandError",
    "DataType",
    "ModbusDevice",
    "ModbusPoint",
    "ModbusProfile",
    "ModbusRtuBus",
    "ModbusTcpBus",
    "PointKind",
    "ReadRequest",
    "Table",
    "decode_point",
    "encode_point",
    "load_profile",
    "parse_profile",
    "plan_profile",
    "plan_reads",
    "split_request",
]
