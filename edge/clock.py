"""Wall clock and monotonic clock, and whether the wall clock can be trusted.

A Raspberry Pi has no real-time clock: it boots with the time fake-hwclock saved at the
last shutdown (or 1970) and jumps when NTP answers. Intervals therefore always come
from the monotonic clock, and every record keeps both its wall time and its monotonic
time within the current boot, so the cloud can re-date records taken before the wall
clock was trusted once it learns the true offset of that boot.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

# No reading can be older than the software that takes it.
EARLIEST_PLAUSIBLE = datetime(2026, 1, 1, tzinfo=UTC)
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class ClockSample:
    wall_us: int
    mono_ns: int
    trusted: bool


def current_boot_id() -> str:
    """The kernel's id for this boot (the monotonic clock's epoch), or a random one."""
    try:
        return BOOT_ID_PATH.read_text(encoding="ascii").strip()
    except OSError:
        return uuid.uuid4().hex


class WallClockGuard:
    """Samples both clocks and decides whether the wall clock is trusted.

    The wall clock is untrusted while it reads a time before ``EARLIEST_PLAUSIBLE``,
    and from the moment it jumps backwards (wall time minus monotonic time drops by
    more than ``jump_tolerance_s``) until ``trust()`` is called by whoever confirms the
    time (NTP sync state, or the cloud's clock in a sync answer).
    """

    def __init__(
        self,
        *,
        jump_tolerance_s: float = 2.0,
        wall_ns: Callable[[], int] = time.time_ns,
        mono_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._tolerance_us = int(jump_tolerance_s * 1_000_000)
        self._wall_ns = wall_ns
        self._mono_ns = mono_ns
        self._offset_us: int | None = None
        self._jumped = False

    def sample(self) -> ClockSample:
        wall_us = self._wall_ns() // 1000
        mono_ns = self._mono_ns()
        offset = wall_us - mono_ns // 1000
        if (
            self._offset_us is not None
            and offset < self._offset_us - self._tolerance_us
        ):
            if not self._jumped:
                logger.warning(
                    "wall clock jumped backwards by %.3f s; readings flagged untrusted",
                    (self._offset_us - offset) / 1e6,
                )
            self._jumped = True
        self._offset_us = offset
        plausible = wall_us >= int(EARLIEST_PLAUSIBLE.timestamp() * 1_000_000)
        return ClockSample(wall_us, mono_ns, plausible and not self._jumped)

    def distrust(self, reason: str) -> None:
        """The wall clock is known to be wrong; flag readings until ``trust()``."""
        if not self._jumped:
            logger.warning("wall clock distrusted: %s", reason)
        self._jumped = True

    def trust(self) -> None:
        """The current wall clock has been confirmed; trust it again from now on."""
        if self._jumped:
            logger.info("wall clock confirmed; readings trusted again")
        self._jumped = False
        self._offset_us = self._wall_ns() // 1000 - self._mono_ns() // 1000
