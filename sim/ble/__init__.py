"""Simulated BLE devices (BTHome v2, RuuviTag DF5) heard over a local socket.

The encoders here are the simulator's own, written from the format descriptions;
nothing is imported from ``drivers`` or from bthome-ble, so the gateway's decoding
is checked against an independent encoder rather than against itself.
"""

from sim.ble.devices import DEVICE_TYPES, DeviceSpec, Fault
from sim.ble.server import Advert, AdvertServer
from sim.ble.simulation import (
    BleSimulation,
    SimConfigError,
    ble_simulation,
    parse_section,
)

__all__ = [
    "DEVICE_TYPES",
    "Advert",
    "AdvertServer",
    "BleSimulation",
    "DeviceSpec",
    "Fault",
    "SimConfigError",
    "ble_simulation",
    "parse_section",
]
