"""The MQTT connector: one broker connection for all MQTT devices of a building.

It subscribes to every device's topics, decodes each message with the device's
profile, and reports into the gateway's ``DeviceSink``. aiomqtt does not reconnect by
itself, so the connection is a loop over ``async with Client(...)`` with jittered
exponential backoff and a cap. A second task watches for silent devices on the
monotonic clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt

from drivers.errors import ProfileError, TransportError
from drivers.mqtt.decode import DecodeResult, DeviceState, check_silence, decode
from drivers.mqtt.profile import MqttProfile, load_profile
from drivers.types import DeviceSink

logger = logging.getLogger(__name__)

EXIT_TIMEOUT_S = 10.0

DeviceConfig = tuple[str, MqttProfile | str, str]
"""(device_id, profile or profile id, base topic)."""


@dataclass(frozen=True, slots=True)
class DeviceStats:
    """Counters of one device, for health pages and tests."""

    device_id: str
    messages: int
    rejected_messages: int
    rejected_values: int
    last_reason: str | None
    online: bool | None


@dataclass(slots=True)
class _Device:
    profile: MqttProfile
    state: DeviceState


class MqttConnector:
    """Connects to the site broker and keeps reporting until cancelled or exited.

    Use as ``async with MqttConnector(...) as connector:`` (runs in a task of its
    own) or ``await connector.run()``.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = 1883,
        devices: Sequence[DeviceConfig],
        sink: DeviceSink,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive_s: int = 30,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        check_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host, self._port = host, port
        self._sink = sink
        self._client_id = client_id
        self._username, self._password = username, password
        self._tls = tls
        self._keepalive_s = keepalive_s
        self._backoff_initial_s, self._backoff_max_s = backoff_initial_s, backoff_max_s
        self._check_interval_s = check_interval_s
        self._clock = clock
        self._devices = self._build_devices(devices)
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._connection_made = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.connections = 0
        """How many times a connection was established (1 + reconnects)."""

    def _build_devices(self, devices: Sequence[DeviceConfig]) -> dict[str, _Device]:
        built: dict[str, _Device] = {}
        now = self._clock()
        for device_id, profile, base_topic in devices:
            if device_id in built:
                raise ProfileError(f"device {device_id!r} is configured twice")
            if any(char in base_topic for char in "+#") or not base_topic:
                raise ProfileError(
                    f"{device_id}: base topic {base_topic!r} must be a plain topic "
                    "without wildcards"
                )
            loaded = load_profile(profile) if isinstance(profile, str) else profile
            state = DeviceState(device_id, base_topic, started_at=now)
            built[device_id] = _Device(loaded, state)
        return built

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.run(), name="mqtt-connector")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            # aiomqtt can sit in a disconnect the broker never answers; a stuck
            # shutdown must not hang the gateway's own.
            done, _ = await asyncio.wait({self._task}, timeout=EXIT_TIMEOUT_S)
            if not done:
                logger.error("mqtt connector did not stop within %s s", EXIT_TIMEOUT_S)
            self._task = None

    async def run(self) -> None:
        """Connect, reconnect and watch for silence until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._connection_loop(), name="mqtt-connection")
            tasks.create_task(self._silence_loop(), name="mqtt-silence")

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once the connector is connected and subscribed."""
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        """Return once the connector has no broker connection."""
        await self._disconnected.wait()

    async def wait_connections(self, count: int) -> None:
        """Return once the connector has connected ``count`` times (reconnects + 1)."""
        async with self._connection_made:
            await self._connection_made.wait_for(lambda: self.connections >= count)

    def stats(self, device_id: str) -> DeviceStats:
        state = self._devices[device_id].state
        return DeviceStats(
            device_id,
            state.messages,
            state.rejected_messages,
            state.rejected_values,
            state.last_reason,
            state.online,
        )

    # --- connection -----------------------------------------------------------------

    async def _connection_loop(self) -> None:
        failures = 0
        while True:
            try:
                async with self._new_client() as client:
                    await self._subscribe(client)
                    self._client = client
                    failures = 0
                    await self._note_connected()
                    logger.info(
                        "connected to MQTT broker %s:%s", self._host, self._port
                    )
                    async for message in client.messages:
                        self._on_message(str(message.topic), _payload(message.payload))
            except aiomqtt.MqttError as exc:
                self._client = None
                self._connected.clear()
                self._disconnected.set()
                _raise_if_cancelling()
                delay = self._backoff(failures)
                log = logger.warning if failures == 0 else logger.debug
                log(
                    "MQTT broker %s:%s unreachable or lost (%s); retrying in %.2f s",
                    self._host,
                    self._port,
                    exc,
                    delay,
                )
                failures += 1
                await asyncio.sleep(delay)

    async def _note_connected(self) -> None:
        async with self._connection_made:
            self.connections += 1
            self._disconnected.clear()
            self._connected.set()
            self._connection_made.notify_all()

    def _new_client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._host,
            self._port,
            identifier=self._client_id,
            username=self._username,
            password=self._password,
            tls_context=self._tls,
            keepalive=self._keepalive_s,
            timeout=10,
            logger=logger,
        )

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        topics = sorted(
            {
                topic
                for device in self._devices.values()
                for topic in device.profile.subscriptions(device.state.base_topic)
            }
        )
        if topics:
            await client.subscribe([(topic, 1) for topic in topics])

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with a cap, jittered so that gateways do not stampede."""
        ceiling = min(self._backoff_max_s, self._backoff_initial_s * 2**failures)
        return ceiling * random.uniform(0.5, 1.0)

    # --- messages -------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = self._clock()
        for device in self._devices.values():
            state = device.state
            known_reason = state.last_reason
            try:
                result = decode(device.profile, topic, payload, state, now=now)
            except Exception:
                # decode is written not to raise; a bug in it must not stop the others.
                logger.exception(
                    "%s: decoding a message on %s failed", state.device_id, topic
                )
                state.rejected_messages += 1
                state.last_reason = f"{topic}: internal decoding error"
                continue
            if result.heard:
                self._report(state, result, topic, known_reason)

    def _report(
        self,
        state: DeviceState,
        result: DecodeResult,
        topic: str,
        known_reason: str | None,
    ) -> None:
        """Hand results to the sink; a new rejection reason is logged loudly, once."""
        device_id = state.device_id
        for reason in result.rejected:
            log = logger.debug if reason == known_reason else logger.warning
            log("%s: %s", device_id, reason)
            known_reason = reason
        logger.debug("%s: %d items from %s", device_id, len(result.items), topic)
        if result.online is not None:
            logger.info(
                "%s: %s (%s)",
                device_id,
                "online" if result.online else "offline",
                result.reason,
            )
            self._sink.set_online(device_id, result.online, result.reason)
        if result.items:
            self._sink.publish(result.items)

    # --- silence --------------------------------------------------------------------

    async def _silence_loop(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval_s)
            self.check_silence()

    def check_silence(self) -> None:
        """Mark silent devices offline and stale points stale, now."""
        now = self._clock()
        context = "" if self.is_connected else "; the broker connection is down"
        for device in self._devices.values():
            state = device.state
            result = check_silence(device.profile, state, now=now, context=context)
            if result.offline_reason is not None:
                logger.warning(
                    "%s: offline: %s", state.device_id, result.offline_reason
                )
                self._sink.set_online(state.device_id, False, result.offline_reason)
            if result.items:
                self._sink.publish(result.items)

    # --- commands -------------------------------------------------------------------

    async def command(
        self,
        device_id: str,
        payload: Mapping[str, Any] | str | bytes,
        *,
        command: str | None = None,
    ) -> str:
        """Publish a command to the device's command topic; return that topic.

        Mappings are sent as JSON (Zigbee2MQTT ``<base>/set``, Shelly ``<base>/rpc``);
        ``command`` fills ``{command}`` in topics such as Tasmota ``cmnd/<base>/Power``.
        """
        device = self._devices[device_id]
        template = device.profile.command_topic
        if template is None:
            raise ProfileError(f"profile {device.profile.id} declares no command_topic")
        if "{command}" in template and not command:
            raise ValueError(f"{device_id}: topic {template} needs a command name")
        topic = template.replace("{base}", device.state.base_topic)
        topic = topic.replace("{command}", command or "")
        client = self._client
        if client is None:
            raise TransportError(
                f"{device_id}: not connected to MQTT broker {self._host}:{self._port}"
            )
        body = json.dumps(payload) if isinstance(payload, Mapping) else payload
        try:
            await client.publish(topic, body, qos=1)
        except aiomqtt.MqttError as exc:
            raise TransportError(f"{device_id}: publishing to {topic} failed") from exc
        logger.info("%s: command sent to %s", device_id, topic)
        return topic


def _raise_if_cancelling() -> None:
    """Do not retry when cancelled: aiomqtt's exit can turn a cancel into MqttError."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _payload(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode() if payload is not None else b""
