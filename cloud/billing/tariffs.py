"""Pricing metered usage: flat, tiered (阶梯), time-of-use, effective-dated.

Tiers are progressive (分段累进): each unit is priced at the tier its place in the
tier cycle falls in, so 5000 kWh on the Zhejiang annual tariff is
2760 × 0.538 + 2040 × 0.588 + 200 × 0.838. Tier room is counted over the tier
cycle (a month, or a year starting in a configurable month, in the tariff's time
zone): usage earlier in the cycle, passed as ``prior_cycle_usage``, has used room
up, and a cycle that starts inside a billing period starts counting from zero.

Tier boundaries: by default a boundary value belongs to the lower tier
(``BoundaryRule.INCLUSIVE_UPPER``: a tier covers ``(lower, upper]``), so 2760 kWh is
all tier 1 and 2760.5 kWh puts 0.5 kWh in tier 2. ``INCLUSIVE_LOWER`` makes the
boundary unit belong to the upper tier, counting in the tariff's
``counting_unit`` (1 m³, 1 kWh) as tariff texts do ("第三档 360 及以上"): unit number
360 is the quantity (359, 360], so the upper tier starts at 359. The rule can be set
per tier, which is what the Junlian water text needs if its "含360" is read the
other way (see the tests for both readings; the default gives 400 m³ = 702.00).

Time of use: the day is cut into bands (peak, flat, valley) by local time in the
tariff's zone. Each band has its tier-1 rate; a higher tier adds the difference
between its rate and the tier-1 rate (the "tier adder", +0.05 and +0.30 元 in
Zhejiang). Since every unit's price is band rate + adder of its tier, the bill is
the band lines plus one adder line per higher tier, and it does not depend on in
which band the tier threshold was crossed.

A price change inside a period splits it at the instant the new version takes
effect; usage is divided at that instant by the readings' time, and a delta between
two readings that straddles it is split pro rata by time (``UsageInterval``).
Usage before the change still uses up tier room of the cycle.

Window edges, cycle starts and version changes are local wall-clock times made
aware with ``zoneinfo``. China has no daylight saving; in a zone that has, a
repeated local time takes its first occurrence and a skipped one is shifted by
the gap, as ``zoneinfo`` does.

Amounts here are exact (``quantity × rate``); rounding happens on the invoice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from cloud.billing.consumption import ConsumptionSeries, UsageInterval, reading_ids_of
from cloud.billing.errors import TariffError
from cloud.billing.money import DEFAULT_CURRENCY, Money, exact_product, to_decimal
from cloud.billing.periods import (
    DEFAULT_TIMEZONE,
    Period,
    add_months,
    day_start,
    require_aware,
    zone,
)

_DAY_SECONDS = 86_400


class MeterKind(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"


class BoundaryRule(StrEnum):
    """To which tier a boundary value belongs (see the module docstring)."""

    INCLUSIVE_UPPER = "inclusive_upper"
    INCLUSIVE_LOWER = "inclusive_lower"


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier up to ``up_to`` (None: no upper limit) at ``rate`` per unit.

    ``boundary`` overrides the tariff's rule for this tier's upper limit.
    """

    up_to: Decimal | None
    rate: Decimal
    boundary: BoundaryRule | None = None

    def __post_init__(self) -> None:
        if self.up_to is not None:
            object.__setattr__(self, "up_to", to_decimal(self.up_to, "tier limit"))
        rate = to_decimal(self.rate, "tier rate")
        if rate < 0:
            raise TariffError(f"tier rate {rate} is negative")
        object.__setattr__(self, "rate", rate)


@dataclass(frozen=True, slots=True)
class TouWindow:
    """Local times ``start`` to ``end`` belong to ``band``.

    ``end`` at or before ``start`` runs past midnight (22:00–08:00); ``end``
    00:00 means midnight at the end of the day.
    """

    start: time
    end: time
    band: str


def _second_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


