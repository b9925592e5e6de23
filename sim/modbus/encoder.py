"""Values to register words and back, driven by the profile point alone.

The profile says ``value = raw × scale + offset``; the simulator runs it backwards,
``raw = (value − offset) / scale``, in Decimal so that a 64-bit Wh counter stays exact.
Words are the 16-bit register values in wire order: the first word is the register at
the point's address, and each word goes on the wire high byte first.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation, localcontext

from sim.errors import EncodeError
from sim.modbus.profile import DataType, ModbusPoint

Number = Decimal | int | float | bool

# 40 digits hold any 64-bit raw value times any sensible scale without rounding.
_CONTEXT = Context(prec=40)
_FLOAT_FORMATS = {DataType.FLOAT32: ">f", DataType.FLOAT64: ">d"}


def encode(
    point: ModbusPoint,
    value: Number,
    *,
    rounding: str | None = None,
    wrap: bool = False,
) -> tuple[int, ...]:
    """The words ``point`` holds when its value is ``value``.

    For integer types, ``rounding`` (a ``decimal`` rounding mode) says how a value
    between two raw steps is stored; without it such a value is refused, so exact
    counters stay exact. ``wrap`` lets an integer counter roll over as a real register
    does instead of refusing a value past the type's end.
    """
    if point.table.is_bits or point.type is DataType.BOOL:
        return (1 if _truth(point, value) else 0,)
    if point.type.is_float:
        return _float_words(point, value)
    raw = to_raw(point, value, rounding=rounding)
    if point.mask is not None:
        return (_fit_mask(point, raw, wrap=wrap) << point.shift,)
    return _int_words(point, _fit(point, raw, wrap=wrap))


def decode(point: ModbusPoint, words: Sequence[int]) -> Decimal | bool:
    """The value ``words`` stand for; a float gives the shortest Decimal that
    round-trips to it."""
    if len(words) != point.registers:
        raise EncodeError(
            f"point {point.name} spans {point.registers} register(s), "
            f"got {len(words)} word(s)"
        )
    if point.table.is_bits or point.type is DataType.BOOL:
        return bool(words[0])
    data = _wire_to_big_endian(point, words)
    if point.mask is not None:
        masked = (int.from_bytes(data, "big") & point.mask) >> point.shift
        with localcontext(_CONTEXT):
            return Decimal(masked) * point.scale + point.offset
    if point.type.is_float:
        (number,) = struct.unpack(_FLOAT_FORMATS[point.type], data)
        raw = _float_decimal(number, point.type)
        if not raw.is_finite():
            return raw
    else:
        raw = Decimal(int.from_bytes(data, "big", signed=point.type.is_signed))
    with localcontext(_CONTEXT):
        return raw * point.scale + point.offset


def to_raw(point: ModbusPoint, value: Number, *, rounding: str | None = None) -> int:
    """The integer register value of ``value``, before it is fitted to the type."""
    with localcontext(_CONTEXT):
        try:
            exact = (_as_decimal(point, value) - point.offset) / point.scale
        except (InvalidOperation, ZeroDivisionError) as exc:
            raise EncodeError(
                f"point {point.name}: {value!r} cannot be scaled"
            ) from exc
        if not exact.is_finite():
            raise EncodeError(f"point {point.name}: {value!r} is not a finite number")
        whole = exact.to_integral_value(rounding=rounding or ROUND_FLOOR)
        if rounding is None and whole != exact:
            raise EncodeError(
                f"point {point.name}: {value} is not a whole number of raw steps "
                f"of {point.scale} (raw {exact})"
            )
        return int(whole)


def served(
    point: ModbusPoint,
    value: Number,
    *,
    rounding: str | None = None,
    wrap: bool = False,
) -> Decimal | bool:
    """What a correct decoder reads back when ``point`` is set to ``value``."""
    return decode(point, encode(point, value, rounding=rounding, wrap=wrap))


def words_to_bytes(words: Sequence[int]) -> bytes:
    """Register words as they go on the wire, high byte first."""
    return b"".join(word.to_bytes(2, "big") for word in words)


def bytes_to_words(data: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))


def _truth(point: ModbusPoint, value: Number) -> bool:
    if isinstance(value, float) and math.isnan(value):
        raise EncodeError(f"point {point.name}: NaN is not a bool")
    return bool(value)


def _as_decimal(point: ModbusPoint, value: Number) -> Decimal:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    raise EncodeError(f"point {point.name}: {value!r} is not a number")


def _float_words(point: ModbusPoint, value: Number) -> tuple[int, ...]:
    if isinstance(value, float) and not math.isfinite(value):
        number = value  # NaN and infinities are legal float register contents
    else:
        with localcontext(_CONTEXT):
            scaled = (_as_decimal(point, value) - point.offset) / point.scale
        number = float(scaled)
    try:
        data = struct.pack(_FLOAT_FORMATS[point.type], number)
    except OverflowError as exc:
        raise EncodeError(
            f"point {point.name}: {value} does not fit a {point.type}"
        ) from exc
    return _big_endian_to_wire(point, data)


def _fit(point: ModbusPoint, raw: int, *, wrap: bool) -> int:
    bits = point.type.bits
    low = -(1 << (bits - 1)) if point.type.is_signed else 0
    high = (1 << (bits - 1)) - 1 if point.type.is_signed else (1 << bits) - 1
    if low <= raw <= high:
        return raw
    if not wrap:
        raise EncodeError(
            f"point {point.name}: raw value {raw} does not fit a {point.type} "
            f"({low} to {high})"
        )
    wrapped = raw % (1 << bits)
    return wrapped - (1 << bits) if wrapped > high else wrapped


def _fit_mask(point: ModbusPoint, raw: int, *, wrap: bool) -> int:
    assert point.mask is not None
    high = point.mask >> point.shift
    if 0 <= raw <= high:
        return raw
    if not wrap:
        raise EncodeError(
            f"point {point.name}: raw value {raw} does not fit mask {point.mask:#06x}"
        )
    return raw % (high + 1)


def _int_words(point: ModbusPoint, raw: int) -> tuple[int, ...]:
    data = raw.to_bytes(point.type.bits // 8, "big", signed=point.type.is_signed)
    return _big_endian_to_wire(point, data)


def _big_endian_to_wire(point: ModbusPoint, data: bytes) -> tuple[int, ...]:
    chunks = [data[i : i + 2] for i in range(0, len(data), 2)]
    if point.order.swaps_words:
        chunks.reverse()
    if point.order.swaps_bytes:
        chunks = [chunk[::-1] for chunk in chunks]
    return tuple(int.from_bytes(chunk, "big") for chunk in chunks)


def _wire_to_big_endian(point: ModbusPoint, words: Sequence[int]) -> bytes:
    chunks = [word.to_bytes(2, "big") for word in words]
    if point.order.swaps_bytes:
        chunks = [chunk[::-1] for chunk in chunks]
    if point.order.swaps_words:
        chunks.reverse()
    return b"".join(chunks)


def _float_decimal(number: float, data_type: DataType) -> Decimal:
    if not math.isfinite(number):
        return Decimal(repr(number))
    if data_type is DataType.FLOAT64:
        return _plain(Decimal(repr(number)))
    for digits in range(1, 10):
        text = f"{number:.{digits}g}"
        if struct.unpack(">f", struct.pack(">f", float(text)))[0] == number:
            return _plain(Decimal(text))
    return _plain(Decimal(repr(number)))


def _plain(number: Decimal) -> Decimal:
    """230 rather than 2.3E+2, so values read the way the meter's display shows them."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return number.quantize(Decimal(1))
    return number
