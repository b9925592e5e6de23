"""A Modbus TCP endpoint: MBAP framing over asyncio streams, one or more unit ids.

Each connection is served in order, one request at a time, as a field device with one
processor does: a late reply holds back the next request on that connection. An unknown
unit id gets silence, as behind a serial gateway whose meter is gone, or exception 0x0B
("gateway target device failed to respond") when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

from sim.modbus.slave import ExceptionCode, ModbusDevice

logger = logging.getLogger(__name__)

AbsentUnit = Literal["silence", "gateway_exception"]
_MBAP = struct.Struct(">HHHB")
_MAX_LENGTH = 254  # unit id + the largest PDU (253 bytes)


@dataclass(slots=True)
class EndpointStats:
    connections: int = 0
    frames: int = 0
    bad_frames: int = 0
    absent: int = 0
    replies: int = 0


class TcpEndpoint:
    """An async context manager; ``port`` is the bound port inside it."""

    def __init__(
        self,
        *,
        devices: Sequence[ModbusDevice],
        host: str = "127.0.0.1",
        port: int = 0,
        absent_unit: AbsentUnit = "silence",
        name: str | None = None,
    ) -> None:
        self.devices = {device.unit_id: device for device in devices}
        if len(self.devices) != len(devices):
            raise ValueError(f"endpoint {name or port}: two devices share a unit id")
        self.host = host
        self.requested_port = port
        self.absent_unit = absent_unit
        self.name = name or ",".join(device.device_id for device in devices)
        self.stats = EndpointStats()
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"endpoint {self.name} is not started")
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.requested_port
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        logger.info(
            "endpoint %s on %s:%d: units %s",
            self.name,
            self.host,
            self._port,
            sorted(self.devices),
        )

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        logger.info("endpoint %s closed", self.name)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.stats.connections += 1
        peer = writer.get_extra_info("peername")
        logger.debug("endpoint %s: connection from %s", self.name, peer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels a connection; end quietly, because asyncio 3.11
            # reports a cancelled connection handler as an unhandled error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            logger.debug("endpoint %s: %s disconnected", self.name, peer)

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one MBAP frame; False when the connection must be dropped."""
        header = await reader.readexactly(_MBAP.size)
        transaction, protocol, length, unit = _MBAP.unpack(header)
        if not 2 <= length <= _MAX_LENGTH:
            self.stats.bad_frames += 1
            logger.warning(
                "endpoint %s: MBAP length %d is impossible; closing", self.name, length
            )
            return False
        pdu = await reader.readexactly(length - 1)
        self.stats.frames += 1
        if protocol != 0:
            self.stats.bad_frames += 1
            return True  # not Modbus: a device ignores it

        response = await self._response(unit, pdu)
        if response is not None:
            frame = _MBAP.pack(transaction, 0, len(response) + 1, unit) + response
            writer.write(frame)
            await writer.drain()
            self.stats.replies += 1
        return True

    async def _response(self, unit: int, pdu: bytes) -> bytes | None:
        device = self.devices.get(unit)
        if device is None:
            self.stats.absent += 1
            if self.absent_unit == "gateway_exception" and pdu:
                return bytes([pdu[0] | 0x80, ExceptionCode.GATEWAY_TARGET_FAILED])
            return None
        reply = device.answer(pdu)
        if reply is None:
            return None
        if reply.delay_s > 0:
            await asyncio.sleep(reply.delay_s)
        return reply.pdu
