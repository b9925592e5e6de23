"""A gateway without a real-time clock: early readings are flagged."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.clock import WallClockGuard


class Clocks:
    """A wall clock and a monotonic clock the test sets by hand."""

    def __init__(self, wall: datetime) -> None:
        self.wall_ns = int(wall.timestamp() * 1e9)
        self.mono_ns = 5_000_000_000

    def advance(self, seconds: float) -> None:
        self.wall_ns += int(seconds * 1e9)
        self.mono_ns += int(seconds * 1e9)

    def set_wall(self, wall: datetime) -> None:
        self.wall_ns = int(wall.timestamp() * 1e9)

    def guard(self) -> WallClockGuard:
        return WallClockGuard(
            wall_ns=lambda: self.wall_ns, mono_ns=lambda: self.mono_ns
        )


def test_a_clock_from_before_the_software_existed_is_not_trusted() -> None:
    clocks = Clocks(datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC))  # a Pi with no RTC
    guard = clocks.guard()

    sample = guard.sample()

    assert sample.trusted is False
    assert sample.mono_ns == 5_000_000_000


def test_the_clock_is_trusted_once_ntp_sets_it_forward() -> None:
    clocks = Clocks(datetime(1970, 1, 1, tzinfo=UTC))
    guard = clocks.guard()
    assert guard.sample().trusted is False

    clocks.set_wall(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    clocks.advance(1)

    assert guard.sample().trusted is True


def test_a_backward_jump_flags_readings_until_the_clock_is_confirmed() -> None:
    clocks = Clocks(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    guard = clocks.guard()
    assert guard.sample().trusted is True

    clocks.advance(10)
    clocks.set_wall(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # two days back
    flagged = guard.sample()
    clocks.advance(10)
    still = guard.sample()
    guard.trust()
    clocks.advance(1)
    after = guard.sample()

    assert (flagged.trusted, still.trusted, after.trusted) == (False, False, True)


def test_small_steps_and_slews_are_not_jumps() -> None:
    clocks = Clocks(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    guard = clocks.guard()
    guard.sample()

    clocks.advance(5)
    clocks.wall_ns -= 500_000_000  # NTP steps back half a second

    assert guard.sample().trusted is True
