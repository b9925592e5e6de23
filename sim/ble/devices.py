"""Simulated BLE devices: what each one puts on the air, and how faults change it.

Each device answers two questions of the simulation: what it advertises at its
regular interval (``periodic``), and what a fault does to it at the fault's time
(``apply``; ``end`` when a fault with an end time ends). Faults every device takes:
``garbage`` (one bad advertisement). ``silent`` and ``repeat`` are the radio's doing
and handled by the simulation itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from sim.ble.bthome import (
    BUTTON_EVENTS,
    SERVICE_UUID,
    encode_objects,
    encrypted_frame,
    plain_frame,
)
from sim.ble.ruuvi import COMPANY_ID, encode_df5
from sim.ble.server import Advert

RADIO_FAULTS = frozenset({"silent", "repeat"})
Objects = list[tuple[str, Decimal | int | bool]]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    at_s: float
    until_s: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_id: str
    profile: str
    address: str
    bindkey: bytes | None
    interval_s: float
    name: str | None = None
    faults: tuple[Fault, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)  # temperature ...


class SimDevice:
    PROFILE: ClassVar[str]
    FAULTS: ClassVar[frozenset[str]] = frozenset({"garbage"})
    GARBAGE: ClassVar[frozenset[str]] = frozenset()  # variants of the garbage fault
    SETTINGS: ClassVar[frozenset[str]] = frozenset()
    DEFAULT_INTERVAL_S: ClassVar[float] = 10.0
    NEEDS_BINDKEY: ClassVar[bool] = False
    TAKES_BINDKEY: ClassVar[bool] = True

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng

    def periodic(self) -> list[Advert]:
        raise NotImplementedError

    def apply(self, fault: Fault) -> list[Advert]:
        if fault.kind == "garbage":
            return [self._garbage(str(fault.params.get("variant", "truncated")))]
        return []

    def end(self, fault: Fault) -> None:
        """A fault with an end time is over."""

    def _garbage(self, variant: str) -> Advert:
        raise NotImplementedError

    def _advert(self, **data: Any) -> Advert:
        return Advert(
            address=self.spec.address,
            name=self.spec.name,
            rssi=self.rng.randint(-80, -55),
            **data,
        )

    def _noisy(self, setting: str, default: str, spread: float, places: int) -> Decimal:
        base = float(self.spec.settings.get(setting, default))
        return Decimal(str(round(base + self.rng.gauss(0, spread), places)))


class _BTHomeDevice(SimDevice):
    """Packet ids, encryption counters and bad frames, shared by BTHome devices."""

    GARBAGE = frozenset({"truncated", "wrong_version", "unknown_object", "random",
                         "wrong_key", "downgrade"})  # fmt: skip

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self._packet_id = rng.randrange(256)
        self._counter = rng.randrange(1000, 1 << 24)
        self._battery = int(spec.settings.get("battery", 97))
        self._last_frame = b""

    def _new_packet(self, objects: Objects, *, trigger_based: bool = False) -> bytes:
        self._packet_id = (self._packet_id + 1) % 256
        payload = encode_objects([("packet_id", self._packet_id), *objects])
        self._last_frame = self._seal(payload, trigger_based=trigger_based)
        return self._last_frame

    def _seal(
        self,
        payload: bytes,
        *,
        trigger_based: bool = False,
        bindkey: bytes | None = None,
    ) -> bytes:
        key = bindkey or self.spec.bindkey
        if key is None:
            return plain_frame(payload, trigger_based=trigger_based)
        self._counter = (self._counter + 1) % (1 << 32)
        return encrypted_frame(
            payload,
            bindkey=key,
            address=self.spec.address,
            counter=self._counter,
            trigger_based=trigger_based,
        )

    def _frame_advert(self, frame: bytes) -> Advert:
        return self._advert(service_data={SERVICE_UUID: frame})

    def _garbage(self, variant: str) -> Advert:
        frame = self._last_frame or self._seal(
            encode_objects([("battery", self._battery)])
        )
        encrypted = bool(frame[0] & 0x01)
        bad = {
            # Plain: the last object loses its data. Encrypted: too short to decrypt.
            "truncated": frame[:7] if encrypted else frame[:-1],
            "wrong_version": bytes([0xE0 | (frame[0] & 0x1F)]) + frame[1:],
            "unknown_object": self._seal(b"\xfe\x01\x02"),
            "random": self.rng.randbytes(self.rng.randint(1, 12)),
            "wrong_key": self._seal(b"\x01\x50", bindkey=self.rng.randbytes(16)),
            "downgrade": plain_frame(encode_objects([("battery", self._battery)])),
        }
        return self._frame_advert(bad[variant])


class LeakSensor(_BTHomeDevice):
    """Moisture binary (0x20) and battery, every interval and at once on a change."""

    PROFILE = "bthome_leak_sensor"
    FAULTS = SimDevice.FAULTS | {"leak", "leak_clear"}
    SETTINGS = frozenset({"battery"})
    DEFAULT_INTERVAL_S = 60.0

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self._wet = False

    def periodic(self) -> list[Advert]:
        return [self._frame_advert(self._new_packet(self._objects()))]

    def apply(self, fault: Fault) -> list[Advert]:
        if fault.kind in ("leak", "leak_clear"):
            self._wet = fault.kind == "leak"
            frame = self._new_packet(self._objects(), trigger_based=True)
            return [self._frame_advert(frame)]
        return super().apply(fault)

    def _objects(self) -> Objects:
        return [("battery", self._battery), ("moisture", self._wet)]


class THSensor(_BTHomeDevice):
    """Encrypted temperature, humidity and battery."""

    PROFILE = "bthome_th_sensor"
    FAULTS = SimDevice.FAULTS | {"impossible_temperature"}
    SETTINGS = frozenset({"battery", "temperature", "humidity"})
    DEFAULT_INTERVAL_S = 10.0
    NEEDS_BINDKEY = True

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self._forced_temperature: Decimal | None = None

    def periodic(self) -> list[Advert]:
        temperature = self._forced_temperature
        if temperature is None:
            temperature = self._noisy("temperature", "21.5", 0.1, 2)
        objects: Objects = [
            ("battery", self._battery),
            ("temperature", temperature),
            ("humidity", self._noisy("humidity", "45", 0.3, 2)),
        ]
        return [self._frame_advert(self._new_packet(objects))]

    def apply(self, fault: Fault) -> list[Advert]:
        if fault.kind == "impossible_temperature":
            self._forced_temperature = Decimal(str(fault.params.get("value", "120")))
            return []
        return super().apply(fault)

    def end(self, fault: Fault) -> None:
        if fault.kind == "impossible_temperature":
            self._forced_temperature = None


class Button(_BTHomeDevice):
    """A button in beacon mode: a press goes out as a burst, and between presses the
    button keeps re-sending its last packet, press included, unchanged."""

    PROFILE = "bthome_button"
    FAULTS = SimDevice.FAULTS | {"press"}
    SETTINGS = frozenset({"battery", "burst"})
    DEFAULT_INTERVAL_S = 8.0

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self._burst = int(spec.settings.get("burst", 3))
        self._new_packet(self._objects("none"), trigger_based=True)

    def periodic(self) -> list[Advert]:
        return [self._frame_advert(self._last_frame)]

    def apply(self, fault: Fault) -> list[Advert]:
        if fault.kind == "press":
            event = str(fault.params.get("event", "press"))
            frame = self._new_packet(self._objects(event), trigger_based=True)
            return [self._frame_advert(frame)] * self._burst
        return super().apply(fault)

    def _objects(self, event: str) -> Objects:
        return [("battery", self._battery), ("button", BUTTON_EVENTS[event])]


class RuuviTag(SimDevice):
    """Data format 5; each measurement has the next sequence number."""

    PROFILE = "ruuvitag_df5"
    FAULTS = SimDevice.FAULTS | {"impossible_temperature"}
    SETTINGS = frozenset({"temperature", "humidity", "battery_mv"})
    DEFAULT_INTERVAL_S = 2.0
    TAKES_BINDKEY = False
    GARBAGE = frozenset({"truncated", "wrong_format", "random"})

    def __init__(self, spec: DeviceSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self._sequence = rng.randrange(0xFFFF)
        self._movement = rng.randrange(0xFF)
        self._battery_mv = int(spec.settings.get("battery_mv", 2950))
        self._forced_temperature: Decimal | None = None
        self._last = b""

    def periodic(self) -> list[Advert]:
        self._sequence = (self._sequence + 1) % 0xFFFF  # 0xFFFF means "not available"
        jitter = self.rng.randint
        temperature = self._forced_temperature
        if temperature is None:
            temperature = self._noisy("temperature", "20.0", 0.05, 3)
        self._last = encode_df5(
            temperature=temperature,
            humidity=self._noisy("humidity", "40", 0.2, 2),
            pressure_pa=100_500 + jitter(-30, 30),
            acceleration_mg=(jitter(-8, 8), jitter(-8, 8), 1000 + jitter(-8, 8)),
            battery_mv=self._battery_mv,
            tx_power_dbm=4,
            movement_counter=self._movement,
            sequence=self._sequence,
            address=self.spec.address,
        )
        return [self._advert(manufacturer_data={COMPANY_ID: self._last})]

    def apply(self, fault: Fault) -> list[Advert]:
        if fault.kind == "impossible_temperature":
            self._forced_temperature = Decimal(
                str(fault.params.get("value", "163.835"))
            )
            return []
        return super().apply(fault)

    def end(self, fault: Fault) -> None:
        if fault.kind == "impossible_temperature":
            self._forced_temperature = None

    def _garbage(self, variant: str) -> Advert:
        last = self._last or bytes([5]) + bytes(23)
        bad = {
            "truncated": last[:10],
            "wrong_format": b"\x03" + last[1:],
            "random": self.rng.randbytes(self.rng.randint(1, 30)),
        }
        return self._advert(manufacturer_data={COMPANY_ID: bad[variant]})


DEVICE_TYPES: dict[str, type[SimDevice]] = {
    kind.PROFILE: kind for kind in (LeakSensor, THSensor, Button, RuuviTag)
}
