"""A scenario's BLE devices on one simulated radio.

A scenario's ``[[ble]]`` entries::

    [[ble]]
    id = "leak-kitchen"
    profile = "bthome_leak_sensor"   # bthome_th_sensor, bthome_button, ruuvitag_df5
    address = "A4:C1:38:00:00:01"
    bindkey = "231d39c1d7cc1ab1aee224cd096db932"  # optional; th_sensor gets one
    interval_s = 60
    faults = [
      { kind = "leak", at_s = 30 }, { kind = "leak_clear", at_s = 90 },
      { kind = "silent", at_s = 120, until_s = 300 },
      { kind = "repeat", at_s = 0, count = 3 },
      { kind = "garbage", at_s = 10, variant = "truncated" },
    ]

Fault kinds: every device ``silent``, ``repeat`` (``count``), ``garbage``
(``variant``: BTHome truncated, wrong_version, unknown_object, random, wrong_key,
downgrade; Ruuvi truncated, wrong_format, random); leak sensor ``leak``,
``leak_clear``; button ``press`` (``event``, default press); th sensor and RuuviTag
``impossible_temperature`` (``value``). ``until_s`` ends a lasting fault.
Everything is deterministic for a given seed, apart from the wall-clock pacing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from sim.ble.bthome import BUTTON_EVENTS
from sim.ble.devices import (
    DEVICE_TYPES,
    RADIO_FAULTS,
    DeviceSpec,
    Fault,
    SimDevice,
)
from sim.ble.server import Advert, AdvertServer

_LOG = logging.getLogger(__name__)

_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_ENTRY_KEYS = frozenset(
    {"id", "profile", "address", "bindkey", "interval_s", "name", "faults"}
)
_FIRST_ADVERT_WITHIN_S = 1.0
# (at_s, tie-breaker, "periodic" | "fault" | "end", device index, fault)
_Entry = tuple[float, int, str, int, Fault | None]


class SimConfigError(ValueError):
    """A ``[[ble]]`` entry cannot be simulated; the message names the entry and key."""


class BleSimulation:
    """The simulated devices and the socket they are heard on.

    The port is bound when the object is made, so ``wiring`` is complete before the
    simulation starts; ``async with`` runs it. With ``wait_for_scanner`` the
    scenario's time 0 is when the first scanner connects instead of at start.
    """

    def __init__(
        self,
        specs: Sequence[DeviceSpec],
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        wait_for_scanner: bool = False,
    ) -> None:
        self._devices: list[SimDevice] = [
            DEVICE_TYPES[spec.profile](spec, random.Random(f"{seed}/{spec.device_id}"))
            for spec in specs
        ]
        self._server = AdvertServer(host, port)
        self._wait_for_scanner = wait_for_scanner
        self._silent = [False] * len(self._devices)
        self._copies = [1] * len(self._devices)
        self._task: asyncio.Task[None] | None = None
        self.fault_log: list[tuple[float, str, str]] = []  # (at_s, device id, kind)

    @property
    def wiring(self) -> dict[str, Any]:
        """What the gateway needs: the socket and each device with its bindkey."""
        return {
            "socket": {"host": self._server.host, "port": self._server.port},
            "devices": [
                {
                    "device_id": device.spec.device_id,
                    "profile": device.spec.profile,
                    "address": device.spec.address,
                    "bindkey": device.spec.bindkey.hex()
                    if device.spec.bindkey
                    else None,
                }
                for device in self._devices
            ],
        }

    @property
    def adverts_sent(self) -> int:
        return self._server.sent

    async def wait_for_scanner(self) -> None:
        await self._server.wait_for_scanner()

    async def __aenter__(self) -> Self:
        await self._server.start()
        self._task = asyncio.create_task(self._play(), name="ble-sim")
        _LOG.info(
            "BLE sim: %d devices on %s:%d",
            len(self._devices),
            self._server.host,
            self._server.port,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._server.close()

    async def _play(self) -> None:
        if self._wait_for_scanner:
            await self._server.wait_for_scanner()
        loop = asyncio.get_running_loop()
        started = loop.time()
        order = itertools.count()
        agenda = self._agenda(order)
        while agenda:
            at_s, _, action, index, fault = heapq.heappop(agenda)
            delay = started + at_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            device = self._devices[index]
            if action == "periodic":
                self._emit(index, device.periodic())
                next_at = at_s + device.spec.interval_s
                heapq.heappush(agenda, (next_at, next(order), "periodic", index, None))
            elif action == "fault" and fault is not None:
                self.fault_log.append((at_s, device.spec.device_id, fault.kind))
                self._emit(index, self._begin(index, fault))
            elif fault is not None:
                self._end(index, fault)

    def _agenda(self, order: Iterator[int]) -> list[_Entry]:
        """Every device's first advertisement and its faults, as a heap by time."""
        agenda: list[_Entry] = []
        for index, device in enumerate(self._devices):
            first = min(device.spec.interval_s, _FIRST_ADVERT_WITHIN_S)
            agenda.append(
                (device.rng.uniform(0, first), next(order), "periodic", index, None)
            )
            for planned in device.spec.faults:
                agenda.append((planned.at_s, next(order), "fault", index, planned))
                if planned.until_s is not None:
                    agenda.append((planned.until_s, next(order), "end", index, planned))
        heapq.heapify(agenda)
        return agenda

    def _begin(self, index: int, fault: Fault) -> list[Advert]:
        _LOG.info(
            "BLE sim: %s: fault %s", self._devices[index].spec.device_id, fault.kind
        )
        if fault.kind == "silent":
            self._silent[index] = True
            return []
        if fault.kind == "repeat":
            self._copies[index] = int(fault.params.get("count", 3))
            return []
        return self._devices[index].apply(fault)

    def _end(self, index: int, fault: Fault) -> None:
        if fault.kind == "silent":
            self._silent[index] = False
        elif fault.kind == "repeat":
            self._copies[index] = 1
        else:
            self._devices[index].end(fault)

    def _emit(self, index: int, adverts: list[Advert]) -> None:
        if self._silent[index]:
            return
        for advert in adverts:
            line = advert.to_line()
            for _ in range(self._copies[index]):
                self._server.broadcast(line)


