"""The serial line under libosdp, and who on it still answers.

libosdp drives the line through a channel object with ``read``, ``write`` and
``flush``. This one sits on pyserial, never raises into libosdp (a failed port is
closed, counted, and reopened a second later), and keeps the one fact the bus needs
for supervising readers sooner than libosdp does: since when the panel has been
talking to an address without hearing back. The panel speaks to one address at a
time and waits for its reply, so bytes read after a frame to address A are A's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import serial

from drivers.errors import TransportError

logger = logging.getLogger(__name__)

SOM = 0x53
MARK = 0xFF
REOPEN_AFTER_S = 1.0
WRITE_TIMEOUT_S = 0.5


class SerialChannel:
    """A libosdp channel on one serial port (RS-485 adapter or pseudo-terminal)."""

    def __init__(
        self,
        port: str,
        baudrate: int,
        *,
        counts: Counter[str],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = 0  # libosdp groups readers that share a channel by this id
        self.port = port
        self.baudrate = baudrate
        self._counts = counts
        self._now = now
        self._serial: serial.Serial | None = None
        self._reopen_at = 0.0
        self._failing = False
        self._lock = threading.Lock()
        self._talking_to: int | None = None
        self._unanswered_since: dict[int, float] = {}
        self._last_answer: dict[int, float] = {}

    def open(self) -> None:
        try:
            self._serial = serial.Serial(
                self.port, self.baudrate, timeout=0, write_timeout=WRITE_TIMEOUT_S
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(
                f"OSDP port {self.port} cannot be opened at {self.baudrate} Bd: {exc}"
            ) from exc

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    # --- libosdp's side ------------------------------------------------------------

    def read(self, max_bytes: int) -> bytes:
        port = self._port()
        if port is None:
            return b""
        try:
            data = bytes(port.read(max_bytes))
        except (serial.SerialException, OSError) as exc:
            self._fail("read", exc)
            return b""
        if data:
            self._heard()
        return data

    def write(self, buf: bytes) -> int:
        port = self._port()
        if port is None:
            return 0
        self._speaking(buf)
        try:
            return int(port.write(buf) or 0)
        except (serial.SerialException, OSError) as exc:
            self._fail("write", exc)
            return 0

    def flush(self) -> None:
        port = self._port()
        if port is None:
            return
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            self._fail("flush", exc)

    # --- the bus's side ------------------------------------------------------------

    def unanswered_for(self, address: int) -> float:
        """Seconds the panel has been sending to ``address`` without a reply."""
        with self._lock:
            since = self._unanswered_since.get(address)
        return 0.0 if since is None else self._now() - since

    def answered_since(self, address: int, since: float) -> bool:
        with self._lock:
            return self._last_answer.get(address, float("-inf")) >= since

    def forget(self, address: int) -> None:
        """Start supervising ``address`` afresh (it was disabled and is retried)."""
        with self._lock:
            self._unanswered_since.pop(address, None)

    # --- internals -----------------------------------------------------------------

    def _speaking(self, frame: bytes) -> None:
        start = 0
        while start < len(frame) and frame[start] == MARK:
            start += 1
        if len(frame) < start + 2 or frame[start] != SOM:
            return
        address = frame[start + 1] & 0x7F
        with self._lock:
            self._talking_to = address
            self._unanswered_since.setdefault(address, self._now())

    def _heard(self) -> None:
        with self._lock:
            address = self._talking_to
            if address is None:
                return
            self._unanswered_since.pop(address, None)
            self._last_answer[address] = self._now()

    def _port(self) -> serial.Serial | None:
        if self._serial is None and self._now() >= self._reopen_at:
            try:
                self.open()
            except TransportError as exc:
                self._reopen_at = self._now() + REOPEN_AFTER_S
                logger.debug("%s still unavailable: %s", self.port, exc)
            else:
                if self._failing:
                    logger.info("%s reopened", self.port)
                self._failing = False
        return self._serial

    def _fail(self, operation: str, exc: Exception) -> None:
        self._counts["serial_error"] += 1
        if not self._failing:
            logger.warning("%s %s failed, reopening: %s", self.port, operation, exc)
        else:
            logger.debug("%s %s failed again: %s", self.port, operation, exc)
        self._failing = True
        self.close()
        self._reopen_at = self._now() + REOPEN_AFTER_S