@dataclass(frozen=True, slots=True)
class TouSchedule:
    """Bands covering every local second of the day exactly once."""

    windows: tuple[TouWindow, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        pieces: list[tuple[int, int, str]] = []
        for window in self.windows:
            if window.start.tzinfo is not None or window.end.tzinfo is not None:
                raise TariffError(f"window {window} must use naive local times")
            start = _second_of_day(window.start)
            end = _second_of_day(window.end) or _DAY_SECONDS
            if end <= start:
                pieces += [(start, _DAY_SECONDS, window.band), (0, end, window.band)]
            else:
                pieces.append((start, end, window.band))
        pieces.sort()
        reached = 0
        for start, end, band in pieces:
            if start != reached:
                raise TariffError(
                    f"time-of-use windows leave a gap or overlap at second {reached} "
                    f"of the day (next window, {band}, starts at second {start})"
                )
            reached = end
        if reached != _DAY_SECONDS:
            raise TariffError(
                f"time-of-use windows end at second {reached}, not at midnight"
            )

    @property
    def bands(self) -> frozenset[str]:
        return frozenset(window.band for window in self.windows)

    def split(
        self, start: datetime, end: datetime, timezone: str
    ) -> list[tuple[datetime, datetime, str]]:
        """``[start, end)`` cut at window edges, each piece with its band."""
        tz = zone(timezone)
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        pieces = []
        day = first
        while day <= last:
            for window in self.windows:
                wraps = window.end <= window.start or window.end == time(0)
                end_day = day + timedelta(days=1) if wraps else day
                lo = max(start, datetime.combine(day, window.start, tzinfo=tz))
                hi = min(end, datetime.combine(end_day, window.end, tzinfo=tz))
                if lo < hi:
                    pieces.append((lo, hi, window.band))
            day += timedelta(days=1)
        pieces.sort()
        return pieces


@dataclass(frozen=True, slots=True)
class TouPricing:
    """A time-of-use schedule and each band's tier-1 rate."""

    schedule: TouSchedule
    band_rates: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        rates = {
            band: to_decimal(rate, f"{band} rate")
            for band, rate in self.band_rates.items()
        }
        missing = self.schedule.bands - rates.keys()
        if missing:
            raise TariffError(f"time-of-use bands {sorted(missing)} have no rate")
        if any(rate < 0 for rate in rates.values()):
            raise TariffError(f"a time-of-use rate is negative: {rates}")
        object.__setattr__(self, "band_rates", rates)


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """Prices in force from ``effective_from`` until the next version."""

    effective_from: datetime
    tiers: tuple[Tier, ...]
    tou: TouPricing | None = None

    def __post_init__(self) -> None:
        require_aware(self.effective_from, "tariff version effective_from")
        object.__setattr__(self, "tiers", tuple(self.tiers))
        if not self.tiers or self.tiers[-1].up_to is not None:
            raise TariffError(
                f"tariff version from {self.effective_from} needs tiers ending in one "
                "without an upper limit"
            )
        if any(tier.up_to is None for tier in self.tiers[:-1]):
            raise TariffError("only the last tier may be without an upper limit")


@dataclass(frozen=True, slots=True)
class TierCycle:
    """The span tier room is counted over: ``months`` (1, 2, 3, 4, 6 or 12) long,
    cycles starting on the 1st of ``start_month`` and every ``months`` after."""

    months: int = 12
    start_month: int = 1

    def __post_init__(self) -> None:
        if self.months not in (1, 2, 3, 4, 6, 12) or not 1 <= self.start_month <= 12:
            raise TariffError(
                f"tier cycle of {self.months} months from month {self.start_month} "
                "does not divide the year"
            )

    def start_of(self, day: date) -> date:
        index = day.year * 12 + day.month - 1
        offset = (index - (self.start_month - 1)) % self.months
        return add_months(date(day.year, day.month, 1), -offset)


@dataclass(frozen=True, slots=True)
class Tariff:
    """The prices of one kind of metered supply, over time.

    ``versions`` are in force from their ``effective_from`` on; ``counting_unit`` is
    what ``INCLUSIVE_LOWER`` boundaries count in.
    """

    tariff_id: str
    meter_kind: MeterKind
    versions: tuple[TariffVersion, ...]
    cycle: TierCycle = field(default_factory=TierCycle)
    timezone: str = DEFAULT_TIMEZONE
    currency: str = DEFAULT_CURRENCY
    boundary: BoundaryRule = BoundaryRule.INCLUSIVE_UPPER
    counting_unit: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        versions = tuple(sorted(self.versions, key=lambda v: v.effective_from))
        if not versions:
            raise TariffError(f"tariff {self.tariff_id} has no versions")
        object.__setattr__(self, "versions", versions)
        zone(self.timezone)
        for version in versions:
            self.tier_edges(version)

    def version_at(self, moment: datetime) -> TariffVersion:
        """The version in force at ``moment``."""
        in_force = [v for v in self.versions if v.effective_from <= moment]
        if not in_force:
            raise TariffError(
                f"tariff {self.tariff_id} has no version in force at {moment}; the "
                f"first takes effect {self.versions[0].effective_from}"
            )
        return in_force[-1]

    def cycle_start(self, moment: datetime) -> datetime:
        """The instant the tier cycle containing ``moment`` began."""
        local = moment.astimezone(zone(self.timezone)).date()
        return day_start(self.cycle.start_of(local), self.timezone)

    def next_cycle_start(self, moment: datetime) -> datetime:
        local = moment.astimezone(zone(self.timezone)).date()
        first = add_months(self.cycle.start_of(local), self.cycle.months)
        return day_start(first, self.timezone)

    def tier_edges(self, version: TariffVersion) -> list[Decimal | None]:
        """Upper edges of the tiers as quantities, after the boundary rules."""
        edges: list[Decimal | None] = []
        previous = Decimal(0)
        for tier in version.tiers:
            if tier.up_to is None:
                edges.append(None)
                continue
            rule = tier.boundary or self.boundary
            edge = (
                tier.up_to
                if rule is BoundaryRule.INCLUSIVE_UPPER
                else (tier.up_to - self.counting_unit)
            )
            if edge <= previous:
                raise TariffError(
                    f"tariff {self.tariff_id}: tier limit {tier.up_to} does not rise "
                    f"above the previous tier's edge {previous}"
                )
            edges.append(edge)
            previous = edge
        return edges

    def tier_of(self, cumulative: Decimal, moment: datetime) -> int:
        """The tier (1-based) the ``cumulative``-th unit of a cycle falls in."""
        edges = self.tier_edges(self.version_at(moment))
        for number, edge in enumerate(edges, start=1):
            if edge is None or cumulative <= edge:
                return number
        return len(edges)


class LineComponent(StrEnum):
    """What a tariff line prices: a tier (no time of use), a time-of-use band at
    its tier-1 rate, or the extra of a higher tier over tier 1."""

    TIER = "tier"
    BAND = "band"
    TIER_ADDER = "tier_adder"


@dataclass(frozen=True, slots=True)
class TariffLine:
    """One priced quantity, traceable to its tariff version, tier or band, and the
    readings whose deltas made up the quantity."""

    tariff_id: str
    version_from: datetime
    component: LineComponent
    tier: int | None
    band: str | None
    quantity: Decimal
    rate: Decimal
    amount: Money
    start: datetime
    end: datetime
    reading_ids: tuple[str, ...]
    estimated: bool

    @property
    def label(self) -> str:
        if self.component is LineComponent.BAND:
            return f"{self.band}"
        if self.component is LineComponent.TIER_ADDER:
            return f"tier {self.tier} adder"
        return f"tier {self.tier}"


@dataclass(frozen=True, slots=True)
class UsagePricing:
    """The priced usage of one period: exact lines and their exact sum."""

    tariff_id: str
    period: Period
    prior_cycle_usage: Decimal
    quantity: Decimal
    lines: tuple[TariffLine, ...]
    currency: str

    @property
    def amount(self) -> Money:
        return Money.total([line.amount for line in self.lines], self.currency)


def price_usage(
    tariff: Tariff,
    intervals: Sequence[UsageInterval],
    *,
    period: Period,
    prior_cycle_usage: Decimal = Decimal(0),
) -> UsagePricing:
    """Price the usage in ``intervals`` that falls inside ``period``.

    ``prior_cycle_usage`` is the usage earlier in the tier cycle that contains
    ``period.start`` (``cycle_usage_before`` computes it from a series). Usage
    outside ``period`` is ignored.
    """
    used = to_decimal(prior_cycle_usage, "prior cycle usage")
    if used < 0:
        raise TariffError(f"prior cycle usage {used} is negative")
    lines: list[TariffLine] = []
    total = Decimal(0)
    cycle = tariff.cycle_start(period.start)
    for start, end in _segments(tariff, period):
        if tariff.cycle_start(start) != cycle:
            cycle, used = tariff.cycle_start(start), Decimal(0)
        parts = [p for iv in intervals if (p := iv.clip(start, end)) is not None]
        quantity = sum((part.quantity for part in parts), Decimal(0))
        segment = _Segment(tariff, tariff.version_at(start), start, end, parts)
        lines += _segment_lines(segment, used, quantity)
        used += quantity
        total += quantity
    return UsagePricing(
        tariff.tariff_id,
        period,
        to_decimal(prior_cycle_usage),
        total,
        tuple(lines),
        tariff.currency,
    )


def cycle_usage_before(
    series: ConsumptionSeries, tariff: Tariff, moment: datetime
) -> Decimal:
    """Usage of the series from the start of ``moment``'s tier cycle to ``moment``."""
    return series.quantity(tariff.cycle_start(moment), moment)


def _segments(tariff: Tariff, period: Period) -> list[tuple[datetime, datetime]]:
    """``period`` cut where a price version or a tier cycle starts."""
    cuts = {period.start, period.end}
    cuts.update(
        v.effective_from
        for v in tariff.versions
        if period.start < v.effective_from < period.end
    )
    boundary = tariff.next_cycle_start(period.start)
    while boundary < period.end:
        cuts.add(boundary)
        boundary = tariff.next_cycle_start(boundary)
    ordered = sorted(cuts)
    return list(itertools.pairwise(ordered))


def _tier_quantities(
    edges: list[Decimal | None], used: Decimal, quantity: Decimal
) -> list[tuple[int, Decimal]]:
    """How much of ``[used, used + quantity)`` lies in each tier."""
    result = []
    lower = Decimal(0)
    for number, edge in enumerate(edges, start=1):
        hi = used + quantity if edge is None else min(edge, used + quantity)
        part = hi - max(lower, used)
        if part > 0:
            result.append((number, part))
        if edge is None:
            break
        lower = edge
    return result


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch of a period with one price version and one tier cycle."""

    tariff: Tariff
    version: TariffVersion
    start: datetime
    end: datetime
    parts: list[UsageInterval]

    @property
    def reading_ids(self) -> tuple[str, ...]:
        return reading_ids_of(p for p in self.parts if p.quantity != 0)

    def line(
        self,
        component: LineComponent,
        quantity: Decimal,
        rate: Decimal,
        *,
        tier: int | None = None,
        band: str | None = None,
        reading_ids: tuple[str, ...] | None = None,
    ) -> TariffLine:
        return TariffLine(
            tariff_id=self.tariff.tariff_id,
            version_from=self.version.effective_from,
            component=component,
            tier=tier,
            band=band,
            quantity=quantity,
            rate=rate,
            amount=Money(exact_product(quantity, rate), self.tariff.currency),
            start=self.start,
            end=self.end,
            reading_ids=self.reading_ids if reading_ids is None else reading_ids,
            estimated=any(p.delta.estimated for p in self.parts),
        )


def _segment_lines(
    segment: _Segment, used: Decimal, quantity: Decimal
) -> list[TariffLine]:
    """Tier lines, or band lines plus tier adders under time of use."""
    version = segment.version
    edges = segment.tariff.tier_edges(version)
    tiers = _tier_quantities(edges, used, quantity)
    if version.tou is None:
        return [
            segment.line(LineComponent.TIER, part, version.tiers[n - 1].rate, tier=n)
            for n, part in tiers
        ]
    lines = []
    bands = _band_quantities(segment.tariff, version.tou, segment.parts)
    for band, (band_quantity, ids) in bands.items():
        if band_quantity != 0:
            rate = version.tou.band_rates[band]
            lines.append(
                segment.line(
                    LineComponent.BAND, band_quantity, rate, band=band, reading_ids=ids
                )
            )
    for number, part in tiers:
        adder = version.tiers[number - 1].rate - version.tiers[0].rate
        if number > 1 and adder != 0:
            lines.append(
                segment.line(LineComponent.TIER_ADDER, part, adder, tier=number)
            )
    return lines


def _band_quantities(
    tariff: Tariff, tou: TouPricing, parts: Iterable[UsageInterval]
) -> dict[str, tuple[Decimal, tuple[str, ...]]]:
    """Usage per band, each interval cut at the window edges, bands in rate order."""
    pieces: dict[str, list[UsageInterval]] = {
        band: []
        for band in sorted(
            tou.band_rates, key=lambda band: (-tou.band_rates[band], band)
        )
        if band in tou.schedule.bands
    }
    for part in parts:
        for lo, hi, band in tou.schedule.split(part.start, part.end, tariff.timezone):
            piece = part.clip(lo, hi)
            if piece is not None:
                pieces[band].append(piece)
    return {
        band: (
            sum((p.quantity for p in items), Decimal(0)),
            reading_ids_of(p for p in items if p.quantity != 0),
        )
        for band, items in pieces.items()
    }


@dataclass(frozen=True, slots=True)
class TariffBook:
    """Which tariff applies to which property and meter kind.

    A key with property ``None`` is the organization's default for that kind.
    """

    tariffs: Mapping[tuple[str | None, MeterKind], Tariff]

    def tariff_for(self, property_id: str, kind: MeterKind) -> Tariff:
        found = self.tariffs.get((property_id, kind)) or self.tariffs.get((None, kind))
        if found is None:
            raise TariffError(
                f"no {kind} tariff is assigned to property {property_id} and there is "
                "no default"
            )
        return found
