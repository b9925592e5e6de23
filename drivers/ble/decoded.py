"""What a format decoder hands the connector for one accepted advertisement."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from drivers.types import Value


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """A device event as the format names it: ``button`` / ``long_press``."""

    source: str  # "button", "button_2", "dimmer"
    event: str  # "press", "long_press", "rotate_left" ...
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecodedAdvert:
    """Values keyed by decoder source name, before the profile maps them to points.

    ``unavailable`` holds the sources the device marked "not available", each with
    the reason, so that the point reads as unavailable instead of silently missing.
    """

    values: dict[str, Value]
    unavailable: dict[str, str] = field(default_factory=dict)
    events: tuple[DecodedEvent, ...] = ()
    sequence: int | None = None  # BTHome packet id or Ruuvi measurement sequence


class RepeatFilter:
    """Recognises a packet that repeats the last one taken.

    The window slides: every repeat heard restarts it, so a beacon that re-sends its
    last packet every few seconds for minutes is still one packet, while a device
    that comes back after a long silence with the same key is heard again.
    """

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._key: Hashable | None = None
        self._seen_at: float | None = None

    def is_repeat(self, key: Hashable, now: float) -> bool:
        if self._seen_at is None or key != self._key:
            return False
        if now - self._seen_at > self._window_s:
            return False
        self._seen_at = now
        return True

    def taken(self, key: Hashable, now: float) -> None:
        self._key = key
        self._seen_at = now
