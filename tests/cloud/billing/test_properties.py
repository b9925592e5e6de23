"""Properties that must hold for every input, checked with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cloud.billing import (
    Charge,
    ChargeKind,
    MeterKind,
    MeterReading,
    Money,
    OpenItem,
    Payment,
    Period,
    RoundingMode,
    RoundingPolicy,
    RoundingScope,
    Tariff,
    TariffVersion,
    Tier,
    allocate_payment,
    apportion_by_area,
    draft_invoice,
    price_usage,
)
from tests.cloud.billing.helpers import LONG_AGO, at, installation, series

FAST = settings(max_examples=150, deadline=None)

amounts = st.decimals(
    min_value=Decimal("-10000"), max_value=Decimal("100000"), places=4
).map(lambda d: d.normalize() if d != 0 else Decimal(0))
cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
policies = st.builds(
    RoundingPolicy,
    mode=st.sampled_from(list(RoundingMode)),
    scope=st.sampled_from(list(RoundingScope)),
)


@FAST
@given(st.lists(amounts, min_size=1, max_size=12), policies)
def test_an_invoice_always_equals_the_sum_of_its_lines(
    values: list[Decimal], policy: RoundingPolicy
) -> None:
    charges = [
        Charge(ChargeKind.ONE_OFF, "t1", "101", f"line {i}", Money(v))
        for i, v in enumerate(values)
    ]
    draft = draft_invoice(
        charges,
        organization_id="o",
        party_id="t1",
        due_date=date(2026, 1, 1),
        policy=policy,
    )
    assert draft.total == Money.total([line.amount for line in draft.lines], "CNY")
    for line in draft.lines:
        assert line.amount.amount % policy.quantum == 0
        assert abs(line.amount.amount - line.exact_amount.amount) < policy.quantum
    if policy.scope is RoundingScope.PER_INVOICE:
        assert draft.total.amount == policy.round(sum(values, Decimal(0)))


open_items = st.lists(
    st.tuples(
        cents,
        st.integers(min_value=0, max_value=400),
        st.sampled_from([ChargeKind.RENT, ChargeKind.LATE_FEE, ChargeKind.WATER]),
    ),
    max_size=10,
)


@FAST
@given(cents, open_items)
def test_payments_never_allocate_more_than_was_paid(
    paid: Decimal, specs: list[tuple[Decimal, int, ChargeKind]]
) -> None:
    items = [
        OpenItem(
            f"i{n}",
            "t1",
            "101",
            kind,
            date(2026, 1, 1) + timedelta(days=days),
            Money(amount),
        )
        for n, (amount, days, kind) in enumerate(specs)
    ]
    result = allocate_payment(Payment("p", "t1", date(2026, 6, 1), Money(paid)), items)
    assert result.allocated + result.unallocated == Money(paid)
    assert result.allocated <= Money(paid)
    assert result.unallocated.amount >= 0
    outstanding = {item.item_id: item.outstanding for item in items}
    for allocation in result.allocations:
        assert Money(Decimal(0)) < allocation.amount <= outstanding[allocation.item_id]
    if not result.unallocated.is_zero():
        assert result.allocated == Money.total([i.outstanding for i in items], "CNY")


areas = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2),
    min_size=1,
    max_size=12,
).filter(lambda found: sum(found.values()) > 0)


@FAST
@given(st.integers(min_value=-10_000_000, max_value=10_000_000), areas)
def test_apportionment_shares_sum_exactly_to_the_total(
    total_cents: int, by_unit: dict[str, Decimal]
) -> None:
    total = Money(Decimal(total_cents) / 100)
    shares = apportion_by_area(total, by_unit)
    assert Money.total(list(shares.values()), "CNY") == total
    whole = sum(by_unit.values())
    for unit, share in shares.items():
        exact = Fraction(total.amount) * Fraction(by_unit[unit]) / Fraction(whole)
        assert abs(Fraction(share.amount) - exact) < Fraction(1, 100)


tier_structures = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=3000),
        st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=3),
    ),
    min_size=0,
    max_size=4,
)
PERIOD = Period(at(2026, 1, 1), at(2026, 2, 1))


def billed(tariff: Tariff, quantity: Decimal, prior: Decimal) -> Decimal:
    usage = series(
        [installation(installed_at=PERIOD.start, register=None)],
        [MeterReading("r", "m1", PERIOD.end, quantity)],
    ).period(PERIOD)
    pricing = price_usage(
        tariff, usage.intervals, period=PERIOD, prior_cycle_usage=prior
    )
    policy = RoundingPolicy()
    return sum((policy.round(line.amount.amount) for line in pricing.lines), Decimal(0))


@FAST
@given(
    tier_structures,
    st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=3),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("9000"), places=1),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("9000"), places=1),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("9000"), places=1),
)
def test_tiered_charges_are_monotone_in_usage(
    steps: list[tuple[int, Decimal]],
    last_rate: Decimal,
    first: Decimal,
    second: Decimal,
    prior: Decimal,
) -> None:
    limit, tiers = 0, []
    for width, rate in steps:
        limit += width
        tiers.append(Tier(Decimal(limit), rate))
    tiers.append(Tier(None, last_rate))
    tariff = Tariff(
        "t", MeterKind.ELECTRICITY, (TariffVersion(LONG_AGO, tuple(tiers)),)
    )
    low, high = sorted((first, second))
    assert billed(tariff, low, prior) <= billed(tariff, high, prior)


@FAST
@given(
    st.lists(
        st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=1),
        min_size=2,
        max_size=15,
    ),
    st.data(),
)
def test_a_glitch_that_recovers_never_changes_the_total(
    steps: list[Decimal], data: st.DataObject
) -> None:
    # An increasing series (with equal readings), one sample replaced by 0.0 (not
    # the newest): the total stays newest − initial.
    start = data.draw(
        st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.9"), places=1)
    )
    values, value = [], start
    for step in steps:
        value = (value + step) % Decimal(100000)
        values.append(value)
    # A series that wraps past 99999.9 reads 0.0 legitimately right after the wrap,
    # so a glitch to 0.0 there is indistinguishable from the true reading; the wrap
    # itself is covered by the rollover cases.
    assume(start + sum(steps) < Decimal(100000))
    spoiled = data.draw(st.integers(min_value=0, max_value=len(values) - 2))
    readings = [
        MeterReading(
            f"r{n}",
            "m1",
            at(2026, 1, 1) + timedelta(hours=n + 1),
            Decimal("0.0") if n == spoiled else v,
        )
        for n, v in enumerate(values)
    ]
    result = series(
        [installation(installed_at=at(2026, 1, 1), initial=str(start))], readings
    )
    assert sum(d.quantity for d in result.deltas) == sum(steps)
