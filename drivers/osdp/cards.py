"""Card and keypad data from OSDP readers, decoded into event data.

A reader reports a card as ``osdp_RAW``: a format code, a bit count and the bits
packed most significant first into ``ceil(bits / 8)`` bytes. Which bits mean what is
not in the frame; it depends on the card format, so the formats are a table here and
a profile names the ones to interpret. A card whose parity does not check out is
still reported (with ``parity_ok`` false): a door controller decides what to do
with it, the driver does not hide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drivers.osdp.errors import ReaderDataError

RAW_FORMATS: Mapping[int, str] = {0: "raw", 1: "wiegand"}
"""``osdp_RAW`` format codes: 0 unspecified bit array, 1 Wiegand (P/data/P)."""

KEYPAD_KEYS: Mapping[int, str] = {
    **{0x30 + digit: str(digit) for digit in range(10)},
    0x7F: "*",
    0x0D: "#",
}
"""``osdp_KEYPAD`` key codes: ASCII digits, and ``*`` and ``#`` as 0x7F and 0x0D."""


@dataclass(frozen=True, slots=True)
class ParityBit:
    """One parity bit: its position and the data bits it covers (positions from 0,
    the first bit on the wire)."""

    position: int
    first: int
    last: int
    odd: bool

    def holds(self, bits: str) -> bool:
        ones = bits[self.first : self.last + 1].count("1") + int(bits[self.position])
        return ones % 2 == (1 if self.odd else 0)


@dataclass(frozen=True, slots=True)
class WiegandFormat:
    """A card format: its length, its fields as (first bit, length), its parity."""

    name: str
    bits: int
    fields: Mapping[str, tuple[int, int]]
    parity: tuple[ParityBit, ...]


WIEGAND_FORMATS: Mapping[str, WiegandFormat] = {
    "h10301": WiegandFormat(
        name="h10301",
        bits=26,
        fields={"facility": (1, 8), "card": (9, 16)},
        parity=(
            ParityBit(position=0, first=1, last=12, odd=False),
            ParityBit(position=25, first=13, last=24, odd=True),
        ),
    ),
}
"""Formats the driver can interpret, by the name a profile uses."""


def decode_card(
    format_code: int, bit_count: int, data: bytes, formats: Iterable[str] = ()
) -> dict[str, Any]:
    """Event data for one card read.

    Always ``format``, ``bits`` and ``hex``; for Wiegand data whose length matches
    one of ``formats``, also ``card_format``, its fields and ``parity_ok``.
    Raises ``ReaderDataError`` for data that is inconsistent in itself.
    """
    format_name = RAW_FORMATS.get(format_code)
    if format_name is None:
        raise ReaderDataError(
            "card_format_unknown", f"card data format code {format_code} is unknown"
        )
    if bit_count <= 0:
        raise ReaderDataError("card_data_invalid", f"card read with {bit_count} bits")
    needed = (bit_count + 7) // 8
    if len(data) != needed:
        raise ReaderDataError(
            "card_data_invalid",
            f"{bit_count} card bits need {needed} data bytes, got {len(data)}",
        )

    decoded: dict[str, Any] = {
        "format": format_name,
        "bits": bit_count,
        "hex": data.hex(),
    }
    if format_name != "wiegand":
        return decoded
    for name in formats:
        card_format = WIEGAND_FORMATS[name]
        if card_format.bits == bit_count:
            decoded.update(interpret(card_format, bit_string(bit_count, data)))
            break
    return decoded


def bit_string(bit_count: int, data: bytes) -> str:
    """The first ``bit_count`` bits of ``data`` as text, first bit on the wire first."""
    value = int.from_bytes(data, "big") >> (len(data) * 8 - bit_count)
    return format(value, f"0{bit_count}b")


def interpret(card_format: WiegandFormat, bits: str) -> dict[str, Any]:
    fields = {
        name: int(bits[first : first + length], 2)
        for name, (first, length) in card_format.fields.items()
    }
    parity_ok = all(parity.holds(bits) for parity in card_format.parity)
    return {"card_format": card_format.name, **fields, "parity_ok": parity_ok}


def decode_keypad(data: bytes) -> str:
    """The keys pressed, as text; raises ``ReaderDataError`` on an unknown key code."""
    if not data:
        raise ReaderDataError("keypad_data_invalid", "keypad report without keys")
    keys = []
    for code in data:
        key = KEYPAD_KEYS.get(code)
        if key is None:
            raise ReaderDataError(
                "keypad_key_unknown", f"keypad key code 0x{code:02x} is unknown"
            )
        keys.append(key)
    return "".join(keys)
