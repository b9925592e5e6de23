"""What a party owes before it is put on an invoice: rent, deposits, property fees,
one-off chargebacks and metered usage, each as a ``Charge`` with its source.

Recurring charges (rent, property fee) run in periods of 1, 3 or 12 months. With
``PeriodAlignment.CALENDAR`` periods are calendar months, quarters or years (the
quarter or year starting in ``anchor_month``); with ``LEASE_START`` they run from
the lease's first day (15 March to 14 April ...; 31 January + 1 month is 28
February, computed from the start each time so the day never drifts).

A period the lease covers only in part is prorated by ``Proration.BY_DAYS``:
amount × leased days / days in that period (actual days: 31 for March, 91 or 92
for a quarter, 365 or 366 for a year), or charged in full under ``NONE``. A period
is billed in the window that contains its first leased day. Proration divides the
exact amount, before any rounding; the result is kept to 10 decimal places
(``EXACT_QUANTUM``) and rounded once on the invoice.

Usage goes to whoever leased the unit while it was used: a lease covers its days
from local midnight of its first day to local midnight after its last, and a delta
that straddles a lease change is split there pro rata by time. Usage while no
lease ran is returned apart as ``vacant`` (the owner's, as the service decides).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from cloud.billing.area import PropertyFeeTerms, UnitArea, monthly_property_fee
from cloud.billing.consumption import UsageInterval
from cloud.billing.errors import LeaseError
from cloud.billing.money import EXACT_QUANTUM, Money, RoundingMode, round_fraction
from cloud.billing.periods import DateSpan, add_months, day_start, zone
from cloud.billing.tariffs import MeterKind, UsagePricing


class ChargeKind(StrEnum):
    RENT = "rent"
    DEPOSIT = "deposit"
    PROPERTY_FEE = "property_fee"
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"
    COMMON_AREA = "common_area"
    ONE_OFF = "one_off"
    LATE_FEE = "late_fee"

    @classmethod
    def for_meter(cls, kind: MeterKind) -> ChargeKind:
        return cls(kind.value)


@dataclass(frozen=True, slots=True)
class ChargeSource:
    """Where a charge comes from, so an invoice line can be traced back."""

    lease_id: str | None = None
    tariff_id: str | None = None
    tariff_version: datetime | None = None
    tier: int | None = None
    band: str | None = None
    meter_point_id: str | None = None
    reading_ids: tuple[str, ...] = ()
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    """An exact amount a party owes for one thing, not yet rounded or invoiced."""

    kind: ChargeKind
    party_id: str
    unit_id: str | None
    description: str
    amount: Money
    service_period: DateSpan | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    source: ChargeSource = field(default_factory=ChargeSource)
    estimated: bool = False


class RentFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "yearly": 12}[self.value]


class Proration(StrEnum):
    BY_DAYS = "by_days"
    NONE = "none"


class PeriodAlignment(StrEnum):
    CALENDAR = "calendar"
    LEASE_START = "lease_start"


@dataclass(frozen=True, slots=True)
class RecurringTerms:
    """``amount`` per period of ``frequency``, prorated and aligned as stated."""

    amount: Money
    frequency: RentFrequency = RentFrequency.MONTHLY
    proration: Proration = Proration.BY_DAYS
    alignment: PeriodAlignment = PeriodAlignment.CALENDAR
    anchor_month: int = 1

    def __post_init__(self) -> None:
        if self.amount.amount < 0:
            raise LeaseError(f"recurring amount {self.amount} is negative")
        if not 1 <= self.anchor_month <= 12:
            raise LeaseError(f"anchor month {self.anchor_month} is not a month")


@dataclass(frozen=True, slots=True)
class Lease:
    """A unit let to a tenant from ``start`` to ``end`` (inclusive; None: open)."""

    lease_id: str
    unit_id: str
    tenant_id: str
    start: date
    end: date | None
    rent: RecurringTerms
    deposit: Money | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise LeaseError(
                f"lease {self.lease_id} ends {self.end} before it starts {self.start}"
            )

    def instants(self, timezone: str) -> tuple[datetime, datetime | None]:
        """Local midnight of the first day, and after the last day (None: open)."""
        end = None
        if self.end is not None:
            end = day_start(self.end + timedelta(days=1), timezone)
        return day_start(self.start, timezone), end


def recurring_periods(
    terms: RecurringTerms, first_day: date, through: date
) -> Iterator[DateSpan]:
    """The charge periods from the one containing ``first_day`` to ``through``."""
    months = terms.frequency.months
    if terms.alignment is PeriodAlignment.LEASE_START:
        origin = first_day
    else:
        index = first_day.year * 12 + first_day.month - 1
        offset = (index - (terms.anchor_month - 1)) % months
        origin = add_months(date(first_day.year, first_day.month, 1), -offset)
    number = 0
    while True:
        start = add_months(origin, number * months)
        if start > through:
            return
        yield DateSpan(
            start, add_months(origin, (number + 1) * months) - timedelta(days=1)
        )
        number += 1


def recurring_charges(
    terms: RecurringTerms,
    *,
    kind: ChargeKind,
    party_id: str,
    unit_id: str,
    start: date,
    end: date | None,
    window: DateSpan,
    label: str,
    source: ChargeSource,
) -> list[Charge]:
    """Charges for the periods whose first covered day lies in ``window``.

    ``start``/``end`` bound the days the party is liable (a lease, an ownership).
    """
    if window.last < start:
        return []
    charges = []
    liable = DateSpan(start, date.max if end is None else max(end, start))
    for period in recurring_periods(terms, start, window.last):
        covered = period.overlap(liable)
        if covered is None or not window.contains(covered.first):
            continue
        amount, note = _prorated(terms, period, covered)
        charges.append(
            Charge(
                kind=kind,
                party_id=party_id,
                unit_id=unit_id,
                description=f"{label} {covered.first} to {covered.last}{note}",
                amount=amount,
                service_period=covered,
                source=source,
            )
        )
    return charges


def _prorated(
    terms: RecurringTerms, period: DateSpan, covered: DateSpan
) -> tuple[Money, str]:
    if covered == period or terms.proration is Proration.NONE:
        return terms.amount, ""
    share = Fraction(terms.amount.amount) * Fraction(covered.days, period.days)
    amount = round_fraction(share, EXACT_QUANTUM, RoundingMode.HALF_EVEN)
    note = f" ({covered.days}/{period.days} days of {terms.amount})"
    return Money(amount, terms.amount.currency), note


def rent_charges(lease: Lease, window: DateSpan) -> list[Charge]:
    """Rent of ``lease`` for the periods that begin (for this lease) in ``window``."""
    return recurring_charges(
        lease.rent,
        kind=ChargeKind.RENT,
        party_id=lease.tenant_id,
        unit_id=lease.unit_id,
        start=lease.start,
        end=lease.end,
        window=window,
        label="Rent",
        source=ChargeSource(lease_id=lease.lease_id),
    )


def deposit_charge(lease: Lease) -> Charge | None:
    """The deposit (押金) asked at the start of the lease, if any."""
    if lease.deposit is None or lease.deposit.is_zero():
        return None
    return Charge(
        kind=ChargeKind.DEPOSIT,
        party_id=lease.tenant_id,
        unit_id=lease.unit_id,
        description=f"Deposit for lease {lease.lease_id}",
        amount=lease.deposit,
        service_period=DateSpan(lease.start, lease.start),
        source=ChargeSource(lease_id=lease.lease_id, reference="deposit"),
    )


def property_fee_charges(
    unit: UnitArea,
    terms: PropertyFeeTerms,
    *,
    party_id: str,
    start: date,
    end: date | None,
    window: DateSpan,
    proration: Proration = Proration.BY_DAYS,
    lease_id: str | None = None,
) -> list[Charge]:
    """Monthly property fee (area × rate) for the months that begin in ``window``."""
    monthly = RecurringTerms(monthly_property_fee(unit, terms), proration=proration)
    return recurring_charges(
        monthly,
        kind=ChargeKind.PROPERTY_FEE,
        party_id=party_id,
        unit_id=unit.unit_id,
        start=start,
        end=end,
        window=window,
        label=f"Property fee {unit.on(terms.basis)} m² × {terms.rate_per_m2_month}",
        source=ChargeSource(lease_id=lease_id),
    )


def one_off_charge(
    *,
    party_id: str,
    unit_id: str | None,
    description: str,
    amount: Money,
    on: date,
    reference: str,
) -> Charge:
    """A single charge, e.g. a work order's cost passed on (``reference``: its id)."""
    return Charge(
        kind=ChargeKind.ONE_OFF,
        party_id=party_id,
        unit_id=unit_id,
        description=description,
        amount=amount,
        service_period=DateSpan(on, on),
        source=ChargeSource(reference=reference),
    )


