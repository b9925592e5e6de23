"""Late fees (滞纳金 / 违约金) on overdue items.

The convention follows 《供电营业规则》 ("从逾期之日起计算至交纳日止"): the due
date itself is not overdue; the first overdue day is the day after it, and the
day of payment counts. So an item due 10 March and paid 25 March is 15 days
late, and a payment on the due date is on time. Each overdue day accrues
``daily_rate`` × the amount still unpaid at the start of that day: a partial
payment reduces the base from the day after it was made (the day of payment
itself still accrues on the amount paid that day, as a full payment's day does).

Rules are effective-dated: each overdue day uses the rule in force on that day,
so a rule change in the middle of an overdue stretch splits it. The fee is the
exact sum of the days, rounded once by the policy; then the minimum of the rule
in force on the last counted day applies (总额不足1元者按1元收取, only when some
fee accrued), then its cap (a share of the principal and/or a fixed amount,
rounded down so the fee never exceeds it). The cap wins over the minimum.

``late_fee`` returns the whole fee accrued from the due date to ``through``, not
an increment: computed again later it gives the larger total, and
``late_fee_charge`` charges only what was not charged before, so the minimum is
applied once per item however often the fee is assessed. Late fees never accrue
on late fees.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from cloud.billing.charges import Charge, ChargeKind, ChargeSource
from cloud.billing.errors import CurrencyMismatchError, LateFeeError
from cloud.billing.money import (
    Money,
    RoundingMode,
    RoundingPolicy,
    exact_product,
    to_decimal,
)
from cloud.billing.payments import Allocation
from cloud.billing.periods import DateSpan


@dataclass(frozen=True, slots=True)
class LateFeeRule:
    """Late-fee terms in force from ``effective_from`` (a day) on.

    ``daily_rate`` 0.001 is 千分之一 per day. ``minimum`` is in the item's currency.
    ``cap_fraction`` caps the fee at that share of the principal (1: never above
    the principal); ``cap_amount`` at a fixed amount. Either may be None.
    """

    effective_from: date
    daily_rate: Decimal
    minimum: Decimal = Decimal("1.00")
    cap_fraction: Decimal | None = None
    cap_amount: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("daily_rate", "minimum", "cap_fraction", "cap_amount"):
            value = getattr(self, name)
            if value is None:
                continue
            value = to_decimal(value, f"late-fee {name}")
            if value < 0:
                raise LateFeeError(f"late-fee {name} {value} is negative")
            object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True)
class LateFeeSegment:
    """Consecutive overdue days with one base and one rule."""

    days: DateSpan
    base: Money
    daily_rate: Decimal
    amount: Money


@dataclass(frozen=True, slots=True)
class LateFee:
    principal: Money
    due_date: date
    through: date
    segments: tuple[LateFeeSegment, ...]
    exact: Money
    amount: Money
    minimum_applied: bool
    cap_applied: bool

    @property
    def days(self) -> int:
        return sum(segment.days.days for segment in self.segments)


def late_fee(
    principal: Money,
    due_date: date,
    *,
    through: date,
    rules: Sequence[LateFeeRule],
    payments: Sequence[Allocation] = (),
    policy: RoundingPolicy | None = None,
) -> LateFee:
    """The fee accrued on ``principal`` due ``due_date``, up to and with ``through``.

    ``payments`` are the amounts applied to this item (their ``applied_on`` dates
    matter); the principal is what was due, before any of them.
    """
    policy = policy or RoundingPolicy()
    for payment in payments:
        if payment.amount.currency != principal.currency:
            raise CurrencyMismatchError(
                f"payment {payment.payment_id} in {payment.amount.currency} on an item "
                f"in {principal.currency}"
            )
    segments = _segments(principal, due_date, through, rules, payments)
    exact = Money.total([segment.amount for segment in segments], principal.currency)
    amount = exact.rounded(policy)
    minimum_applied = cap_applied = False
    if segments:
        rule = _rule_on(rules, segments[-1].days.last)
        minimum = Money(rule.minimum, principal.currency).rounded(policy)
        if amount < minimum:
            amount, minimum_applied = minimum, True
        cap = _cap(rule, principal, policy)
        if cap is not None and amount > cap:
            amount, cap_applied = cap, True
    return LateFee(
        principal,
        due_date,
        through,
        tuple(segments),
        exact,
        amount,
        minimum_applied,
        cap_applied,
    )


def _segments(
    principal: Money,
    due_date: date,
    through: date,
    rules: Sequence[LateFeeRule],
    payments: Sequence[Allocation],
) -> list[LateFeeSegment]:
    first, stop = due_date + timedelta(days=1), through + timedelta(days=1)
    if stop <= first:
        return []
    cuts = {first, stop}
    cuts.update(p.applied_on + timedelta(days=1) for p in payments)
    cuts.update(rule.effective_from for rule in rules)
    ordered = sorted(cut for cut in cuts if first <= cut <= stop)
    segments = []
    for start, end in itertools.pairwise(ordered):
        paid = [p.amount for p in payments if p.applied_on < start]
        base = principal - Money.total(paid, principal.currency)
        if base.amount <= 0:
            break
        rule = _rule_on(rules, start)
        days = (end - start).days
        amount = Money(
            exact_product(base.amount, rule.daily_rate, Decimal(days)), base.currency
        )
        segments.append(
            LateFeeSegment(
                DateSpan(start, end - timedelta(days=1)), base, rule.daily_rate, amount
            )
        )
    return segments


def _rule_on(rules: Sequence[LateFeeRule], day: date) -> LateFeeRule:
    in_force = sorted(
        (r for r in rules if r.effective_from <= day), key=lambda r: r.effective_from
    )
    if not in_force:
        raise LateFeeError(f"no late-fee rule is in force on {day}")
    return in_force[-1]


def _cap(rule: LateFeeRule, principal: Money, policy: RoundingPolicy) -> Money | None:
    caps = []
    if rule.cap_fraction is not None:
        caps.append(exact_product(principal.amount, rule.cap_fraction))
    if rule.cap_amount is not None:
        caps.append(rule.cap_amount)
    if not caps:
        return None
    down = RoundingPolicy(RoundingMode.DOWN, policy.quantum)
    return Money(down.round(min(caps)), principal.currency)


def late_fee_charge(
    fee: LateFee,
    *,
    party_id: str,
    unit_id: str | None,
    item_id: str,
    already_charged: Money | None = None,
) -> Charge | None:
    """A charge for the part of ``fee`` not charged before (None if nothing new)."""
    increment = fee.amount - (already_charged or Money.zero(fee.amount.currency))
    if increment.amount <= 0:
        return None
    return Charge(
        kind=ChargeKind.LATE_FEE,
        party_id=party_id,
        unit_id=unit_id,
        description=f"Late fee on {item_id}: {fee.days} days overdue after "
        f"{fee.due_date}",
        amount=increment,
        service_period=DateSpan(fee.due_date + timedelta(days=1), fee.through),
        source=ChargeSource(reference=item_id),
    )
