"""Consumption of one meter point from its register readings.

A *meter point* is what is billed (unit 101's electricity); a *meter installation*
is one physical meter serving it between its installation and its removal. The
consumption of a meter point is the sum of validated deltas between consecutive
readings of each installation, times the installation's multiplier (CT ratio).
A replacement therefore needs no special case: the old installation's series ends
with its final reading and the new one starts at its initial reading, so
``old final − old start + new reading − new initial`` falls out of the sum.

How a reading is judged, against the last *accepted* reading of its installation
(``SeriesRules`` holds the thresholds):

- equal value: a valid zero delta;
- higher, by no more than a plausible step: accepted, unless one of the next
  readings falls back between the two values (a spike; ``SPIKE``);
- higher by an implausible step (more than half the register, or faster than the
  installation's ``max_rate_per_hour``): held, ``IMPLAUSIBLE_JUMP``;
- lower, and one of the next readings is back at or above the last accepted value:
  a glitch (a single 0.0 from a browning-out meter), held, ``GLITCH``. This is
  what keeps a dropout from billing the whole register twice;
- lower, and the wrapped delta ``new + register size − previous`` is small (the
  previous value near the top, the new near zero): a rollover, accepted once a
  following reading continues upward from it; while it is the newest reading it
  is held as ``ROLLOVER_UNCONFIRMED`` (a glitch near the top looks the same until
  the next sample);
- lower otherwise: a reset or a wrong reading, held for review,
  ``LOWER_NOT_ROLLOVER``. Every later reading below the last accepted value is
  held too, until someone records a replacement (a new installation).

Readings after ``now``, outside the installation's service time, outside the
register's range, of an unknown installation, or two different values at the same
instant are refused with a reason and never billed.

Interval attribution: a delta between two readings that straddles a period
boundary (a month end, a price change, a lease change) is split by time, pro rata
(``AttributionRule.PRO_RATA``, the default), as a utility does with an
interpolated reading at the boundary; or all of it goes to the period in which the
later reading was taken (``AT_READING``; a reading exactly at a boundary closes
the period that ends there). Interpolated values are rounded half-up to
``Attribution.quantum`` (0.001 by default) from the delta's own exact value, so
the parts of one delta always add up to it exactly however often it is split.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from cloud.billing.errors import MeterSeriesError, ReadingError
from cloud.billing.money import RoundingMode, exact_product, round_fraction, to_decimal
from cloud.billing.periods import Period, time_fraction

_HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Register:
    """Where a meter's count wraps back to zero, in the unit its readings are in.

    A 6-digit register with one decimal shows 99999.9 then 0.0: ``modulus`` 100000.
    A raw 16-bit counter scaled by 0.01 kWh wraps at 65536 × 0.01 = 655.36.
    """

    modulus: Decimal

    def __post_init__(self) -> None:
        modulus = to_decimal(self.modulus, "register modulus")
        if modulus <= 0:
            raise ReadingError(f"register modulus {modulus} must be positive")
        object.__setattr__(self, "modulus", modulus)

    @classmethod
    def digits(cls, digits: int, decimals: int = 0) -> Register:
        """A display register of ``digits`` digits, ``decimals`` of them decimal."""
        if not 0 <= decimals < digits:
            raise ReadingError(
                f"a {digits}-digit register cannot have {decimals} decimals"
            )
        return cls(Decimal(10) ** (digits - decimals))

    @classmethod
    def counter(cls, bits: int, scale: Decimal | int | str) -> Register:
        """A raw counter of ``bits`` bits whose count is worth ``scale`` units."""
        if bits not in (16, 23, 24, 32, 48, 64):
            raise ReadingError(
                f"a {bits}-bit counter is not a register size meters use"
            )
        return cls(exact_product(Decimal(2**bits), to_decimal(scale, "counter scale")))


@dataclass(frozen=True, slots=True)
class MeterInstallation:
    """One physical meter serving a meter point between installation and removal.

    ``initial_reading`` is the register value at ``installed_at`` and
    ``final_reading`` the value at ``removed_at`` (both as read by the technician,
    and authoritative). ``multiplier`` is the CT or pulse ratio: consumption is the
    register delta times it. ``max_rate_per_hour`` (register units per hour), when
    known, bounds a plausible step; without it only the register size does.
    """

    installation_id: str
    meter_point_id: str
    register: Register
    installed_at: datetime
    initial_reading: Decimal
    removed_at: datetime | None = None
    final_reading: Decimal | None = None
    multiplier: Decimal = Decimal(1)
    max_rate_per_hour: Decimal | None = None

    def __post_init__(self) -> None:
        _aware(self.installed_at, f"installation {self.installation_id} installed_at")
        object.__setattr__(
            self, "initial_reading", to_decimal(self.initial_reading, "initial reading")
        )
        object.__setattr__(
            self, "multiplier", to_decimal(self.multiplier, "multiplier")
        )
        if self.multiplier <= 0:
            raise ReadingError(
                f"installation {self.installation_id} multiplier {self.multiplier} "
                "must be positive"
            )
        if (self.removed_at is None) != (self.final_reading is None):
            raise ReadingError(
                f"installation {self.installation_id} needs both removed_at and "
                "final_reading, or neither"
            )
        if self.removed_at is not None:
            _aware(self.removed_at, f"installation {self.installation_id} removed_at")
            if self.removed_at <= self.installed_at:
                raise ReadingError(
                    f"installation {self.installation_id} removed at {self.removed_at} "
                    f"before it was installed at {self.installed_at}"
                )
            object.__setattr__(
                self, "final_reading", to_decimal(self.final_reading, "final reading")
            )
        if self.max_rate_per_hour is not None:
            object.__setattr__(
                self,
                "max_rate_per_hour",
                to_decimal(self.max_rate_per_hour, "max_rate_per_hour"),
            )


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A register value of one installation at one instant.

    ``estimated`` marks a value that was not read off the meter (an estimate by the
    office, a customer's self-reading); it is carried into every delta and period
    it touches so an invoice can say so.
    """

    reading_id: str
    installation_id: str
    taken_at: datetime
    value: Decimal
    estimated: bool = False

    def __post_init__(self) -> None:
        _aware(self.taken_at, f"reading {self.reading_id} taken_at")
        object.__setattr__(
            self, "value", to_decimal(self.value, f"reading {self.reading_id} value")
        )


