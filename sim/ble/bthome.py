"""BTHome v2 advertisements as a device builds them, plain and encrypted.

Written from the BTHome v2 format description (bthome.io), not from any decoder:
service data for UUID 0xFCD2 is a device-info byte (bit 0 encrypted, bit 1 MAC
included, bit 2 trigger based, bits 5-7 version 2), optionally the MAC reversed,
then objects: an id byte and a little-endian value of the object's fixed length.
Encrypted frames carry AES-CCM ciphertext, a 4-byte counter and a 4-byte tag; the
nonce is MAC + 0xD2 0xFC + device-info byte + counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

SERVICE_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
_UUID16_ON_AIR = b"\xd2\xfc"
_VERSION_2 = 0x40
_ENCRYPTED = 0x01
_MAC_INCLUDED = 0x02
_TRIGGER_BASED = 0x04


@dataclass(frozen=True, slots=True)
class ObjectType:
    name: str
    length: int
    signed: bool
    factor: Decimal


# The objects the simulated devices send; ids in the order the format requires.
OBJECTS: dict[int, ObjectType] = {
    0x00: ObjectType("packet_id", 1, False, Decimal(1)),
    0x01: ObjectType("battery", 1, False, Decimal(1)),
    0x02: ObjectType("temperature", 2, True, Decimal("0.01")),
    0x03: ObjectType("humidity", 2, False, Decimal("0.01")),
    0x0C: ObjectType("voltage", 2, False, Decimal("0.001")),
    0x20: ObjectType("moisture", 1, False, Decimal(1)),
    0x3A: ObjectType("button", 1, False, Decimal(1)),
}
OBJECT_IDS = {kind.name: object_id for object_id, kind in OBJECTS.items()}

BUTTON_EVENTS = {
    "none": 0x00,
    "press": 0x01,
    "double_press": 0x02,
    "triple_press": 0x03,
    "long_press": 0x04,
    "long_double_press": 0x05,
    "long_triple_press": 0x06,
    "hold_press": 0x80,
    "hold_release": 0x81,
}


def encode_objects(objects: Sequence[tuple[str, Decimal | int | bool]]) -> bytes:
    """Encode (name, value) pairs, e.g. ``[("temperature", Decimal("21.5"))]``."""
    payload = bytearray()
    for name, value in objects:
        object_id = OBJECT_IDS[name]
        kind = OBJECTS[object_id]
        raw = (
            Decimal(int(value)) if isinstance(value, bool) else Decimal(value)
        ) / kind.factor
        integer = int(raw.to_integral_value(ROUND_HALF_EVEN))
        payload.append(object_id)
        payload += integer.to_bytes(kind.length, "little", signed=kind.signed)
    return bytes(payload)


def info_byte(*, encrypted: bool, mac_included: bool, trigger_based: bool) -> int:
    return (
        _VERSION_2
        | (_ENCRYPTED if encrypted else 0)
        | (_MAC_INCLUDED if mac_included else 0)
        | (_TRIGGER_BASED if trigger_based else 0)
    )


def mac_bytes(address: str) -> bytes:
    """``"54:48:E6:8F:80:A5"`` → the six bytes in printed order."""
    return bytes.fromhex(address.replace(":", ""))


def plain_frame(
    payload: bytes,
    *,
    address: str | None = None,
    trigger_based: bool = False,
) -> bytes:
    """Service data of a plain advertisement; ``address`` set → MAC included."""
    info = info_byte(
        encrypted=False, mac_included=address is not None, trigger_based=trigger_based
    )
    mac = mac_bytes(address)[::-1] if address is not None else b""
    return bytes([info]) + mac + payload


def encrypted_frame(
    payload: bytes,
    *,
    bindkey: bytes,
    address: str,
    counter: int,
    include_mac: bool = False,
    trigger_based: bool = False,
) -> bytes:
    """Service data of an encrypted advertisement (AES-CCM, 4-byte tag)."""
    info = info_byte(
        encrypted=True, mac_included=include_mac, trigger_based=trigger_based
    )
    counter_bytes = counter.to_bytes(4, "little")
    nonce = mac_bytes(address) + _UUID16_ON_AIR + bytes([info]) + counter_bytes
    sealed = AESCCM(bindkey, tag_length=4).encrypt(nonce, payload, None)
    ciphertext, tag = sealed[:-4], sealed[-4:]
    mac = mac_bytes(address)[::-1] if include_mac else b""
    return bytes([info]) + mac + ciphertext + counter_bytes + tag
