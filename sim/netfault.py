"""Network faults on loopback: a TCP proxy that can cut every connection on demand.

Put between a gateway and the cloud, it shows what a flaky uplink does to a sender:
``cut()`` resets every open connection and refuses new ones until ``restore()``;
``in_flight`` tells whether a request is on its way (bytes went up, none came back
yet), so a test can strike in the middle of an ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
import time
from concurrent.futures import Future

logger = logging.getLogger(__name__)


class LoopbackProxy:
    """A TCP proxy from ``127.0.0.1:port`` to ``127.0.0.1:target_port``, in a thread."""

    def __init__(self, target_port: int, *, port: int = 0) -> None:
        self.target_port = target_port
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = int(self._sock.getsockname()[1])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._links: set[_Link] = set()
        self.cuts = 0

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())

    def close(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def cut(self) -> None:
        """Reset every connection and refuse new ones."""
        self._call(self._set_cut(True))
        self.cuts += 1

    def restore(self) -> None:
        self._call(self._set_cut(False))

    @property
    def in_flight(self) -> bool:
        """True while a request has gone up with no answer come back yet."""
        return any(link.awaiting_answer for link in list(self._links))

    def wait_in_flight(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.in_flight:
                return True
            time.sleep(0.001)
        return False

    def _call(self, coroutine: object) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            coroutine,  # type: ignore[arg-type]
            self._loop,
        )
        future.result(timeout=10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self._sock)

    async def _close(self) -> None:
        await self._set_cut(True)
        if self._server is not None:
            self._server.close()

    async def _set_cut(self, cut: bool) -> None:
        self._cut = cut
        if cut:
            for writer in list(self._writers):
                _reset(writer)
            self._writers.clear()
            self._links.clear()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._cut:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            _reset(writer)
            return
        self._writers.update((writer, up_writer))
        link = _Link()
        self._links.add(link)
        await asyncio.gather(
            self._pipe(reader, up_writer, link, upward=True),
            self._pipe(up_reader, writer, link, upward=False),
            return_exceptions=True,
        )
        self._links.discard(link)
        for end in (writer, up_writer):
            self._writers.discard(end)
            with contextlib.suppress(OSError):
                end.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        upward: bool,
    ) -> None:
        while data := await reader.read(65536):
            link.awaiting_answer = upward
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


class _Link:
    """One proxied connection: is a request waiting for its answer?"""

    __slots__ = ("awaiting_answer",)

    def __init__(self) -> None:
        self.awaiting_answer = False


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as a dropped link or a crashed peer looks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    writer.close()