class HoldCode(StrEnum):
    """Why a reading was not used. ``needs_review`` says whether a person must act."""

    FUTURE = "future"
    UNKNOWN_INSTALLATION = "unknown_installation"
    OUTSIDE_INSTALLATION = "outside_installation"
    OUT_OF_REGISTER = "out_of_register"
    DUPLICATE = "duplicate"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    IMPLAUSIBLE_JUMP = "implausible_jump"
    SPIKE = "spike"
    GLITCH = "glitch"
    ROLLOVER_UNCONFIRMED = "rollover_unconfirmed"
    LOWER_NOT_ROLLOVER = "lower_not_rollover"

    @property
    def needs_review(self) -> bool:
        """Glitches, spikes, duplicates and pending rollovers resolve themselves."""
        return self not in (
            HoldCode.DUPLICATE,
            HoldCode.GLITCH,
            HoldCode.SPIKE,
            HoldCode.ROLLOVER_UNCONFIRMED,
        )


@dataclass(frozen=True, slots=True)
class HeldReading:
    """A reading set aside, with a code to filter on and a sentence for a person."""

    reading: MeterReading
    code: HoldCode
    reason: str


class DeltaKind(StrEnum):
    NORMAL = "normal"
    ROLLOVER = "rollover"


@dataclass(frozen=True, slots=True)
class Delta:
    """Consumption between two accepted readings of one installation."""

    meter_point_id: str
    installation_id: str
    from_reading_id: str
    to_reading_id: str
    start: datetime
    end: datetime
    from_value: Decimal
    to_value: Decimal
    register_delta: Decimal
    multiplier: Decimal
    quantity: Decimal
    kind: DeltaKind
    estimated: bool

    @property
    def reading_ids(self) -> tuple[str, str]:
        return (self.from_reading_id, self.to_reading_id)


class AttributionRule(StrEnum):
    """How a delta that straddles a boundary is shared (see the module docstring)."""

    PRO_RATA = "pro_rata"
    AT_READING = "at_reading"


@dataclass(frozen=True, slots=True)
class Attribution:
    rule: AttributionRule = AttributionRule.PRO_RATA
    quantum: Decimal = Decimal("0.001")

    def cumulative(self, delta: Delta, moment: datetime) -> Decimal:
        """How much of ``delta`` was used by ``moment``: 0 before, all of it after."""
        if moment <= delta.start:
            return Decimal(0)
        if moment >= delta.end:
            return delta.quantity
        if self.rule is AttributionRule.AT_READING:
            return Decimal(0)
        share = Fraction(delta.quantity) * time_fraction(
            delta.start, moment, Period(delta.start, delta.end)
        )
        return round_fraction(share, self.quantum, RoundingMode.HALF_UP)


