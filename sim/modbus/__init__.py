"""The Modbus family of the simulator: devices answering on Modbus TCP and RTU.

profile   the simulator's own reading of firmware_profiles/*.toml
encoder   values to register words and back, table-driven
meters    the physics behind each device kind
slave     one device: datastore, PDU handler, faults
rtu, tcp  the transports: an RS-485 line on a pty, a Modbus TCP endpoint
family    a scenario's Modbus devices started together, and their wiring
"""

from sim.modbus.encoder import decode, encode
from sim.modbus.faults import DeviceFaults
from sim.modbus.meters import ModelOptions, make_model
from sim.modbus.profile import ModbusPoint, ModbusProfile, Table, load_profile
from sim.modbus.rtu import RtuLine
from sim.modbus.slave import ExceptionCode, ModbusDevice, Reply, ServedValue
from sim.modbus.tcp import TcpEndpoint

__all__ = [
    "DeviceFaults",
    "ExceptionCode",
    "ModbusDevice",
    "ModbusPoint",
    "ModbusProfile",
    "ModelOptions",
    "Reply",
    "RtuLine",
    "ServedValue",
    "Table",
    "TcpEndpoint",
    "decode",
    "encode",
    "load_profile",
    "make_model",
]
