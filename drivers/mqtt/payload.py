"""Turning MQTT payload bytes into Python values, tolerating what real firmware sends.

Tasmota publishes a failed sensor as a bare ``nan`` (``{"Temperature":nan}``), which is
not JSON; a strict parser throws the whole message away, good sensors included. Here
the non-numbers become ``NotANumber`` markers so the decoder can mark that one value
unavailable and keep the rest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class PayloadError(ValueError):
    """A payload that cannot be read at all; the message says why."""


class BadValueError(ValueError):
    """One value in a payload that cannot be what its point needs."""


@dataclass(frozen=True, slots=True)
class NotANumber:
    """A bare ``nan``, ``inf`` or ``-inf`` where a number should be."""

    token: str

    def __str__(self) -> str:
        return self.token


# A JSON string literal (skipped, so that "nan" inside text stays text), or a bare
# non-number word outside strings.
_NON_NUMBER = re.compile(
    r'"(?:[^"\\]|\\.)*"|(?<![\w.])([+-]?)(nan|inf(?:inity)?)(?![\w.])',
    re.IGNORECASE,
)


def _normalise(found: re.Match[str]) -> str:
    word = found.group(2)
    if word is None:
        return found.group(0)
    if word.lower() == "nan":
        return "NaN"
    return "-Infinity" if found.group(1) == "-" else "Infinity"


def parse_json(text: str) -> Any:
    """Parse JSON with exact decimals; bare nan/inf become ``NotANumber``."""
    prepared = _NON_NUMBER.sub(_normalise, text)
    try:
        return json.loads(
            prepared,
            parse_float=Decimal,
            parse_constant=NotANumber,
        )
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise PayloadError("payload JSON is nested too deeply") from exc


def payload_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"payload is not UTF-8 text (byte 0x{payload[exc.start]:02x} at "
            f"position {exc.start})"
        ) from exc


_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})


def as_bool(raw: object) -> bool:
    """A boolean from JSON ``true``, the strings ``"true"``/``"ON"``, or 0/1."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise BadValueError(f"{_show(raw)} is not a boolean")


def as_number(raw: object) -> Decimal:
    """An exact number from a JSON number or a numeric string (``"100.00"``)."""
    if isinstance(raw, NotANumber):
        raise BadValueError(f"{raw.token} is not a number")
    if isinstance(raw, bool):
        raise BadValueError(f"{_show(raw)} is a boolean, not a number")
    if isinstance(raw, int | Decimal):
        return Decimal(raw)
    if isinstance(raw, str):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            raise BadValueError(f"{_show(raw)} is not a number") from None
        if number.is_finite():
            return number
    raise BadValueError(f"{_show(raw)} is not a number")


def _show(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, dict | list):
        return f"a JSON {'object' if isinstance(raw, dict) else 'list'}"
    text = repr(raw) if isinstance(raw, str) else str(raw)
    return text if len(text) <= 40 else text[:37] + "..."