@dataclass(frozen=True, slots=True)
class UsageInterval:
    """The part ``[start, end)`` of one delta, and the quantity it carries.

    Clipping keeps a reference to the whole delta, so every split of it (by month,
    by price version, by lease, by time-of-use window) is computed from the same
    exact value and the parts always add up to the delta.
    """

    delta: Delta
    start: datetime
    end: datetime
    attribution: Attribution = field(default_factory=Attribution)

    @property
    def quantity(self) -> Decimal:
        return self.attribution.cumulative(
            self.delta, self.end
        ) - self.attribution.cumulative(self.delta, self.start)

    def clip(self, start: datetime, end: datetime) -> UsageInterval | None:
        """The part of this interval inside ``[start, end)``, or None."""
        lo, hi = max(self.start, start), min(self.end, end)
        if lo >= hi:
            return None
        return UsageInterval(self.delta, lo, hi, self.attribution)


@dataclass(frozen=True, slots=True)
class PeriodConsumption:
    """Consumption of one meter point in one period, with its evidence.

    ``complete`` is False while no accepted reading exists at or after the period
    end: the quantity is then only what was measured so far. ``held`` lists the
    readings taken inside the period that were set aside.
    """

    meter_point_id: str
    period: Period
    quantity: Decimal
    intervals: tuple[UsageInterval, ...]
    held: tuple[HeldReading, ...]
    complete: bool

    @property
    def estimated(self) -> bool:
        return any(interval.delta.estimated for interval in self.intervals)

    @property
    def deltas(self) -> tuple[Delta, ...]:
        return tuple(interval.delta for interval in self.intervals)

    @property
    def reading_ids(self) -> tuple[str, ...]:
        return reading_ids_of(self.intervals)


def reading_ids_of(intervals: Iterable[UsageInterval]) -> tuple[str, ...]:
    """The readings behind ``intervals``, each once, in the order first used."""
    seen: dict[str, None] = {}
    for interval in intervals:
        for reading_id in interval.delta.reading_ids:
            seen.setdefault(reading_id, None)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class SeriesRules:
    """Thresholds for judging readings.

    ``rollover_fraction``: a drop counts as a rollover only when the wrapped delta
    is at most this share of the register (previous in the top, new in the bottom
    of it). ``max_step_fraction``: a single step above this share of the register
    cannot be told from a wrap or a spike and is held. ``lookahead``: how many
    following readings are searched for a glitch's recovery or a rollover's
    continuation.
    """

    rollover_fraction: Decimal = Decimal("0.1")
    max_step_fraction: Decimal = Decimal("0.5")
    lookahead: int = 3

    def __post_init__(self) -> None:
        for name in ("rollover_fraction", "max_step_fraction"):
            value = to_decimal(getattr(self, name), name)
            if not 0 < value <= 1:
                raise ReadingError(f"{name} {value} must be above 0 and at most 1")
            object.__setattr__(self, name, value)
        if self.lookahead < 1:
            raise ReadingError(f"lookahead {self.lookahead} must be at least 1")


@dataclass(frozen=True, slots=True)
class ConsumptionSeries:
    """The accepted deltas and the held readings of one meter point."""

    meter_point_id: str
    deltas: tuple[Delta, ...]
    held: tuple[HeldReading, ...]
    attribution: Attribution
    _ends: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    _prefix: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix = [Decimal(0)]
        for delta in self.deltas:
            prefix.append(prefix[-1] + delta.quantity)
        object.__setattr__(self, "_ends", tuple(delta.end for delta in self.deltas))
        object.__setattr__(self, "_prefix", tuple(prefix))

    def held_counts(self) -> Counter[HoldCode]:
        """How many readings were set aside, per reason, for the service's metrics."""
        return Counter(item.code for item in self.held)

    @property
    def covered_until(self) -> datetime | None:
        """Time of the last accepted reading."""
        return self._ends[-1] if self._ends else None

    def cumulative(self, moment: datetime) -> Decimal:
        """Consumption from the first installation up to ``moment``."""
        index = bisect.bisect_right(self._ends, moment)
        if index == len(self.deltas):
            return self._prefix[index]
        return self._prefix[index] + self.attribution.cumulative(
            self.deltas[index], moment
        )

    def quantity(self, start: datetime, end: datetime) -> Decimal:
        """Consumption in ``[start, end)``; e.g. earlier usage in a tier cycle."""
        return self.cumulative(end) - self.cumulative(start)

    def period(self, period: Period) -> PeriodConsumption:
        intervals = []
        for delta in self.deltas:
            if delta.end <= period.start or delta.start >= period.end:
                continue
            whole = UsageInterval(delta, delta.start, delta.end, self.attribution)
            part = whole.clip(period.start, period.end)
            if part is not None and (part.quantity != 0 or delta.quantity == 0):
                intervals.append(part)
        held = tuple(
            item for item in self.held if period.contains(item.reading.taken_at)
        )
        covered = self.covered_until
        return PeriodConsumption(
            meter_point_id=self.meter_point_id,
            period=period,
            quantity=self.quantity(period.start, period.end),
            intervals=tuple(intervals),
            held=held,
            complete=covered is not None and covered >= period.end,
        )


