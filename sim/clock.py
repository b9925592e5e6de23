"""Where the simulator takes its time from.

Intervals (energy integration, fault windows) use the monotonic clock; the wall clock
only places the load curve in the day. Tests hand in a ``ManualClock`` and move it
instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int:
        """Nanoseconds on a clock that never goes back."""

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware UTC."""


class SystemClock:
    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._wall = start or datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        if self._wall.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._ns = 1_000_000_000

    def monotonic_ns(self) -> int:
        return self._ns

    def now(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        self.advance_ns(round(seconds * 1e9))

    def advance_ns(self, nanoseconds: int) -> None:
        self._ns += nanoseconds
        self._wall += timedelta(microseconds=nanoseconds / 1000)


SYSTEM_CLOCK = SystemClock()
