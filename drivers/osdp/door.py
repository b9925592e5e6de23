"""What a door contact means, given when the gateway last unlocked the door.

Pure and clock-driven: the bus feeds contact changes and the time, and publishes
what comes back. Times are monotonic seconds from the bus's clock.

- Opened while the lock was released by us (an accepted unlock, plus a grace for
  the relay and the contact report to travel): an authorised opening.
- Opened otherwise: ``door_forced``.
- An authorised opening that stays open longer than ``held_open_s``, counted from
  the moment it opened: ``door_held_open``, once per opening.
- The first contact report after the bus starts is a baseline: it says how the door
  is, not that it changed, so it raises neither alarm. The state is kept while a
  reader is offline: a door found open on reconnect without an unlock is forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNLOCK_GRACE_S = 1.0
"""The reader starts its relay timer when the command arrives and reports the contact
one poll later; an opening this close after the unlock window is still ours."""


@dataclass(frozen=True, slots=True)
class DoorChange:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Door:
    held_open_s: float
    is_open: bool | None = None
    unlocked_until: float | None = None
    opened_at: float | None = None
    authorised: bool = False
    held_reported: bool = False

    def grant(self, now: float, seconds: float) -> float | None:
        """Record an unlock for ``seconds``; returns the previous window for
        ``revoke`` should the command fail."""
        previous = self.unlocked_until
        self.unlocked_until = now + seconds
        return previous

    def revoke(self, previous: float | None) -> None:
        self.unlocked_until = previous

    def is_unlocked(self, now: float) -> bool:
        return self.unlocked_until is not None and now <= self.unlocked_until + (
            UNLOCK_GRACE_S
        )

    def contact(self, is_open: bool, now: float) -> list[DoorChange]:
        if self.is_open is None:
            return self._baseline(is_open, now)
        if is_open == self.is_open:
            return []
        self.is_open = is_open
        if is_open:
            return self._opened(now)
        return self._closed(now)

    def tick(self, now: float) -> list[DoorChange]:
        if not (self.is_open and self.authorised) or self.held_reported:
            return []
        assert self.opened_at is not None
        open_s = now - self.opened_at
        if open_s <= self.held_open_s:
            return []
        self.held_reported = True
        data = {"open_s": round(open_s, 3), "held_open_s": self.held_open_s}
        return [DoorChange("door_held_open", data)]

    def _baseline(self, is_open: bool, now: float) -> list[DoorChange]:
        self.is_open = is_open
        if not is_open:
            return [DoorChange("door_closed", {"initial": True})]
        # An opening we did not see start: no alarm, and no held-open timing.
        self.opened_at = now
        self.authorised = False
        return [DoorChange("door_opened", {"initial": True, "authorised": False})]

    def _opened(self, now: float) -> list[DoorChange]:
        self.opened_at = now
        self.authorised = self.is_unlocked(now)
        self.held_reported = False
        opened = DoorChange(
            "door_opened", {"initial": False, "authorised": self.authorised}
        )
        if self.authorised:
            return [opened]
        return [opened, DoorChange("door_forced")]

    def _closed(self, now: float) -> list[DoorChange]:
        open_s = None if self.opened_at is None else round(now - self.opened_at, 3)
        self.opened_at = None
        self.authorised = False
        self.held_reported = False
        return [DoorChange("door_closed", {"initial": False, "open_s": open_s})]