def build_series(
    meter_point_id: str,
    installations: Sequence[MeterInstallation],
    readings: Iterable[MeterReading],
    *,
    now: datetime,
    rules: SeriesRules | None = None,
    attribution: Attribution | None = None,
) -> ConsumptionSeries:
    """Validate every reading of a meter point and return its accepted deltas.

    ``installations`` are all the meters that ever served the point; they must not
    overlap in time. Readings of other meter points' installations are refused as
    unknown. Deterministic: the result depends only on the arguments.
    """
    rules = rules or SeriesRules()
    _aware(now, "now")
    ordered = _ordered_installations(meter_point_id, installations, now)
    grouped, held = _admit(meter_point_id, ordered, readings, now)

    deltas: list[Delta] = []
    for inst in ordered:
        points, refused = _candidate_points(inst, grouped[inst.installation_id])
        held.extend(refused)
        inst_deltas, inst_held = _walk(inst, points, rules)
        deltas.extend(inst_deltas)
        held.extend(inst_held)
    held.sort(key=lambda item: (item.reading.taken_at, item.reading.reading_id))
    return ConsumptionSeries(
        meter_point_id, tuple(deltas), tuple(held), attribution or Attribution()
    )


def _admit(
    meter_point_id: str,
    installations: list[MeterInstallation],
    readings: Iterable[MeterReading],
    now: datetime,
) -> tuple[dict[str, list[MeterReading]], list[HeldReading]]:
    """Readings grouped per known installation; unknown and future ones refused."""
    known = {inst.installation_id for inst in installations}
    grouped: dict[str, list[MeterReading]] = defaultdict(list)
    held: list[HeldReading] = []
    for reading in readings:
        if reading.installation_id not in known:
            reason = (
                f"reading {reading.reading_id} names installation "
                f"{reading.installation_id!r}, which does not serve meter point "
                f"{meter_point_id}"
            )
            held.append(_hold(reading, HoldCode.UNKNOWN_INSTALLATION, reason))
        elif reading.taken_at > now:
            reason = (
                f"reading {reading.reading_id} is dated {reading.taken_at}, after "
                f"now ({now}); a gateway clock is probably wrong"
            )
            held.append(_hold(reading, HoldCode.FUTURE, reason))
        else:
            grouped[reading.installation_id].append(reading)
    return grouped, held


def _aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ReadingError(f"{what} {value!r} must be a timezone-aware datetime")


def _hold(reading: MeterReading, code: HoldCode, reason: str) -> HeldReading:
    return HeldReading(reading, code, reason)


def _ordered_installations(
    meter_point_id: str, installations: Sequence[MeterInstallation], now: datetime
) -> list[MeterInstallation]:
    ordered = sorted(installations, key=lambda inst: inst.installed_at)
    for inst in ordered:
        if inst.meter_point_id != meter_point_id:
            raise MeterSeriesError(
                f"installation {inst.installation_id} serves meter point "
                f"{inst.meter_point_id}, not {meter_point_id}"
            )
        if inst.removed_at is not None and inst.removed_at > now:
            raise MeterSeriesError(
                f"installation {inst.installation_id} is removed at {inst.removed_at}, "
                f"after now ({now})"
            )
    for before, after in itertools.pairwise(ordered):
        if before.removed_at is None or before.removed_at > after.installed_at:
            raise MeterSeriesError(
                f"installations {before.installation_id} and {after.installation_id} "
                f"of meter point {meter_point_id} overlap: the first is not removed "
                f"before the second is installed at {after.installed_at}"
            )
    return ordered


