"""An MQTT broker for the simulator: a private mosquitto, an embedded amqtt, or yours.

``MqttBroker()`` starts a private ``mosquitto`` on a free loopback port when the binary
is installed, otherwise the amqtt broker shipped with PAMS, in a child process, also
bound to 127.0.0.1. ``MqttBroker(host=..., port=...)`` starts nothing and uses that
broker. The address is known before entering, so it can be handed out with the wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import sys
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

    async def __aenter__(self) -> BrokerAddress:
        if self.address.kind == "mosquitto":
            await self._spawn(*self._mosquitto())
        elif self.address.kind == "amqtt":
            await self._spawn(*self._amqtt())
        return self.address

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop a private broker; every client connection drops with it."""
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
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def _mosquitto(self) -> tuple[list[str], str, str]:
        assert self._binary is not None
        config = (
            f"listener {self.address.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
        )
        return [self._binary, "-c"], "mosquitto.conf", config

    def _amqtt(self) -> tuple[list[str], str, str]:
        """amqtt in a child process of this interpreter.

        Not in this event loop: amqtt 0.12's ``Broker.shutdown()`` can wait forever
        for the reader task of a client that has already disconnected, and a broker
        that cannot be stopped cannot be restarted on its port. A child process is
        stopped by the operating system, sockets and all.
        """
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
        argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c"]
        return argv, "amqtt.yaml", json.dumps(config)  # JSON is YAML

    async def _spawn(self, argv: list[str], config_name: str, config: str) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix=f"pams-{self.address.kind}-")
        workdir = Path(self._workdir.name)
        config_path = workdir / config_name
        config_path.write_text(config, encoding="utf-8")
        log_path = workdir / "broker.log"
        with log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *argv,
                str(config_path),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            await self._wait_listening(log_path)
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "private %s listening on 127.0.0.1:%d", self.address.kind, self.address.port
        )

    async def _wait_listening(self, log_path: Path) -> None:
        process = self._process
        assert process is not None
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                while not await _accepts(self.address.port):
                    if process.returncode is not None:
                        raise BrokerError(
                            f"{self.address.kind} exited with {process.returncode} "
                            f"before listening on port {self.address.port}: "
                            f"{_tail(log_path).strip()}"
                        )
                    await asyncio.sleep(0.02)
        except TimeoutError as exc:
            raise BrokerError(
                f"{self.address.kind} did not listen on port {self.address.port} "
                f"within {_START_TIMEOUT_S:g} s: {_tail(log_path).strip()}"
            ) from exc


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _tail(path: Path, size: int = 500) -> str:
    return path.read_text(errors="replace")[-size:]
