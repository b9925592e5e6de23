"""RuuviTag data format 5 (RAWv2), decoded from a table of the specification.

Layout (manufacturer data of company 0x0499, all fields most significant byte
first): format byte 0x05, then the fields of ``DF5_FIELDS``, then the MAC in bytes
18-23. Every field has a "not available" marker (0x8000 for signed fields, the
largest value for unsigned ones); a marked field becomes an unavailable reading with
that reason rather than a number. Values are exact: raw × scale + offset in Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.ble.decoded import DecodedAdvert, RepeatFilter
from drivers.ble.errors import BadAdvertisement, RejectReason
from drivers.types import Value

RUUVI_COMPANY_ID = 0x0499
DF5_FORMAT = 0x05
DF5_LENGTH = 24
_MAC = slice(18, 24)


@dataclass(frozen=True, slots=True)
class Df5Field:
    """One quantity: where its bits are and how raw becomes value."""

    name: str
    offset: int  # first byte, counting the format byte as byte 0
    size: int  # bytes read, big-endian
    not_available: int  # raw value meaning "no measurement"
    signed: bool
    shift: int  # bit fields: shift right after reading ...
    bits: int  # ... and keep this many bits (0: all)
    scale: str  # value = raw × scale + add, in Decimal
    add: str
    unit: str | None

    def raw(self, payload: bytes) -> int:
        chunk = payload[self.offset : self.offset + self.size]
        raw = int.from_bytes(chunk, "big", signed=self.signed) >> self.shift
        return raw & ((1 << self.bits) - 1) if self.bits else raw

    def value(self, raw: int) -> Decimal:
        return raw * Decimal(self.scale) + Decimal(self.add)


# Pressure is Pa above 50000 on the air, hPa here: raw × 0.01 + 500. The power word
# holds the battery (mV above 1600) in its top 11 bits, (TX dBm + 40) / 2 in the low 5.
# fmt: off
DF5_FIELDS: tuple[Df5Field, ...] = (
    #        name                 byte size not-avail signed >> bits scale  add  unit
    Df5Field("temperature",           1, 2, -0x8000, True,  0, 0,  "0.005", "0", "°C"),
    Df5Field("humidity",              3, 2, 0xFFFF,  False, 0, 0,  "0.0025", "0", "%"),
    Df5Field("pressure",              5, 2, 0xFFFF,  False, 0, 0, "0.01", "500", "hPa"),
    Df5Field("acceleration_x",        7, 2, -0x8000, True,  0, 0,  "0.001", "0", "g"),
    Df5Field("acceleration_y",        9, 2, -0x8000, True,  0, 0,  "0.001", "0", "g"),
    Df5Field("acceleration_z",       11, 2, -0x8000, True,  0, 0,  "0.001", "0", "g"),
    Df5Field("battery_voltage",      13, 2, 2047,    False, 5, 11, "0.001", "1.6", "V"),
    Df5Field("tx_power",             13, 2, 31,      False, 0, 5,  "2", "-40", "dBm"),
    Df5Field("movement_counter",     15, 1, 0xFF,    False, 0, 0,  "1", "0", None),
    Df5Field("measurement_sequence", 16, 2, 0xFFFF,  False, 0, 0,  "1", "0", None),
)
# fmt: on

DF5_SOURCES = frozenset({field.name for field in DF5_FIELDS} | {"mac"})


def decode_df5(payload: bytes) -> DecodedAdvert:
    """Decode manufacturer data (after the company id) of data format 5."""
    if not payload:
        raise BadAdvertisement(
            RejectReason.TRUNCATED, "Ruuvi manufacturer data is empty"
        )
    if payload[0] != DF5_FORMAT:
        raise BadAdvertisement(
            RejectReason.WRONG_VERSION,
            f"RuuviTag data format {payload[0]}; only format 5 is supported",
        )
    if len(payload) < DF5_LENGTH:
        raise BadAdvertisement(
            RejectReason.TRUNCATED,
            f"RuuviTag format 5 data {payload.hex()} is {len(payload)} bytes; "
            f"{DF5_LENGTH} are needed",
        )

    values: dict[str, Value] = {}
    unavailable: dict[str, str] = {}
    for field in DF5_FIELDS:
        raw = field.raw(payload)
        if raw == field.not_available:
            marker = raw & ((1 << (8 * field.size)) - 1)
            unavailable[field.name] = (
                f"{field.name}: the tag sent the not-available marker 0x{marker:x}"
            )
        else:
            values[field.name] = field.value(raw)

    mac = payload[_MAC]
    if mac == b"\xff" * 6:
        unavailable["mac"] = "mac: the tag sent the not-available marker ffffffffffff"
    else:
        values["mac"] = ":".join(f"{byte:02X}" for byte in mac)

    sequence = values.get("measurement_sequence")
    return DecodedAdvert(
        values=values,
        unavailable=unavailable,
        sequence=int(sequence) if isinstance(sequence, Decimal) else None,
    )


class RuuviDecoder:
    """Decodes one RuuviTag's advertisements; drops repeats of a measurement.

    A tag advertises each measurement several times with the same measurement
    sequence number; the first is taken, the repeats within ``repeat_window_s``
    are dropped.
    """

    def __init__(
        self, *, address: str, dedupe: bool = True, repeat_window_s: float = 10.0
    ) -> None:
        self._address = address.upper()
        self._dedupe = dedupe
        self._repeats = RepeatFilter(repeat_window_s)

    def decode(
        self, device: BLEDevice, advertisement: AdvertisementData, now: float
    ) -> DecodedAdvert:
        payload = advertisement.manufacturer_data.get(RUUVI_COMPANY_ID)
        if payload is None:
            raise BadAdvertisement(
                RejectReason.NO_PAYLOAD, "no Ruuvi manufacturer data (company 0x0499)"
            )
        decoded = decode_df5(payload)
        mac = decoded.values.get("mac")
        if mac is not None and mac != self._address:
            raise BadAdvertisement(
                RejectReason.MAC_MISMATCH,
                f"payload carries MAC {mac}, but the advertisement came from "
                f"{self._address}",
            )

        key: tuple[str, int | bytes] = (
            ("sequence", decoded.sequence)
            if decoded.sequence is not None
            else ("frame", payload)
        )
        if self._dedupe and self._repeats.is_repeat(key, now):
            raise BadAdvertisement(
                RejectReason.DUPLICATE,
                f"repeat of measurement sequence {decoded.sequence}"
                if decoded.sequence is not None
                else f"repeat of the last frame {payload.hex()}",
            )
        self._repeats.taken(key, now)
        return decoded