@dataclass(frozen=True, slots=True)
class _Point:
    reading: MeterReading
    authoritative: bool

    @property
    def at(self) -> datetime:
        return self.reading.taken_at

    @property
    def value(self) -> Decimal:
        return self.reading.value


def _candidate_points(
    inst: MeterInstallation, readings: list[MeterReading]
) -> tuple[list[_Point], list[HeldReading]]:
    """The installation's anchors and in-range readings, one per instant, in order."""
    initial = MeterReading(
        f"{inst.installation_id}:initial",
        inst.installation_id,
        inst.installed_at,
        inst.initial_reading,
    )
    anchors = [initial]
    if inst.removed_at is not None and inst.final_reading is not None:
        anchors.append(
            MeterReading(
                f"{inst.installation_id}:final",
                inst.installation_id,
                inst.removed_at,
                inst.final_reading,
            )
        )
    held: list[HeldReading] = []
    in_range: list[MeterReading] = []
    for reading in readings:
        problem = _range_problem(inst, reading)
        if problem is None:
            in_range.append(reading)
        else:
            held.append(_hold(reading, *problem))

    by_instant: dict[datetime, list[MeterReading]] = defaultdict(list)
    for reading in in_range:
        by_instant[reading.taken_at].append(reading)
    anchor_at = {anchor.taken_at: anchor for anchor in anchors}
    points = [_Point(anchor, authoritative=True) for anchor in anchors]
    for instant, group in by_instant.items():
        kept, refused = _one_per_instant(anchor_at.get(instant), group)
        held.extend(refused)
        if kept is not None:
            points.append(_Point(kept, authoritative=False))
    points.sort(key=lambda point: point.at)
    return points, held


def _range_problem(
    inst: MeterInstallation, reading: MeterReading
) -> tuple[HoldCode, str] | None:
    if reading.taken_at < inst.installed_at or (
        inst.removed_at is not None and reading.taken_at > inst.removed_at
    ):
        removed = inst.removed_at or "still in service"
        return HoldCode.OUTSIDE_INSTALLATION, (
            f"reading {reading.reading_id} at {reading.taken_at} is outside the "
            f"service time of installation {inst.installation_id} "
            f"({inst.installed_at} to {removed})"
        )
    if not 0 <= reading.value < inst.register.modulus:
        return HoldCode.OUT_OF_REGISTER, (
            f"reading {reading.reading_id} value {reading.value} cannot be shown by "
            f"a register that wraps at {inst.register.modulus}"
        )
    return None


def _one_per_instant(
    anchor: MeterReading | None, group: list[MeterReading]
) -> tuple[MeterReading | None, list[HeldReading]]:
    """Equal values at one instant are one reading; different values are refused.

    An anchor (the technician's installation or removal reading) wins over a
    reading at the same instant.
    """
    group = sorted(group, key=lambda reading: reading.reading_id)
    reference = anchor or group[0]
    if all(reading.value == reference.value for reading in group):
        keep = None if anchor is not None else group[0]
        duplicates = group if anchor is not None else group[1:]
        return keep, [
            _hold(
                reading,
                HoldCode.DUPLICATE,
                f"reading {reading.reading_id} repeats reading {reference.reading_id} "
                f"({reference.value} at {reference.taken_at})",
            )
            for reading in duplicates
        ]
    values = ", ".join(f"{r.reading_id}={r.value}" for r in group)
    against = f"; the {anchor.reading_id} value is {anchor.value}" if anchor else ""
    return None, [
        _hold(
            reading,
            HoldCode.CONFLICTING_DUPLICATE,
            f"readings at {reading.taken_at} disagree ({values}{against})",
        )
        for reading in group
    ]


