"""SLA clocks: when a response or resolution is due, in wall time or business hours.

A target is a duration on a clock. The wall clock runs always; a business calendar
runs Monday to Friday between two times of day in the property's time zone, so an
urgent leak reported on Friday at 17:00 with a 4-hour target is due Monday at 11:00.
Pauses (a work order on hold for the tenant) move every due time on by the time the
same clock ran while paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.models import Urgency

# (respond, resolve) in minutes, when a property sets no target of its own.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    Urgency.EMERGENCY: (30, 4 * 60),
    Urgency.URGENT: (4 * 60, 24 * 60),
    Urgency.NORMAL: (24 * 60, 5 * 24 * 60),
    Urgency.LOW: (3 * 24 * 60, 14 * 24 * 60),
}
DEFAULT_WARN_MINUTES = 15
WORKDAYS = frozenset(range(5))  # Monday to Friday


@dataclass(frozen=True)
class Calendar:
    """Business hours: ``day_starts`` to ``day_ends`` minutes after local midnight
    on workdays; ``None`` as a calendar means the wall clock."""

    timezone: str = "UTC"
    day_starts: int = 8 * 60
    day_ends: int = 18 * 60

    def _day_bounds(self, local: datetime) -> tuple[datetime, datetime]:
        midnight = datetime.combine(local.date(), time(), tzinfo=local.tzinfo)
        return (
            midnight + timedelta(minutes=self.day_starts),
            midnight + timedelta(minutes=self.day_ends),
        )


def add_time(start: datetime, minutes: int, calendar: Calendar | None) -> datetime:
    """``start`` plus ``minutes`` of the calendar's running time."""
    if calendar is None:
        return start + timedelta(minutes=minutes)
    zone = ZoneInfo(calendar.timezone)
    cursor = start.astimezone(zone)
    left = timedelta(minutes=minutes)
    while True:
        opens, closes = calendar._day_bounds(cursor)
        if cursor.weekday() in WORKDAYS and cursor < closes:
            cursor = max(cursor, opens)
            if cursor + left <= closes:
                return (cursor + left).astimezone(UTC)
            left -= closes - cursor
        next_day = cursor.date() + timedelta(days=1)
        cursor = datetime.combine(next_day, time(), tzinfo=zone)


def running_between(
    start: datetime, end: datetime, calendar: Calendar | None
) -> timedelta:
    """How long the calendar's clock ran from ``start`` to ``end``."""
    if end <= start:
        return timedelta(0)
    if calendar is None:
        return end - start
    zone = ZoneInfo(calendar.timezone)
    cursor, stop = start.astimezone(zone), end.astimezone(zone)
    total = timedelta(0)
    while cursor < stop:
        opens, closes = calendar._day_bounds(cursor)
        if cursor.weekday() in WORKDAYS:
            total += max(timedelta(0), min(closes, stop) - max(opens, cursor))
        cursor = datetime.combine(cursor.date() + timedelta(days=1), time(), zone)
    return total
