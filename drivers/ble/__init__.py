"""BLE sensors heard through bleak: BTHome v2 (via bthome-ble) and RuuviTag format 5.

    async with BleConnector(devices=[...], sink=sink, backend=None) as connector:
        ...

``backend=None`` scans with the platform's radio; ``scanner_backend("sim", address)``
returns the backend that listens to the device simulator instead.
"""

from drivers.ble.connector import (
    BleConnector,
    BleDeviceConfig,
    DeviceStats,
    Rejection,
)
from drivers.ble.errors import BadAdvertisement, BleConfigError, RejectReason
from drivers.ble.profile import BleProfile, load_ble_profile
from drivers.ble.sim_backend import SimScanner, scanner_backend, sim_scanner_backend

__all__ = [
    "BadAdvertisement",
    "BleConfigError",
    "BleConnector",
    "BleDeviceConfig",
    "BleProfile",
    "DeviceStats",
    "RejectReason",
    "Rejection",
    "SimScanner",
    "load_ble_profile",
    "scanner_backend",
    "sim_scanner_backend",
]