def ble_simulation(
    section: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    seed: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    wait_for_scanner: bool = False,
) -> BleSimulation:
    """The simulation of a scenario's ``[[ble]]`` entries (or ``{"devices": [...]}``).

    Use as ``async with ble_simulation(entries) as sim: sim.wiring``; the wiring is
    ``{"socket": {"host", "port"}, "devices": [{"device_id", "profile", "address",
    "bindkey"}]}`` with the bindkey as hex or None.
    """
    return BleSimulation(
        parse_section(section, seed=seed),
        seed=seed,
        host=host,
        port=port,
        wait_for_scanner=wait_for_scanner,
    )


def parse_section(
    section: Sequence[Mapping[str, Any]] | Mapping[str, Any], *, seed: int = 0
) -> list[DeviceSpec]:
    entries = section.get("devices", []) if isinstance(section, Mapping) else section
    specs = [_spec(entry, position, seed) for position, entry in enumerate(entries)]
    for what in ("device_id", "address"):
        values = [getattr(spec, what) for spec in specs]
        repeated = {value for value in values if values.count(value) > 1}
        if repeated:
            raise SimConfigError(f"[[ble]] {what} used twice: {sorted(repeated)}.")
    return specs


def _spec(entry: Mapping[str, Any], position: int, seed: int) -> DeviceSpec:
    where = f"[[ble]] entry {position + 1}"
    if not isinstance(entry, Mapping):
        raise SimConfigError(f"{where} is not a table.")
    device_id = entry.get("id")
    if not isinstance(device_id, str) or not device_id:
        raise SimConfigError(f"{where}: 'id' must be text.")
    where = f"[[ble]] {device_id!r}"
    kind = DEVICE_TYPES.get(str(entry.get("profile")))
    if kind is None:
        raise SimConfigError(
            f"{where}: profile {entry.get('profile')!r} is not one of "
            f"{sorted(DEVICE_TYPES)}."
        )
    unknown = set(entry) - _ENTRY_KEYS - kind.SETTINGS
    if unknown:
        raise SimConfigError(f"{where}: unknown keys {sorted(unknown)}.")
    address = str(entry.get("address", "")).upper()
    if not _MAC.match(address):
        raise SimConfigError(f"{where}: address {entry.get('address')!r} is not a MAC.")
    interval_s = entry.get("interval_s", kind.DEFAULT_INTERVAL_S)
    if not isinstance(interval_s, int | float) or interval_s <= 0:
        raise SimConfigError(f"{where}: interval_s {interval_s!r} must be positive.")
    return DeviceSpec(
        device_id=device_id,
        profile=kind.PROFILE,
        address=address,
        bindkey=_bindkey(entry.get("bindkey"), kind, where, f"{seed}/{device_id}"),
        interval_s=float(interval_s),
        name=str(entry["name"]) if "name" in entry else None,
        faults=tuple(_fault(f, kind, where) for f in entry.get("faults", [])),
        settings={key: entry[key] for key in kind.SETTINGS if key in entry},
    )


