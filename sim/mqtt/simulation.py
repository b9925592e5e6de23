"""Running a set of simulated MQTT devices against a broker, from a scenario section.

    simulation, wiring = mqtt_simulation(section, seed=7)
    async with simulation:
        ...  # wiring["broker"] and wiring["devices"] tell the gateway where to look

A section is either the list of ``[[mqtt]]`` device entries, or a mapping with
``devices`` (that list) and optionally ``broker``: ``host``/``port`` of an external
broker, or, for a private one, ``kind`` ("auto", "mosquitto", "amqtt") and ``port``.
Without ``host`` a private broker is started on loopback. A device entry:

    id = "leak-kitchen"                       # device_id, unique
    profile = "z2m_aqara_sjcgq11lm"           # one of SIMULATED_PROFILES
    base_topic = "zigbee2mqtt/kitchen_leak"   # z2m: prefix/name; Tasmota: %topic%;
                                              # Shelly: the topic prefix (device id)
    interval_s = 60                           # periodic report interval
    faults = [{kind = "leak", at_s = 30, until_s = 90}]
    # optional per family: attribute_output (z2m sensors), watts, energy_kwh,
    # energy_wh (Shelly), sensors (tasmota_sensors names)

Faults (seconds after the simulation starts; ``until_s`` undoes it, if given):
``leak`` (leak sensor), ``smoke`` (smoke detector), ``door_open`` (door contact),
``load`` with ``watts`` (plugs, Tasmota, Shelly), ``current_in_ma`` (TS011F reports
mA as A), ``silent`` (publishes nothing), ``garbage`` with ``payload`` one of
``nan`` (a bare nan in the JSON), ``strings`` (booleans and numbers as strings),
``truncated`` (JSON cut in half), ``not_json`` (bytes that are not even UTF-8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt

from sim.mqtt.broker import MqttBroker
from sim.mqtt.devices import GARBAGE_KINDS, Fault, SectionError, SimDevice, build_device

logger = logging.getLogger(__name__)

_ENTRY_KEYS = frozenset({"id", "profile", "base_topic", "interval_s", "faults"})
_FAULT_KEYS = frozenset({"kind", "at_s", "until_s", "payload", "watts"})


@dataclass(frozen=True, slots=True)
class Published:
    """One message the simulator put on the broker, for tests and logs."""

    elapsed_s: float
    device_id: str
    topic: str
    payload: bytes


class MqttSimulation:
    """Broker (unless external) plus one task per device and one publisher."""

    def __init__(
        self,
        *,
        broker: MqttBroker,
        devices: Sequence[SimDevice],
        wiring: dict[str, Any],
        retry_s: float = 0.2,
    ) -> None:
        self.broker = broker
        self.devices = list(devices)
        self.wiring = wiring
        self.published: list[Published] = []
        self._retry_s = retry_s
        self._queue: asyncio.Queue[tuple[float, str, str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0
        self._stack = contextlib.AsyncExitStack()

    def elapsed_s(self) -> float:
        return asyncio.get_running_loop().time() - self._started_at

    async def __aenter__(self) -> dict[str, Any]:
        await self._stack.enter_async_context(self.broker)
        self._started_at = asyncio.get_running_loop().time()
        self._tasks.append(
            asyncio.create_task(self._publisher(), name="sim-mqtt-publisher")
        )
        for device in self.devices:
            name = f"sim-mqtt-{device.device_id}"
            self._tasks.append(asyncio.create_task(self._play(device), name=name))
        return self.wiring

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._stack.aclose()

    async def _play(self, device: SimDevice) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait_s = self._started_at + device.next_due() - loop.time()
            await asyncio.sleep(max(0.0, wait_s))
            elapsed = self.elapsed_s()
            for topic, payload in device.due(elapsed):
                self._queue.put_nowait((elapsed, device.device_id, topic, payload))

    async def _publisher(self) -> None:
        """One connection for all simulated devices; reconnects if the broker goes."""
        address = self.broker.address
        pending: tuple[float, str, str, bytes] | None = None
        while True:
            try:
                async with aiomqtt.Client(address.host, address.port) as client:
                    while True:
                        if pending is None:
                            pending = await self._queue.get()
                        elapsed, device_id, topic, payload = pending
                        await client.publish(topic, payload, qos=1)
                        self.published.append(
                            Published(elapsed, device_id, topic, payload)
                        )
                        pending = None
            except aiomqtt.MqttError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc
                logger.debug("simulator publisher lost the broker (%s); retrying", exc)
                await asyncio.sleep(self._retry_s)


def mqtt_simulation(
    section: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
) -> tuple[MqttSimulation, dict[str, Any]]:
    """Build the simulation of a scenario's MQTT section and the gateway's wiring.

    The wiring is ``{"broker": {"host", "port", "kind"}, "devices": [{"device_id",
    "profile", "base_topic"}]}``; entering the simulation returns it too.
    """
    if isinstance(section, Mapping):
        entries = list(section.get("devices", []))
        broker_entry = section.get("broker") or {}
    else:
        entries, broker_entry = list(section), {}
    broker = MqttBroker(
        host=broker_entry.get("host"),
        port=broker_entry.get("port"),
        kind=broker_entry.get("kind", "auto"),
    )

    devices = [_device(entry, seed) for entry in entries]
    ids = [device.device_id for device in devices]
    for device_id in ids:
        if ids.count(device_id) > 1:
            raise SectionError(f"MQTT device id {device_id!r} is used twice")
    wiring = {
        "broker": broker.address.as_dict(),
        "devices": [
            {
                "device_id": entry["id"],
                "profile": entry["profile"],
                "base_topic": entry["base_topic"],
            }
            for entry in entries
        ],
    }
    return MqttSimulation(broker=broker, devices=devices, wiring=wiring), wiring


def _device(entry: Mapping[str, Any], seed: int) -> SimDevice:
    device_id = str(entry.get("id", "?"))
    for key in ("id", "profile", "base_topic"):
        if not entry.get(key):
            raise SectionError(f"MQTT device {device_id}: {key!r} is missing")
    base_topic = str(entry["base_topic"])
    if any(char in base_topic for char in "+#"):
        raise SectionError(f"{device_id}: base_topic {base_topic!r} has a wildcard")
    faults = [_fault(device_id, raw) for raw in entry.get("faults", [])]
    options = {key: value for key, value in entry.items() if key not in _ENTRY_KEYS}
    return build_device(
        str(entry["profile"]),
        device_id=device_id,
        base_topic=base_topic,
        interval_s=float(entry.get("interval_s", 60)),
        faults=faults,
        rng=random.Random(f"{seed}:{device_id}"),
        options=options,
    )


def _fault(device_id: str, raw: Mapping[str, Any]) -> Fault:
    unknown = set(raw) - _FAULT_KEYS
    if unknown:
        raise SectionError(f"{device_id}: fault has unknown keys {sorted(unknown)}")
    if "kind" not in raw or "at_s" not in raw:
        raise SectionError(
            f"{device_id}: a fault needs 'kind' and 'at_s', got {dict(raw)}"
        )
    fault = Fault(
        kind=str(raw["kind"]),
        at_s=float(raw["at_s"]),
        until_s=float(raw["until_s"]) if raw.get("until_s") is not None else None,
        payload=raw.get("payload"),
        watts=float(raw["watts"]) if raw.get("watts") is not None else None,
    )
    if fault.until_s is not None and fault.until_s <= fault.at_s:
        raise SectionError(f"{device_id}: fault {fault.kind} ends before it starts")
    if fault.kind == "garbage" and fault.payload not in GARBAGE_KINDS:
        raise SectionError(
            f"{device_id}: garbage payload {fault.payload!r} is not one of "
            f"{', '.join(GARBAGE_KINDS)}"
        )
    return fault