@dataclass(frozen=True, slots=True)
class UsageSplit:
    """Usage intervals per lease id, and those of days no lease covered."""

    by_lease: dict[str, tuple[UsageInterval, ...]]
    vacant: tuple[UsageInterval, ...]


def split_usage_by_lease(
    intervals: Sequence[UsageInterval], leases: Sequence[Lease], timezone: str
) -> UsageSplit:
    """Give each piece of usage to the lease running at the time (one unit's leases)."""
    zone(timezone)
    spans = sorted(
        ((lease, *lease.instants(timezone)) for lease in leases),
        key=lambda item: item[1],
    )
    for (before, _, before_end), (after, after_start, _) in itertools.pairwise(spans):
        if before_end is None or before_end > after_start:
            raise LeaseError(
                f"leases {before.lease_id} and {after.lease_id} of one unit overlap"
            )
    edges = {edge for _, start, end in spans for edge in (start, end) if edge}
    by_lease: dict[str, list[UsageInterval]] = {lease.lease_id: [] for lease in leases}
    vacant: list[UsageInterval] = []
    for interval in intervals:
        inner = {edge for edge in edges if interval.start < edge < interval.end}
        cuts = sorted({interval.start, interval.end, *inner})
        for lo, hi in itertools.pairwise(cuts):
            piece = interval.clip(lo, hi)
            if piece is None or (piece.quantity == 0 and piece.delta.quantity != 0):
                continue
            running = [
                lease for lease, start, end in spans if start <= lo < (end or hi)
            ]
            if running:
                by_lease[running[0].lease_id].append(piece)
            else:
                vacant.append(piece)
    return UsageSplit(
        {lease_id: tuple(parts) for lease_id, parts in by_lease.items()}, tuple(vacant)
    )


def usage_charges(
    pricing: UsagePricing,
    *,
    kind: ChargeKind,
    party_id: str,
    unit_id: str | None,
    timezone: str,
    meter_point_id: str | None = None,
    lease_id: str | None = None,
) -> list[Charge]:
    """One charge per tariff line, carrying tariff, version, tier or band, readings."""
    tz = zone(timezone)
    charges = []
    for line in pricing.lines:
        last_instant = line.end - timedelta(microseconds=1)
        charges.append(
            Charge(
                kind=kind,
                party_id=party_id,
                unit_id=unit_id,
                description=f"{kind.value.capitalize()} {line.label}: "
                f"{line.quantity} × {line.rate}",
                amount=line.amount,
                service_period=DateSpan(
                    line.start.astimezone(tz).date(), last_instant.astimezone(tz).date()
                ),
                quantity=line.quantity,
                unit_price=line.rate,
                source=ChargeSource(
                    lease_id=lease_id,
                    tariff_id=line.tariff_id,
                    tariff_version=line.version_from,
                    tier=line.tier,
                    band=line.band,
                    meter_point_id=meter_point_id,
                    reading_ids=line.reading_ids,
                ),
                estimated=line.estimated,
            )
        )
    return charges