def _bindkey(value: Any, kind: type[SimDevice], where: str, seed: str) -> bytes | None:
    if value is None:
        # A device that must encrypt gets a key of its own, reported in the wiring.
        return (
            random.Random(f"{seed}/bindkey").randbytes(16)
            if kind.NEEDS_BINDKEY
            else None
        )
    if not kind.TAKES_BINDKEY:
        raise SimConfigError(f"{where}: profile {kind.PROFILE} takes no bindkey.")
    try:
        key = bytes.fromhex(str(value))
    except ValueError as exc:
        raise SimConfigError(f"{where}: bindkey is not hex.") from exc
    if len(key) != 16:
        raise SimConfigError(
            f"{where}: bindkey must be 32 hex digits, not {len(key) * 2}."
        )
    return key


def _fault(entry: Mapping[str, Any], kind: type[SimDevice], where: str) -> Fault:
    fault_kind = entry.get("kind") if isinstance(entry, Mapping) else None
    if fault_kind not in kind.FAULTS | RADIO_FAULTS:
        raise SimConfigError(
            f"{where}: fault {fault_kind!r} is not one of "
            f"{sorted(kind.FAULTS | RADIO_FAULTS)}."
        )
    at_s, until_s = entry.get("at_s"), entry.get("until_s")
    if not isinstance(at_s, int | float) or at_s < 0:
        raise SimConfigError(
            f"{where}: fault {fault_kind} needs at_s ≥ 0, not {at_s!r}."
        )
    if until_s is not None and (
        not isinstance(until_s, int | float) or until_s <= at_s
    ):
        raise SimConfigError(f"{where}: fault {fault_kind} until_s must follow at_s.")
    params = {k: v for k, v in entry.items() if k not in ("kind", "at_s", "until_s")}
    _check_params(fault_kind, params, kind, where)
    return Fault(
        kind=fault_kind,
        at_s=float(at_s),
        until_s=None if until_s is None else float(until_s),
        params=params,
    )


_PARAMS = {
    "garbage": {"variant"},
    "press": {"event"},
    "repeat": {"count"},
    "impossible_temperature": {"value"},
}


def _check_params(
    fault_kind: str, params: Mapping[str, Any], kind: type[SimDevice], where: str
) -> None:
    unknown = set(params) - _PARAMS.get(fault_kind, set())
    if unknown:
        raise SimConfigError(
            f"{where}: fault {fault_kind} has unknown keys {sorted(unknown)}."
        )
    variant = params.get("variant", "truncated")
    if fault_kind == "garbage" and variant not in kind.GARBAGE:
        raise SimConfigError(
            f"{where}: garbage variant {variant!r} is not one of "
            f"{sorted(kind.GARBAGE)}."
        )
    if fault_kind == "press" and params.get("event", "press") not in BUTTON_EVENTS:
        raise SimConfigError(f"{where}: press event {params['event']!r} is unknown.")
    count = params.get("count", 3)
    if fault_kind == "repeat" and (not isinstance(count, int) or count < 1):
        raise SimConfigError(f"{where}: repeat count {count!r} must be at least 1.")
