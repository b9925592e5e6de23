"""The simulated radio: a local socket that broadcasts advertisements to scanners.

Every connected scanner gets every advertisement as one line of JSON (the format
``drivers/ble/sim_backend.py`` reads). Like the air, it does not wait: a scanner that
connects late misses what was sent before, and one that stops reading is dropped
instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from contextlib import suppress
from dataclasses import dataclass, field

_LOG = logging.getLogger(__name__)

_BACKLOG_LIMIT = 1024 * 1024  # bytes queued for one scanner before it is dropped


@dataclass(frozen=True, slots=True)
class Advert:
    """One advertisement on the air."""

    address: str
    name: str | None
    rssi: int
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()
    tx_power: int | None = None

    def to_line(self) -> bytes:
        message = {
            "address": self.address,
            "name": self.name,
            "rssi": self.rssi,
            "manufacturer_data": {
                str(company): data.hex()
                for company, data in self.manufacturer_data.items()
            },
            "service_data": {
                uuid: data.hex() for uuid, data in self.service_data.items()
            },
            "service_uuids": list(self.service_uuids),
            "tx_power": self.tx_power,
        }
        return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class AdvertServer:
    """Listens on a TCP port of its own (bound at construction, so the port is known
    before the simulation starts) and broadcasts lines to every scanner."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.create_server((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server: asyncio.Server | None = None
        self._scanners: set[asyncio.StreamWriter] = set()
        self._joined = asyncio.Event()
        self.sent = 0

    @property
    def scanners(self) -> int:
        return len(self._scanners)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self._socket)

    async def wait_for_scanner(self) -> None:
        await self._joined.wait()

    def broadcast(self, line: bytes) -> None:
        self.sent += 1
        for writer in list(self._scanners):
            if writer.is_closing():
                self._scanners.discard(writer)
            elif writer.transport.get_write_buffer_size() > _BACKLOG_LIMIT:
                _LOG.warning("BLE sim: dropping a scanner that stopped reading")
                self._scanners.discard(writer)
                writer.close()
            else:
                writer.write(line)

    async def close(self) -> None:
        for writer in list(self._scanners):
            writer.close()
        self._scanners.clear()
        if self._server is not None:
            self._server.close()
            with suppress(OSError):
                await self._server.wait_closed()
        else:
            self._socket.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        _LOG.info("BLE sim: scanner %s connected", peer)
        self._scanners.add(writer)
        self._joined.set()
        try:
            while await reader.read(4096):  # scanners have nothing to say; wait for EOF
                pass
        except OSError:
            pass
        finally:
            self._scanners.discard(writer)
            writer.close()
            _LOG.info("BLE sim: scanner %s left", peer)
