"""Faults a simulated Modbus device can be told to have, now or later.

Every fault is kept as a window or a count on the device's monotonic clock and looked
at when a request arrives, so a scenario's "silent from 60 s for 20 s" and a test's
"reply late once" are the same mechanism, and a ``ManualClock`` drives both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sim.clock import Clock
from sim.modbus.profile import Table

_NS = 1_000_000_000


@dataclass(slots=True)
class _Window:
    start_ns: int
    end_ns: int | None

    def covers(self, now_ns: int) -> bool:
        return self.start_ns <= now_ns and (self.end_ns is None or now_ns < self.end_ns)


@dataclass(slots=True)
class _Countdown:
    """A fault for ``remaining`` requests (None: for ever) from ``start_ns`` on."""

    start_ns: int
    remaining: int | None
    delay_s: float = 0.0

    def take(self, now_ns: int) -> bool:
        if now_ns < self.start_ns or self.remaining == 0:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class DeviceFaults:
    """The fault state of one device. ``after_s`` delays a fault from the call."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._refused: dict[Table, set[int]] = {table: set() for table in Table}
        self._silent: list[_Window] = []
        self._late: list[_Countdown] = []
        self._bad_crc: list[_Countdown] = []
        self._glitches: list[tuple[int, str]] = []
        self._events: list[tuple[int, Callable[[], None]]] = []

    def refuse(self, table: Table, addresses: Iterable[int]) -> None:
        """Answer exception 2 to any request touching ``addresses`` of ``table``."""
        self._refused[table].update(addresses)

    def go_silent(self, duration_s: float | None = None, *, after_s: float = 0) -> None:
        """No reply at all, as a dead meter, for ``duration_s`` (None: for ever)."""
        start = self._at(after_s)
        end = None if duration_s is None else start + round(duration_s * _NS)
        self._silent.append(_Window(start, end))

    def reply_late(
        self, delay_s: float, *, count: int | None = 1, after_s: float = 0
    ) -> None:
        """Hold the next ``count`` replies (None: every reply) back by ``delay_s``."""
        self._late.append(_Countdown(self._at(after_s), count, delay_s))

    def corrupt_crc(self, count: int | None = 1, *, after_s: float = 0) -> None:
        """Send the next ``count`` RTU replies with a wrong CRC."""
        self._bad_crc.append(_Countdown(self._at(after_s), count))

    def zero_glitch(self, point: str, *, after_s: float = 0) -> None:
        """Serve ``point`` as all-zero registers in the next read that covers it."""
        self._glitches.append((self._at(after_s), point))

    def schedule(self, action: Callable[[], None], *, after_s: float = 0) -> None:
        """Run ``action`` on the device state once its time has come."""
        self._events.append((self._at(after_s), action))

    def clear(self) -> None:
        """Forget every fault, pending or active."""
        for addresses in self._refused.values():
            addresses.clear()
        self._silent.clear()
        self._late.clear()
        self._bad_crc.clear()
        self._glitches.clear()
        self._events.clear()

    # --- what the device asks ----------------------------------------------------

    def refused(self, table: Table, start: int, count: int) -> bool:
        refused = self._refused[table]
        return bool(refused) and any(a in refused for a in range(start, start + count))

    def silent(self, now_ns: int) -> bool:
        return any(window.covers(now_ns) for window in self._silent)

    def take_delay(self, now_ns: int) -> float:
        return sum(rule.delay_s for rule in self._late if rule.take(now_ns))

    def take_bad_crc(self, now_ns: int) -> bool:
        return any([rule.take(now_ns) for rule in self._bad_crc])  # noqa: C419 - take them all

    def take_glitches(self, now_ns: int, points: Iterable[str]) -> set[str]:
        wanted = set(points)
        due = {
            name for start, name in self._glitches if start <= now_ns and name in wanted
        }
        self._glitches = [
            (start, name)
            for start, name in self._glitches
            if not (start <= now_ns and name in due)
        ]
        return due

    def take_events(self, now_ns: int) -> list[Callable[[], None]]:
        due = [action for start, action in self._events if start <= now_ns]
        self._events = [(start, a) for start, a in self._events if start > now_ns]
        return due

    def _at(self, after_s: float) -> int:
        if after_s < 0:
            raise ValueError(f"after_s must not be negative, not {after_s}")
        return self._clock.monotonic_ns() + round(after_s * _NS)
