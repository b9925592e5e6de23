"""Property fee and common-area shares; rent periods, deposits, usage per lease."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.billing import (
    AreaBasis,
    ChargeKind,
    DateSpan,
    Lease,
    LeaseError,
    Money,
    MoneyError,
    Period,
    PeriodAlignment,
    PropertyFeeTerms,
    RecurringTerms,
    RentFrequency,
    UnitArea,
    apportion_by_area,
    deposit_charge,
    monthly_property_fee,
    one_off_charge,
    recurring_periods,
    rent_charges,
    split_usage_by_lease,
)
from tests.cloud.billing.helpers import TZ, D, at, installation, readings, series

UNIT = UnitArea("101", D("89.37"), D("72.10"))


def test_property_fee_uses_the_contract_area() -> None:
    assert monthly_property_fee(UNIT, PropertyFeeTerms(D("2.98"))) == Money.of(
        "266.3226"
    )
    usable = PropertyFeeTerms(D("2.98"), AreaBasis.USABLE)
    # 72.10 × 2.98 = 214.858
    assert monthly_property_fee(UNIT, usable) == Money.of("214.858")


def test_common_area_shares_sum_exactly_to_the_total() -> None:
    # 1000.00 by 89.37 / 120.00 / 65.50 (of 274.87): exact 325.1355…, 436.5700…,
    # 238.2944…; floors 325.13 + 436.57 + 238.29 = 999.99; the cent goes to the
    # largest remainder (A, .55 of a cent).
    shares = apportion_by_area(
        Money.of("1000.00"), {"A": D("89.37"), "B": D("120.00"), "C": D("65.50")}
    )
    assert shares == {
        "A": Money.of("325.14"),
        "B": Money.of("436.57"),
        "C": Money.of("238.29"),
    }


def test_equal_remainders_go_to_the_larger_area_then_the_smaller_id() -> None:
    # 0.02 over areas 1, 1, 1: each 0.00666…; the two cents go to "a" and "b".
    shares = apportion_by_area(Money.of("0.02"), {"c": D(1), "b": D(1), "a": D(1)})
    assert shares == {"c": Money.of(0), "b": Money.of("0.01"), "a": Money.of("0.01")}
    # 0.01 over 1 and 2: remainders 0.333 and 0.667 → the larger area's.
    assert apportion_by_area(Money.of("0.01"), {"x": D(1), "y": D(2)})["y"] == Money.of(
        "0.01"
    )


def test_apportionment_refusals() -> None:
    with pytest.raises(MoneyError, match=r"not a multiple of 0\.01; round it first"):
        apportion_by_area(Money.of("10.005"), {"a": D(1)})
    with pytest.raises(MoneyError, match="total area of zero"):
        apportion_by_area(Money.of("10"), {"a": D(0)})


MONTHLY = RecurringTerms(Money.of("3000.00"))


def test_calendar_quarters_follow_the_anchor_month() -> None:
    terms = RecurringTerms(
        Money.of("9000"), frequency=RentFrequency.QUARTERLY, anchor_month=2
    )
    periods = list(recurring_periods(terms, date(2026, 3, 15), date(2026, 6, 1)))
    assert periods == [
        DateSpan(date(2026, 2, 1), date(2026, 4, 30)),
        DateSpan(date(2026, 5, 1), date(2026, 7, 31)),
    ]


def test_lease_start_alignment_never_drifts_at_month_ends() -> None:
    terms = RecurringTerms(Money.of("3000"), alignment=PeriodAlignment.LEASE_START)
    periods = list(recurring_periods(terms, date(2026, 1, 31), date(2026, 4, 1)))
    assert [(p.first, p.last) for p in periods] == [
        (date(2026, 1, 31), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 3, 30)),
        (date(2026, 3, 31), date(2026, 4, 29)),
    ]


def test_rent_is_billed_in_the_window_of_its_first_leased_day() -> None:
    lease = Lease("L1", "101", "t1", date(2026, 3, 15), date(2026, 5, 10), MONTHLY)
    window = DateSpan(date(2026, 3, 1), date(2026, 5, 31))
    charges = rent_charges(lease, window)
    # March 17/31 × 3000 = 1645.1612903226 (10 places); April in full;
    # May 10/31 × 3000 = 967.7419354839.
    assert [(c.service_period, c.amount.amount) for c in charges] == [
        (DateSpan(date(2026, 3, 15), date(2026, 3, 31)), D("1645.1612903226")),
        (DateSpan(date(2026, 4, 1), date(2026, 4, 30)), D("3000.00")),
        (DateSpan(date(2026, 5, 1), date(2026, 5, 10)), D("967.7419354839")),
    ]
    assert all(c.kind is ChargeKind.RENT and c.source.lease_id == "L1" for c in charges)
    assert "(17/31 days of 3000.00 CNY)" in charges[0].description
    assert rent_charges(lease, DateSpan(date(2026, 6, 1), date(2026, 6, 30))) == []


def test_deposit_and_one_off_charges_keep_their_source() -> None:
    lease = Lease(
        "L1", "101", "t1", date(2026, 3, 1), None, MONTHLY, deposit=Money.of("6000")
    )
    deposit = deposit_charge(lease)
    assert deposit is not None
    assert (deposit.kind, deposit.amount, deposit.source.reference) == (
        ChargeKind.DEPOSIT,
        Money.of("6000"),
        "deposit",
    )
    repair = one_off_charge(
        party_id="t1",
        unit_id="101",
        description="Replace broken window (tenant damage)",
        amount=Money.of("350.00"),
        on=date(2026, 3, 20),
        reference="WO-2026-0042",
    )
    assert (repair.kind, repair.source.reference) == (
        ChargeKind.ONE_OFF,
        "WO-2026-0042",
    )


def test_lease_dates_that_cannot_be() -> None:
    with pytest.raises(LeaseError, match="ends 2026-02-01 before it starts 2026-03-01"):
        Lease("L1", "101", "t1", date(2026, 3, 1), date(2026, 2, 1), MONTHLY)
    first = Lease("L1", "101", "t1", date(2026, 1, 1), date(2026, 3, 31), MONTHLY)
    second = Lease("L2", "101", "t2", date(2026, 3, 15), None, MONTHLY)
    with pytest.raises(LeaseError, match="L1 and L2 of one unit overlap"):
        split_usage_by_lease([], [first, second], TZ)


def test_usage_goes_to_whoever_leased_the_unit_split_by_time() -> None:
    # One delta of 60 kWh over 1–31 Jan 00:00 (30 days). L1 runs to 10 Jan (9 days),
    # nobody 10–16 Jan (6 days), L2 from 16 Jan (15 days): 18 / 12 / 30 kWh.
    inst = installation(installed_at=at(2026, 1, 1))
    usage = series([inst], readings("m1", [(at(2026, 1, 31), "60")]))
    intervals = usage.period(Period.month(2026, 1, TZ)).intervals
    first = Lease("L1", "101", "t1", date(2025, 6, 1), date(2026, 1, 9), MONTHLY)
    second = Lease("L2", "101", "t2", date(2026, 1, 16), None, MONTHLY)
    split = split_usage_by_lease(intervals, [second, first], TZ)
    assert sum(part.quantity for part in split.by_lease["L1"]) == D(18)
    assert sum(part.quantity for part in split.vacant) == D(12)
    assert sum(part.quantity for part in split.by_lease["L2"]) == D(30)
