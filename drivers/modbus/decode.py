"""Register words to readings and values back to words, driven by the profile.

Everything here is pure: a point's type, byte order, scale, offset, "no value" markers,
range and states are data, so one function decodes every device. Integer values are
scaled with exact decimal arithmetic (a 64-bit Wh counter times 0.001 is exactly the
kWh the meter meant); a float32 becomes the shortest decimal that reads back as the
same float32, so 230.2 V is ``Decimal('230.2')`` and not 230.1999969482421875.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Context, Decimal, Inexact, localcontext

from drivers.modbus.profile import ByteOrder, DataType, ModbusPoint
from drivers.types import Quality, Reading

# Wide enough that value × scale + offset is exact for any 64-bit integer or
# float64 mantissa; Inexact is trapped so an inexact result could never pass quietly.
_EXACT = Context(prec=120, traps=[Inexact])
_WIDE = Context(prec=200)  # holds any float32 exactly, denormals included


def words_to_bytes(words: Sequence[int], order: ByteOrder) -> bytes:
    """The value's bytes, most significant first, from words as they came in."""
    for word in words:
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"register word {word!r} is not a 16-bit value")
    ordered = list(reversed(words)) if order.swaps_words else list(words)
    if order.swaps_bytes:
        ordered = [_swap_bytes(word) for word in ordered]
    return b"".join(word.to_bytes(2, "big") for word in ordered)


def bytes_to_words(data: bytes, order: ByteOrder) -> list[int]:
    """The words to put on the wire for a value's bytes (most significant first)."""
    if len(data) % 2:
        raise ValueError(f"{len(data)} bytes do not fill whole registers")
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if order.swaps_bytes:
        words = [_swap_bytes(word) for word in words]
    return list(reversed(words)) if order.swaps_words else words


