"""A bleak scanner backend whose radio is the device simulator's socket.

The simulator writes one advertisement per line as JSON::

    {"address": "A4:C1:38:8D:18:B2", "name": "ATC_8D18B2", "rssi": -60,
     "manufacturer_data": {"1177": "0512fc..."},
     "service_data": {"0000fcd2-0000-1000-8000-00805f9b34fb": "4002ca09"},
     "service_uuids": [], "tx_power": null}

``SimScanner`` turns each line into bleak's ``BLEDevice`` and ``AdvertisementData``
and calls the detection callbacks exactly as the BlueZ backend does, so everything
above bleak runs unchanged. It is a transport: the gateway picks it by configuration
(``backend = "sim"`` plus the socket address) through ``scanner_backend``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from bleak.backends.scanner import (
    AdvertisementData,
    AdvertisementDataCallback,
    BaseBleakScanner,
)
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

_LOG = logging.getLogger(__name__)

_LINE_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class SimEndpoint:
    """Where the simulator listens: TCP host and port, or a unix socket path."""

    host: str | None = None
    port: int | None = None
    path: str | None = None

    @classmethod
    def parse(cls, address: str) -> SimEndpoint:
        """``"127.0.0.1:9000"``, ``"tcp://127.0.0.1:9000"`` or ``"unix:/path"``."""
        if address.startswith("unix:"):
            path = address.removeprefix("unix:").removeprefix("//")
            if not path:
                raise ValueError(f"BLE simulator address {address!r} has no path.")
            return cls(path=path)
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"BLE simulator address {address!r} is not host:port, "
                "tcp://host:port or unix:/path."
            )
        return cls(host=host.strip("[]"), port=int(port))

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"tcp://{self.host}:{self.port}"


class SimScanner(BaseBleakScanner):
    """Scanner backend reading advertisements from the simulator's socket.

    bleak instantiates backends itself, so the endpoint is a class attribute: use
    ``sim_scanner_backend(address)`` to get a subclass bound to one simulator.
    """

    endpoint: ClassVar[SimEndpoint | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if self.endpoint is None:
            raise BleakError(
                "SimScanner has no simulator address; build the backend class with "
                "sim_scanner_backend(address)."
            )
        self._reader_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.bad_lines = 0

    async def start(self) -> None:
        endpoint = self.endpoint
        assert endpoint is not None  # checked in __init__
        self.seen_devices = {}
        try:
            if endpoint.path is not None:
                reader, writer = await asyncio.open_unix_connection(
                    endpoint.path, limit=_LINE_LIMIT
                )
            else:
                reader, writer = await asyncio.open_connection(
                    endpoint.host, endpoint.port, limit=_LINE_LIMIT
                )
        except OSError as exc:
            raise BleakError(
                f"Cannot reach the BLE simulator at {endpoint}: {exc}"
            ) from exc
        self._writer = writer
        self._reader_task = asyncio.create_task(
            self._receive(reader), name=f"ble-sim-scanner {endpoint}"
        )
        _LOG.info("BLE sim scanner connected to %s", endpoint)

    async def stop(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            # wait() rather than await: a cancellation of our caller must not be
            # swallowed along with the reader's.
            await asyncio.wait({self._reader_task})
            self._reader_task = None
        if self._writer is not None:
            self._writer.close()
            with suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than the limit; the rest of it is discarded
                self._refuse(b"", f"line longer than {_LINE_LIMIT} bytes")
                continue
            except OSError as exc:
                _LOG.warning("BLE sim scanner lost %s: %s", self.endpoint, exc)
                return
            if not line:
                _LOG.warning("BLE simulator at %s closed the connection", self.endpoint)
                return
            self.deliver(line)

    def deliver(self, line: bytes) -> None:
        """Hand one JSON line to the detection callbacks, as the radio would."""
        try:
            address, name, advertisement = parse_advertisement(line)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._refuse(line, str(exc))
            return
        if not self.is_allowed_uuid(advertisement.service_uuids):
            return
        device = self.create_or_update_device(
            address, address, name, None, advertisement
        )
        self.call_detection_callbacks(device, advertisement)

    def _refuse(self, line: bytes, reason: str) -> None:
        self.bad_lines += 1
        _LOG.warning("BLE sim scanner refused line %r: %s", line[:120], reason)


def parse_advertisement(line: bytes | str) -> tuple[str, str | None, AdvertisementData]:
    """One simulator line → (address, name, AdvertisementData); raises on bad input."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise TypeError(f"expected a JSON object, got {type(message).__name__}")
    address = message["address"]
    if not isinstance(address, str) or not address:
        raise ValueError(f"address {address!r} is not text")
    name = message.get("name")
    rssi = message.get("rssi", -127)
    tx_power = message.get("tx_power")
    if not isinstance(rssi, int) or not (tx_power is None or isinstance(tx_power, int)):
        raise TypeError(f"rssi {rssi!r} and tx_power {tx_power!r} must be integers")
    manufacturer_data = {
        int(company): bytes.fromhex(data)
        for company, data in message.get("manufacturer_data", {}).items()
    }
    service_data = {
        normalize_uuid_str(uuid): bytes.fromhex(data)
        for uuid, data in message.get("service_data", {}).items()
    }
    service_uuids = [normalize_uuid_str(u) for u in message.get("service_uuids", [])]
    advertisement = AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=rssi,
        platform_data=(),
    )
    return address.upper(), advertisement.local_name, advertisement


def sim_scanner_backend(address: str | SimEndpoint) -> type[SimScanner]:
    """A ``SimScanner`` subclass bound to the simulator at ``address``."""
    endpoint = (
        address if isinstance(address, SimEndpoint) else SimEndpoint.parse(address)
    )
    return type("SimScanner", (SimScanner,), {"endpoint": endpoint})


def scanner_backend(
    name: str, address: str | None = None
) -> type[BaseBleakScanner] | None:
    """The backend class for a gateway's ``backend`` setting.

    ``"platform"`` (or ``"bluez"``) → None, which makes bleak pick the platform's
    own; ``"sim"`` → the simulator backend at ``address``.
    """
    if name in ("platform", "bluez"):
        return None
    if name == "sim":
        if not address:
            raise ValueError('BLE backend "sim" needs the simulator socket address.')
        return sim_scanner_backend(address)
    raise ValueError(f'BLE backend {name!r} is not "platform" or "sim".')
