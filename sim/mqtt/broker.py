"""An MQTT broker for the simulator: a private mosquitto, an embedded amqtt, or yours.

``MqttBroker()`` starts a private ``mosquitto`` on a free loopback port when the binary
is installed, otherwise an embedded amqtt broker in this event loop, also bound to
127.0.0.1. ``MqttBroker(host=..., port=...)`` starts nothing and uses that broker.
The address is known before entering, so it can be handed out with the wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

logger = logging.getLogger(__name__)

BrokerKind = Literal["mosquitto", "amqtt", "external"]

_START_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    """The private broker could not be started; the message says why."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    kind: BrokerKind

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "kind": self.kind}


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).exists():
            return candidate
    return None


class MqttBroker:
    """A broker for as long as the ``async with`` block runs."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        kind: Literal["auto", "mosquitto", "amqtt"] = "auto",
    ) -> None:
        if kind not in ("auto", "mosquitto", "amqtt"):
            raise BrokerError(f"broker kind {kind!r} is not auto, mosquitto or amqtt")
        if host is not None:
            self.address = BrokerAddress(host, port or 1883, "external")
        else:
            binary = mosquitto_binary() if kind in ("auto", "mosquitto") else None
            if kind == "mosquitto" and binary is None:
                raise BrokerError("mosquitto was asked for but is not installed")
            chosen: BrokerKind = "mosquitto" if binary else "amqtt"
            self.address = BrokerAddress(
                "127.0.0.1", port or free_loopback_port(), chosen
            )
        self._binary = mosquitto_binary()
        self._process: asyncio.subprocess.Process | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._amqtt: Any = None

    async def __aenter__(self) -> BrokerAddress:
        if self.address.kind == "mosquitto":
            await self._start_mosquitto()
        elif self.address.kind == "amqtt":
            await self._start_amqtt()
        return self.address

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._process is not None:
            if self._process.returncode is None:
                self._process.terminate()
                try:
                    async with asyncio.timeout(5):
                        await self._process.wait()
                except TimeoutError:
                    self._process.kill()
                    await self._process.wait()
            self._process = None
        if self._amqtt is not None:
            await self._amqtt.shutdown()
            self._amqtt = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    async def _start_mosquitto(self) -> None:
        assert self._binary is not None
        self._workdir = tempfile.TemporaryDirectory(prefix="pams-mosquitto-")
        workdir = Path(self._workdir.name)
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.address.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n",
            encoding="utf-8",
        )
        log_path = workdir / "mosquitto.log"
        with log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                self._binary,
                "-c",
                str(conf),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        try:
            await self._wait_listening(log_path)
        except BaseException:
            await self.stop()
            raise
        logger.info("private mosquitto listening on 127.0.0.1:%d", self.address.port)

    async def _wait_listening(self, log_path: Path) -> None:
        process = self._process
        assert process is not None
        async with asyncio.timeout(_START_TIMEOUT_S):
            while True:
                if process.returncode is not None:
                    tail = _tail(log_path)
                    raise BrokerError(
                        f"mosquitto exited with {process.returncode} before listening "
                        f"on port {self.address.port}: {tail.strip()}"
                    )
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection(
                        "127.0.0.1", self.address.port
                    )
                    writer.close()
                    await writer.wait_closed()
                    return
                await asyncio.sleep(0.02)

    async def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"127.0.0.1:{self.address.port}"}
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                    "allow_anonymous": True
                }
            },
        }
        self._amqtt = Broker(config)
        await self._amqtt.start()
        logger.info(
            "embedded amqtt broker listening on 127.0.0.1:%d", self.address.port
        )


def _tail(path: Path, size: int = 500) -> str:
    return path.read_text(errors="replace")[-size:]