def _swap_bytes(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def raw_value(point: ModbusPoint, words: Sequence[int]) -> int | float:
    """The number the registers hold, before masks' meaning, scale and offset."""
    if len(words) != point.registers:
        raise ValueError(
            f"point {point.name!r} takes {point.registers} registers, got {len(words)}"
        )
    data = words_to_bytes(words, point.order)
    if point.type is DataType.FLOAT32:
        return float(struct.unpack(">f", data)[0])
    if point.type is DataType.FLOAT64:
        return float(struct.unpack(">d", data)[0])
    number = int.from_bytes(data, "big", signed=point.type.is_signed)
    if point.mask is not None:
        number = (number & point.mask) >> _shift(point.mask)
    return number


def _shift(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


def float32_to_decimal(value: float) -> Decimal:
    """The shortest decimal that converts back to the same float32.

    For each number of significant digits, the correctly rounded decimal and its two
    neighbours are tried: at a power of two the float's rounding interval is lopsided
    and the shortest decimal inside it can be a neighbour. Of those that convert
    back, the one nearest the float wins.
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no decimal form")
    target = struct.pack(">f", value)
    exact = Decimal(value)
    for digits in range(1, 10):
        rounded = Decimal(f"{value:.{digits}g}")
        step = Decimal(1).scaleb(rounded.adjusted() - digits + 1)
        fits = [
            candidate
            for candidate in (rounded, rounded - step, rounded + step)
            if _packs_to(candidate, target)
        ]
        if fits:
            with localcontext(_WIDE):
                best = min(fits, key=lambda candidate: abs(candidate - exact))
            return Decimal(format(best, "f"))
    raise AssertionError("nine significant digits always round-trip a float32")


def _packs_to(candidate: Decimal, target: bytes) -> bool:
    try:
        return struct.pack(">f", float(candidate)) == target
    except OverflowError:  # a neighbour of the largest float32
        return False


def float64_to_decimal(value: float) -> Decimal:
    """The shortest decimal that converts back to the same float64 (Python's repr)."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no decimal form")
    return Decimal(repr(value))


def decode_point(
    device_id: str, point: ModbusPoint, raw: Sequence[int] | Sequence[bool]
) -> Reading:
    """A reading from the registers (or, for bool points, the one bit) of a point."""
    if point.type is DataType.BOOL:
        return _decode_bit(device_id, point, bool(raw[0]))
    number = raw_value(point, [int(word) for word in raw])

    def unavailable(reason: str) -> Reading:
        return Reading(
            device_id,
            point.name,
            None,
            point.unit,
            Quality.UNAVAILABLE,
            f"{point.name}: {reason}",
        )

    if isinstance(number, float) and math.isnan(number):
        return unavailable("the register holds NaN (no value)")
    if isinstance(number, float) and math.isinf(number):
        return unavailable(f"the register holds {number} (no value)")
    if number in point.no_value:
        return unavailable(f"raw value {number} is the profile's 'no value' marker")
    if point.states:
        return _decode_state(device_id, point, int(number))

    exact = (
        Decimal(number)
        if isinstance(number, int)
        else float32_to_decimal(number)
        if point.type is DataType.FLOAT32
        else float64_to_decimal(number)
    )
    with localcontext(_EXACT):
        value = exact * point.scale + point.offset
    return _range_checked(device_id, point, value)


def _decode_bit(device_id: str, point: ModbusPoint, bit: bool) -> Reading:
    if point.states:
        return _decode_state(device_id, point, int(bit))
    return Reading(device_id, point.name, bit, point.unit)


def _decode_state(device_id: str, point: ModbusPoint, raw: int) -> Reading:
    text = point.state_text(raw)
    if text is None:
        known = ", ".join(f"{value}={name}" for value, name in point.states)
        return Reading(
            device_id,
            point.name,
            None,
            point.unit,
            Quality.OUT_OF_RANGE,
            f"{point.name}: raw value {raw} ({raw:#x}) is none of the known states "
            f"({known})",
        )
    return Reading(device_id, point.name, text, point.unit)


def _range_checked(device_id: str, point: ModbusPoint, value: Decimal) -> Reading:
    if point.valid_range is not None:
        low, high = point.valid_range
        if not low <= value <= high:
            unit = f" {point.unit}" if point.unit else ""
            return Reading(
                device_id,
                point.name,
                value,
                point.unit,
                Quality.OUT_OF_RANGE,
                f"{point.name}: {value}{unit} is outside the plausible range "
                f"[{low}, {high}]",
            )
    return Reading(device_id, point.name, value, point.unit)


def encode_point(point: ModbusPoint, value: object) -> list[int] | bool:
    """The words (or the bit) that write ``value`` to ``point``; the inverse of decode.

    State points take their state text ("closed") or a raw value listed in their
    states. Numbers are unscaled exactly; a value the type cannot hold is refused.
    Raises ``ValueError`` (``TypeError`` for a value of the wrong kind) naming the
    point and the value.
    """
    if isinstance(value, str) and point.states:
        raw = point.state_raw(value)
        if raw is None:
            known = ", ".join(name for _, name in point.states)
            raise ValueError(
                f"point {point.name!r} has no state {value!r}; states are {known}"
            )
        return _encode_raw(point, raw)
    if point.type is DataType.BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"point {point.name!r} takes true or false, not {value!r}")
        return value
    if point.states:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"point {point.name!r} takes a state name, not {value!r}")
        if point.state_text(value) is None:
            raise ValueError(
                f"point {point.name!r} has no state with raw value {value}"
            )
        return _encode_raw(point, value)
    return _encode_raw(point, _unscaled(point, value))


def _encode_raw(point: ModbusPoint, raw: int | float | bool) -> list[int] | bool:
    if point.type is DataType.BOOL:
        return bool(raw)
    if point.type.is_float:
        if not math.isfinite(raw):
            raise ValueError(f"point {point.name!r} cannot be set to {raw!r}")
        layout = ">f" if point.type is DataType.FLOAT32 else ">d"
        try:
            data = struct.pack(layout, raw)
        except OverflowError:
            raise ValueError(
                f"{raw!r} does not fit the {point.type} point {point.name!r}"
            ) from None
        return bytes_to_words(data, point.order)
    number = int(raw)
    if point.mask is not None:
        limit = point.mask >> _shift(point.mask)
        if not 0 <= number <= limit:
            raise ValueError(
                f"{number} does not fit the bits {point.mask:#06x} of {point.name!r}"
            )
        number <<= _shift(point.mask)
    low, high = point.type.integer_bounds
    if not low <= number <= high:
        raise ValueError(
            f"{number} is outside the {point.type} range [{low}, {high}] of "
            f"point {point.name!r}"
        )
    data = number.to_bytes(2 * point.registers, "big", signed=point.type.is_signed)
    return bytes_to_words(data, point.order)


def _unscaled(point: ModbusPoint, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"point {point.name!r} takes a number, not {value!r}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"point {point.name!r} cannot be set to {value!r}")
    with localcontext(Context(prec=120)):
        raw = (number - point.offset) / point.scale
    if point.type.is_float:
        return float(raw)
    if raw != raw.to_integral_value():
        raise ValueError(
            f"{value} is not a whole number of steps of {point.scale} for the "
            f"{point.type} point {point.name!r}"
        )
    return int(raw)
