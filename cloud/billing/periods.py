"""Spans of time the engine bills over.

Two kinds, because the business has two: usage is measured between instants
(``Period``: aware datetimes, half-open ``[start, end)``), while leases, rent and
due dates are calendar days (``DateSpan``: both ends inclusive, as a contract
says "1 March to 31 March"). ``day_start`` turns a calendar day into the instant
it begins in the property's time zone, which is where the two meet.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.billing.errors import PeriodError

DEFAULT_TIMEZONE = "Asia/Shanghai"
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, cached (tariffs ask for it per interval)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"time zone {name!r} is not a known IANA zone") from exc


def require_aware(value: datetime, what: str) -> datetime:
    """``value`` if it carries a UTC offset; a naive time is ambiguous by hours."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise PeriodError(f"{what} {value!r} must be a timezone-aware datetime")
    return value


def day_start(day: date, timezone: str) -> datetime:
    """The instant ``day`` begins in ``timezone`` (local midnight)."""
    return datetime.combine(day, time(0), tzinfo=zone(timezone))


def time_fraction(part_start: datetime, part_end: datetime, whole: Period) -> Fraction:
    """The exact share of ``whole`` that ``[part_start, part_end)`` covers, from
    integer microseconds (``total_seconds()`` is a float and is not used)."""
    return Fraction(
        (part_end - part_start) // _MICROSECOND,
        (whole.end - whole.start) // _MICROSECOND,
    )


@dataclass(frozen=True, slots=True)
class Period:
    """Half-open ``[start, end)`` between two aware instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self.start, "period start")
        require_aware(self.end, "period end")
        if self.end <= self.start:
            raise PeriodError(f"period end {self.end} is not after start {self.start}")

    @classmethod
    def month(cls, year: int, month: int, timezone: str = DEFAULT_TIMEZONE) -> Period:
        """The calendar month in local time, e.g. 2026-03-01T00:00+08:00 to April."""
        first = date(year, month, 1)
        return cls(
            day_start(first, timezone), day_start(add_months(first, 1), timezone)
        )

    @classmethod
    def of_days(cls, span: DateSpan, timezone: str = DEFAULT_TIMEZONE) -> Period:
        """The instants covered by the calendar days of ``span`` in ``timezone``."""
        return cls(
            day_start(span.first, timezone),
            day_start(span.last + timedelta(days=1), timezone),
        )

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class DateSpan:
    """Calendar days ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(f"span ends {self.last} before it starts {self.first}")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def overlap(self, other: DateSpan) -> DateSpan | None:
        first, last = max(self.first, other.first), min(self.last, other.last)
        return DateSpan(first, last) if first <= last else None

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month end (31 Jan + 1 → 28 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))
