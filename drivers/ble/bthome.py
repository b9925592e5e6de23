"""BTHome v2 advertisements, decoded by bthome-ble, judged and deduplicated here.

bthome-ble decrypts and decodes; it reports trouble only through its log. So before
handing it a frame this module checks the envelope itself (version, encryption flag
against the configured bindkey, the MAC inside the payload, lengths, the encryption
counter), and afterwards it walks the decoded objects with the library's own object
table, so every refused advertisement carries a reason that can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bluetooth_sensor_state_data import SIGNAL_STRENGTH_KEY
from bthome_ble import BTHomeBluetoothDeviceData
from bthome_ble.const import MEAS_TYPES
from bthome_ble.event import EventDeviceKeys
from habluetooth import BluetoothServiceInfoBleak
from sensor_state_data import BinarySensorDeviceClass, SensorDeviceClass, Units
from sensor_state_data.description import (
    BaseBinarySensorDescription,
    BaseSensorDescription,
)

from drivers.ble.decoded import DecodedAdvert, DecodedEvent, RepeatFilter
from drivers.ble.errors import BadAdvertisement, RejectReason
from drivers.types import Value

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
BINARY_PREFIX = "binary:"

_ENCRYPTED = 0x01
_MAC_INCLUDED = 0x02
_PACKET_ID = 0x00
_COUNTER_AND_TAG = 8  # 4-byte counter, 4-byte AES-CCM tag
_SMALLEST_OBJECT = 2  # object id and at least one byte of data
_VARIABLE_LENGTH = {"raw", "string", "command"}


def _sources() -> tuple[frozenset[str], frozenset[str]]:
    values: set[str] = set()
    events: set[str] = set()
    for meas in MEAS_TYPES.values():
        kind = meas.meas_format
        if isinstance(kind, BaseBinarySensorDescription):
            values.add(f"{BINARY_PREFIX}{kind.device_class}")
        elif isinstance(kind, BaseSensorDescription):
            values.add(str(kind.device_class))
        elif isinstance(kind, EventDeviceKeys):
            events.add(str(kind))
    return frozenset(values), frozenset(events)


# What a profile may name: sensor keys as bthome-ble names them ("temperature"),
# binary sensors with a prefix ("binary:moisture", as 0x14 is also "moisture"),
# and event keys ("button"). Repeated objects get "_1", "_2" suffixes.
BTHOME_SOURCES, BTHOME_EVENT_SOURCES = _sources()


@dataclass(frozen=True, slots=True)
class _Envelope:
    encrypted: bool
    counter: int | None  # AES-CCM counter of an encrypted frame


class _RecordingParser(BTHomeBluetoothDeviceData):
    """bthome-ble's parser, keeping what one advertisement produced.

    The library's ``SensorUpdate`` holds every key seen since the parser was made,
    so one advertisement's own output is taken from the calls the parser makes; the
    decrypted payload is taken where the parser starts reading objects.
    """

    def __init__(self, bindkey: bytes | None) -> None:
        super().__init__(bindkey)
        self.begin()

    def begin(self) -> None:
        self.plaintext: bytes | None = None
        self.sensor_values: dict[str, Any] = {}
        self.binary_values: dict[str, bool | None] = {}
        self.fired: list[DecodedEvent] = []

    def _parse_payload(self, payload: bytes, adv_time: float) -> bool:
        self.plaintext = payload
        return super()._parse_payload(payload, adv_time)

    def update_sensor(
        self,
        key: str,
        native_unit_of_measurement: Units | None,
        native_value: str | int | float | date | datetime | Decimal | None,
        device_class: SensorDeviceClass | None = None,
        name: str | None = None,
        device_id: str | None = None,
    ) -> None:
        super().update_sensor(
            key, native_unit_of_measurement, native_value, device_class, name, device_id
        )
        if key != SIGNAL_STRENGTH_KEY:
            self.sensor_values[key] = native_value

    def update_binary_sensor(
        self,
        key: str,
        native_value: bool | None,
        device_class: BinarySensorDeviceClass | None = None,
        name: str | None = None,
        device_id: str | None = None,
    ) -> None:
        super().update_binary_sensor(key, native_value, device_class, name, device_id)
        self.binary_values[key] = native_value

    def fire_event(
        self,
        key: str,
        event_type: str,
        event_properties: dict[str, str | int | float | None] | None = None,
        name: str | None = None,
        device_id: str | None = None,
    ) -> None:
        super().fire_event(key, event_type, event_properties, name, device_id)
        self.fired.append(DecodedEvent(key, event_type, dict(event_properties or {})))


class BTHomeDecoder:
    """Decodes the BTHome v2 advertisements of one device, remembering its state.

    ``dedupe`` drops a packet repeating the last packet id (or, without a packet id,
    the last frame byte for byte) within ``repeat_window_s``: buttons in beacon mode
    re-send their last press for as long as they have nothing new to say.
    """

    def __init__(
        self,
        *,
        address: str,
        bindkey: bytes | None,
        dedupe: bool = True,
        repeat_window_s: float = 4.0,
    ) -> None:
        self._address = address.upper()
        self._bindkey = bindkey
        self._dedupe = dedupe
        self._parser = _RecordingParser(bindkey)
        self._repeats = RepeatFilter(repeat_window_s)
        self._last_encrypted_frame: bytes | None = None
        self._packet_id_before: float | None = None

    def decode(
        self, device: BLEDevice, advertisement: AdvertisementData, now: float
    ) -> DecodedAdvert:
        """Decode one advertisement, or raise ``BadAdvertisement`` saying why not."""
        frame = advertisement.service_data.get(BTHOME_UUID)
        if frame is None:
            raise BadAdvertisement(
                RejectReason.NO_PAYLOAD, "no BTHome service data (UUID 0xFCD2)"
            )
        envelope = self._open(frame)
        if envelope.counter is not None:
            self._refuse_replay(frame, envelope.counter)

        plaintext = self._parse(device, advertisement, now)
        if envelope.encrypted:
            self._last_encrypted_frame = frame
        objects = walk_objects(plaintext)
        packet_id = next((data[0] for oid, data in objects if oid == _PACKET_ID), None)
        self._refuse_repeat(frame, packet_id, now)

        parser = self._parser
        produced = parser.sensor_values or parser.binary_values or parser.fired
        # Event objects may rightly say "nothing happened" (button code 0x00).
        only_events = all(_is_event(object_id) for object_id, _ in objects)
        if not produced and not only_events:
            raise BadAdvertisement(
                RejectReason.UNDECODABLE,
                f"no object of payload {plaintext.hex()} yielded a value",
            )
        return DecodedAdvert(
            values=_values(parser.sensor_values, parser.binary_values),
            events=tuple(parser.fired),
            sequence=packet_id,
        )

    def _open(self, frame: bytes) -> _Envelope:
        """Check the device-info byte, the MAC and the encryption against the key."""
        if not frame:
            raise BadAdvertisement(
                RejectReason.TRUNCATED, "BTHome service data is empty"
            )
        info = frame[0]
        version = info >> 5
        if version != 2:
            raise BadAdvertisement(
                RejectReason.WRONG_VERSION,
                f"BTHome version {version} (device-info byte 0x{info:02x}); "
                "only version 2 is supported",
            )
        body = frame[1:]
        if info & _MAC_INCLUDED:
            body = self._strip_mac(body)
        encrypted = bool(info & _ENCRYPTED)
        if encrypted and self._bindkey is None:
            raise BadAdvertisement(
                RejectReason.NO_BINDKEY,
                "encrypted BTHome advertisement, but no bindkey is configured",
            )
        if not encrypted and self._bindkey is not None:
            raise BadAdvertisement(
                RejectReason.DOWNGRADE,
                "plain BTHome advertisement from a device configured with a bindkey; "
                "refused as a possible downgrade",
            )
        needed = _SMALLEST_OBJECT + (_COUNTER_AND_TAG if encrypted else 0)
        if len(body) < needed:
            raise BadAdvertisement(
                RejectReason.TRUNCATED,
                f"{'encrypted ' if encrypted else ''}BTHome payload {body.hex()} is "
                f"{len(body)} bytes; at least {needed} are needed",
            )
        counter = int.from_bytes(body[-8:-4], "little") if encrypted else None
        return _Envelope(encrypted=encrypted, counter=counter)

    def _strip_mac(self, body: bytes) -> bytes:
        if len(body) < 6:
            raise BadAdvertisement(
                RejectReason.TRUNCATED,
                f"device-info byte announces a MAC but only {len(body)} bytes follow",
            )
        mac = ":".join(f"{byte:02X}" for byte in reversed(body[:6]))
        if mac != self._address:
            raise BadAdvertisement(
                RejectReason.MAC_MISMATCH,
                f"payload carries MAC {mac}, but the advertisement came from "
                f"{self._address}",
            )
        return body[6:]

    def _refuse_replay(self, frame: bytes, counter: int) -> None:
        """The checks bthome-ble makes silently, made here so they have a reason."""
        if frame == self._last_encrypted_frame:
            raise BadAdvertisement(
                RejectReason.DUPLICATE,
                f"repeat of the encrypted advertisement with counter {counter}",
            )
        last = int(self._parser.encryption_counter)
        # bthome-ble accepts a counter that restarted below 100 (battery change).
        if counter < last and self._parser.bindkey_verified and counter >= 100:
            raise BadAdvertisement(
                RejectReason.COUNTER_REPLAY,
                f"encryption counter {counter} is below the last accepted {last}; "
                "refused as a possible replay",
            )

    def _parse(
        self, device: BLEDevice, advertisement: AdvertisementData, now: float
    ) -> bytes:
        self._packet_id_before = self._parser.packet_id
        self._parser.begin()
        service_info = BluetoothServiceInfoBleak.from_device_and_advertisement_data(
            device, advertisement, "local", now, False
        )
        self._parser.update(service_info)
        if self._parser.plaintext is None:
            raise BadAdvertisement(
                RejectReason.DECRYPT_FAILED,
                "decryption failed (AES-CCM tag mismatch): wrong bindkey or a "
                "corrupted advertisement",
            )
        return self._parser.plaintext

    def _refuse_repeat(self, frame: bytes, packet_id: int | None, now: float) -> None:
        key: tuple[str, int | bytes] = (
            ("packet_id", packet_id) if packet_id is not None else ("frame", frame)
        )
        if packet_id is not None and "packet_id" not in self._parser.sensor_values:
            # bthome-ble skipped it: the same or an older packet id within 4 s.
            self._repeats.is_repeat(key, now)
            raise BadAdvertisement(
                RejectReason.DUPLICATE,
                f"packet id {packet_id} is not newer than the last one "
                f"({_as_int(self._packet_id_before)})",
            )
        if self._dedupe and self._repeats.is_repeat(key, now):
            what = f"packet id {packet_id}" if packet_id is not None else "frame"
            raise BadAdvertisement(
                RejectReason.DUPLICATE, f"repeat of the last {what} ({frame.hex()})"
            )
        self._repeats.taken(key, now)


def walk_objects(payload: bytes) -> list[tuple[int, bytes]]:
    """Split a (decrypted) BTHome payload into (object id, data) by the spec's table."""
    objects: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(payload):
        object_id = payload[offset]
        meas = MEAS_TYPES.get(object_id)
        if meas is None:
            raise BadAdvertisement(
                RejectReason.UNKNOWN_OBJECT,
                f"unknown BTHome object id 0x{object_id:02x} at byte {offset} of "
                f"payload {payload.hex()}",
            )
        start, length = _object_span(payload, offset, meas.data_format)
        if start + length > len(payload):
            raise BadAdvertisement(
                RejectReason.TRUNCATED,
                f"BTHome object 0x{object_id:02x} needs {length} bytes at byte "
                f"{start}, but payload {payload.hex()} has {len(payload) - start}",
            )
        objects.append((object_id, payload[start : start + length]))
        offset = start + length
    return objects


