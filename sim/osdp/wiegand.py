"""Card and keypad data as a reader puts them on the wire, written independently of
the gateway's decoder so that a decoding mistake there shows up in tests.

HID H10301 (26 bits): even parity, 8-bit facility code, 16-bit card number, odd
parity. The first parity bit makes bits 0..12 even, the last makes bits 13..25 odd.
The bits go out most significant first, padded with zeros to whole bytes.
"""

from __future__ import annotations

H10301_BITS = 26
KEY_CODES = {**{str(digit): 0x30 + digit for digit in range(10)}, "*": 0x7F, "#": 0x0D}


def encode_h10301(facility: int, card: int) -> tuple[int, bytes]:
    """(bit count, data bytes) of an H10301 card with correct parity."""
    if not 0 <= facility <= 0xFF:
        raise ValueError(f"H10301 facility code {facility} is not within 0..255")
    if not 0 <= card <= 0xFFFF:
        raise ValueError(f"H10301 card number {card} is not within 0..65535")
    payload = f"{facility:08b}{card:016b}"
    leading = payload[:12].count("1") % 2  # makes the first half even
    trailing = 1 - payload[12:].count("1") % 2  # makes the second half odd
    return H10301_BITS, pack_bits(f"{leading}{payload}{trailing}")


def pack_bits(bits: str) -> bytes:
    """Bits written as text, first bit on the wire first, packed into whole bytes."""
    if not bits or set(bits) - {"0", "1"}:
        raise ValueError(f"{bits!r} is not a string of bits")
    padded = bits + "0" * (-len(bits) % 8)
    return int(padded, 2).to_bytes(len(padded) // 8, "big")


def encode_keys(keys: str) -> bytes:
    """Keypad presses as OSDP key codes: digits in ASCII, ``*`` 0x7F, ``#`` 0x0D."""
    try:
        return bytes(KEY_CODES[key] for key in keys)
    except KeyError as exc:
        raise ValueError(f"keypad key {exc.args[0]!r} does not exist") from None