def _step_limit(
    inst: MeterInstallation, fraction: Decimal, elapsed: timedelta
) -> Fraction:
    limit = Fraction(inst.register.modulus) * Fraction(fraction)
    if inst.max_rate_per_hour is not None:
        hours = Fraction(elapsed // timedelta(microseconds=1), _HOUR_US)
        limit = min(limit, Fraction(inst.max_rate_per_hour) * hours)
    return limit


def _walk(
    inst: MeterInstallation, points: list[_Point], rules: SeriesRules
) -> tuple[list[Delta], list[HeldReading]]:
    """Judge each point against the last accepted one (see the module docstring)."""
    accepted = [points[0]]
    deltas: list[Delta] = []
    held: list[HeldReading] = []
    modulus = inst.register.modulus
    for index in range(1, len(points)):
        point, last = points[index], accepted[-1]
        following = points[index + 1 : index + 1 + rules.lookahead]
        verdict = _judge(inst, point, last, following, rules)
        if isinstance(verdict, HeldReading):
            held.append(verdict)
            continue
        kind = verdict
        step = point.value - last.value
        register_delta = step + modulus if kind is DeltaKind.ROLLOVER else step
        deltas.append(_delta(inst, last, point, register_delta, kind))
        accepted.append(point)
    return deltas, held


def _judge(
    inst: MeterInstallation,
    point: _Point,
    last: _Point,
    following: list[_Point],
    rules: SeriesRules,
) -> DeltaKind | HeldReading:
    if point.value >= last.value:
        return _judge_rise(inst, point, last, following, rules)
    return _judge_drop(inst, point, last, following, rules)


def _judge_rise(
    inst: MeterInstallation,
    point: _Point,
    last: _Point,
    following: list[_Point],
    rules: SeriesRules,
) -> DeltaKind | HeldReading:
    """A rise is use, unless it is too fast or the next readings fall back."""
    reading, step = point.reading, point.value - last.value
    if point.authoritative:
        return DeltaKind.NORMAL
    limit = _step_limit(inst, rules.max_step_fraction, point.at - last.at)
    if step > limit:
        shown = round_fraction(limit, Decimal("0.001"), RoundingMode.HALF_UP)
        reason = (
            f"reading {reading.reading_id} rose {step} since {last.value} at "
            f"{last.at}, more than the plausible {shown} for that time"
        )
        return _hold(reading, HoldCode.IMPLAUSIBLE_JUMP, reason)
    if any(last.value <= f.value < point.value for f in following):
        reason = (
            f"reading {reading.reading_id} value {point.value} is a spike: a "
            f"following reading falls back below it, toward {last.value}"
        )
        return _hold(reading, HoldCode.SPIKE, reason)
    return DeltaKind.NORMAL


def _judge_drop(
    inst: MeterInstallation,
    point: _Point,
    last: _Point,
    following: list[_Point],
    rules: SeriesRules,
) -> DeltaKind | HeldReading:
    """A drop is a glitch, a rollover (confirmed or pending) or held for review."""
    reading, modulus = point.reading, inst.register.modulus
    recovered = [f for f in following if f.value >= last.value]
    if recovered:
        reason = (
            f"reading {reading.reading_id} dropped to {point.value} from "
            f"{last.value} and reading {recovered[0].reading.reading_id} is back at "
            f"{recovered[0].value}: a glitch, not a reset"
        )
        return _hold(reading, HoldCode.GLITCH, reason)
    wrapped = point.value + modulus - last.value
    if wrapped <= _step_limit(inst, rules.rollover_fraction, point.at - last.at):
        if point.authoritative or any(f.value >= point.value for f in following):
            return DeltaKind.ROLLOVER
        reason = (
            f"reading {reading.reading_id} value {point.value} after {last.value} "
            f"looks like a rollover at {modulus}, awaiting a following reading to "
            "confirm it"
        )
        return _hold(reading, HoldCode.ROLLOVER_UNCONFIRMED, reason)
    reason = (
        f"reading {reading.reading_id} value {point.value} is lower than the last "
        f"accepted {last.value} at {last.at} and is no rollover of a register that "
        f"wraps at {modulus}; held for review (a reset or an unrecorded meter "
        "replacement?)"
    )
    return _hold(reading, HoldCode.LOWER_NOT_ROLLOVER, reason)


def _delta(
    inst: MeterInstallation,
    last: _Point,
    point: _Point,
    register_delta: Decimal,
    kind: DeltaKind,
) -> Delta:
    return Delta(
        meter_point_id=inst.meter_point_id,
        installation_id=inst.installation_id,
        from_reading_id=last.reading.reading_id,
        to_reading_id=point.reading.reading_id,
        start=last.at,
        end=point.at,
        from_value=last.value,
        to_value=point.value,
        register_delta=register_delta,
        multiplier=inst.multiplier,
        quantity=exact_product(register_delta, inst.multiplier),
        kind=kind,
        estimated=last.reading.estimated or point.reading.estimated,
    )