def _object_span(payload: bytes, offset: int, data_format: str) -> tuple[int, int]:
    """Where an object's data starts and how long it is."""
    meas = MEAS_TYPES[payload[offset]]
    if data_format not in _VARIABLE_LENGTH:
        return offset + 1, meas.data_length
    if offset + 1 >= len(payload):
        raise BadAdvertisement(
            RejectReason.TRUNCATED,
            f"BTHome object 0x{payload[offset]:02x} at byte {offset} lacks its "
            "length byte",
        )
    length_byte = payload[offset + 1]
    # A command object's length byte counts its arguments, after the opcode.
    length = 1 + (length_byte & 0x1F) if data_format == "command" else length_byte
    return offset + 2, length


def _is_event(object_id: int) -> bool:
    return isinstance(MEAS_TYPES[object_id].meas_format, EventDeviceKeys)


def _values(
    sensors: dict[str, Any], binaries: dict[str, bool | None]
) -> dict[str, Value]:
    values: dict[str, Value] = {key: _value(raw) for key, raw in sensors.items()}
    values.update({f"{BINARY_PREFIX}{key}": raw for key, raw in binaries.items()})
    return values


def _value(raw: Any) -> Value:
    """bthome-ble rounds to the object's resolution; keep exactly what it printed."""
    if raw is None or isinstance(raw, bool | str | Decimal):
        return raw
    if isinstance(raw, int | float):
        return Decimal(repr(raw))
    if isinstance(raw, datetime):
        return raw.isoformat()
    return str(raw)


def _as_int(value: float | None) -> str:
    return "none" if value is None else str(int(value))
