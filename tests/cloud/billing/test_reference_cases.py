"""Reference bills worked out by hand; each id carries its arithmetic.

Every case runs through the public API the billing service uses (series → period
usage → tariff → charges → invoice with the default policy: half-up to 0.01 per
line) and asserts the invoice total to the cent. The tariff facts are from
/work/shared/data/billing/china_tariffs.md (Zhejiang annual tiers, Junlian water,
property fee 2.98 元/m²·month, late fee 0.1 %/day with a 1 元 minimum).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from cloud.billing import (
    Allocation,
    AttributionRule,
    BoundaryRule,
    Charge,
    ChargeKind,
    DateSpan,
    InMemoryNumberAllocator,
    LateFeeRule,
    Lease,
    MeterKind,
    Money,
    Period,
    PropertyFeeTerms,
    Proration,
    RecurringTerms,
    Register,
    RentFrequency,
    Tariff,
    TariffVersion,
    Tier,
    UnitArea,
    draft_invoice,
    issue_invoice,
    late_fee,
    price_usage,
    property_fee_charges,
    rent_charges,
    usage_charges,
)
from cloud.billing.consumption import Attribution, build_series
from tests.cloud.billing.helpers import (
    LONG_AGO,
    TZ,
    D,
    at,
    flat,
    installation,
    junlian,
    readings,
    series,
    zhejiang,
    zhejiang_tou_tariff,
)

JANUARY = Period.month(2026, 1, TZ)


def invoice_total(charges: list[Charge]) -> Decimal:
    draft = draft_invoice(
        charges, organization_id="org", party_id="tenant", due_date=date(2026, 2, 10)
    )
    invoice = issue_invoice(
        draft, allocator=InMemoryNumberAllocator(), issued_on=date(2026, 2, 1)
    )
    assert invoice.total == Money.total([line.amount for line in invoice.lines], "CNY")
    return invoice.total.amount


def usage_bill(
    tariff: Tariff,
    values: list[tuple[object, str]],
    period: Period,
    prior: str = "0",
    start: object = None,
    initial: str = "0",
) -> Decimal:
    """Bill a single meter whose readings are ``values``, installed at ``start``."""
    inst = installation(installed_at=start or period.start, initial=initial)  # type: ignore[arg-type]
    usage = series([inst], readings("m1", values)).period(period)  # type: ignore[arg-type]
    pricing = price_usage(
        tariff, usage.intervals, period=period, prior_cycle_usage=D(prior)
    )
    kind = ChargeKind.for_meter(tariff.meter_kind)
    return invoice_total(
        usage_charges(pricing, kind=kind, party_id="tenant", unit_id="101", timezone=TZ)
    )


YEAR_2025 = Period(at(2025, 1, 1), at(2026, 1, 1))


def zhejiang_year(kwh: str) -> Callable[[], Decimal]:
    return lambda: usage_bill(zhejiang(), [(at(2026, 1, 1), kwh)], YEAR_2025)


def junlian_year(
    m3: str, boundary: BoundaryRule | None = None
) -> Callable[[], Decimal]:
    return lambda: usage_bill(junlian(boundary), [(at(2026, 1, 1), m3)], YEAR_2025)


def price_change_mid_january() -> Decimal:
    tariff = Tariff(
        "flat-change",
        MeterKind.ELECTRICITY,
        (
            TariffVersion(LONG_AGO, (Tier(None, D("0.538")),)),
            TariffVersion(at(2026, 1, 16), (Tier(None, D("0.558")),)),
        ),
    )
    values = [
        (at(2026, 1, 11), "1100"),
        (at(2026, 1, 21), "1200"),
        (at(2026, 2, 1), "1310"),
    ]
    return usage_bill(tariff, values, JANUARY, initial="1000")


def meter_replaced_mid_january() -> Decimal:
    old = installation(
        "old",
        installed_at=at(2026, 1, 1),
        initial="100.0",
        removed_at=at(2026, 1, 15, 12),
        final="250.0",
    )
    new = installation("new", installed_at=at(2026, 1, 15, 12), initial="0.5")
    values = readings("old", [(at(2026, 1, 10), "180.0")]) + readings(
        "new", [(at(2026, 2, 1), "80.5")]
    )
    usage = series([old, new], values).period(JANUARY)
    assert usage.quantity == D("230.0")
    pricing = price_usage(flat("0.538"), usage.intervals, period=JANUARY)
    return invoice_total(
        usage_charges(
            pricing,
            kind=ChargeKind.ELECTRICITY,
            party_id="tenant",
            unit_id="101",
            timezone=TZ,
        )
    )


def rollover_in_january() -> Decimal:
    values = [
        (at(2026, 1, 20), "99999.9"),
        (at(2026, 1, 25), "0.4"),
        (at(2026, 2, 1), "10.0"),
    ]
    return usage_bill(flat("0.538"), values, JANUARY, initial="99990.0")


def zero_glitch_in_january() -> Decimal:
    values = [
        (at(2026, 1, 10), "0.0"),
        (at(2026, 1, 11), "1050.0"),
        (at(2026, 2, 1), "1100.0"),
    ]
    return usage_bill(flat("0.538"), values, JANUARY, initial="1000.0")


def lower_reading_in_january() -> Decimal:
    values = [
        (at(2026, 1, 10), "5100"),
        (at(2026, 1, 20), "4000"),
        (at(2026, 2, 1), "4050"),
    ]
    return usage_bill(flat("0.538"), values, JANUARY, initial="5000")


MARCH_2 = Period(at(2026, 3, 2), at(2026, 3, 3))


def tou_readings_at_window_edges() -> Decimal:
    values = [
        (at(2026, 3, 2, 8), "3"),
        (at(2026, 3, 2, 22), "13"),
        (at(2026, 3, 3), "15"),
    ]
    return usage_bill(zhejiang_tou_tariff(), values, MARCH_2)


def tou_one_delta_pro_rata(prior: str) -> Callable[[], Decimal]:
    return lambda: usage_bill(
        zhejiang_tou_tariff(), [(at(2026, 3, 3), "24")], MARCH_2, prior
    )


def lease_rent(
    rent: str,
    start: date,
    end: date | None,
    window: DateSpan,
    proration: Proration = Proration.BY_DAYS,
    frequency: RentFrequency = RentFrequency.MONTHLY,
) -> Callable[[], Decimal]:
    terms = RecurringTerms(Money.of(rent), frequency=frequency, proration=proration)
    lease = Lease("L1", "101", "tenant", start, end, terms)
    return lambda: invoice_total(rent_charges(lease, window))


MARCH = DateSpan(date(2026, 3, 1), date(2026, 3, 31))
APRIL = DateSpan(date(2026, 4, 1), date(2026, 4, 30))


def property_fee_month() -> Decimal:
    unit = UnitArea("101", D("89.37"), D("72.10"))
    charges = property_fee_charges(
        unit,
        PropertyFeeTerms(D("2.98")),
        party_id="tenant",
        start=date(2025, 1, 1),
        end=None,
        window=MARCH,
    )
    return invoice_total(charges)


RESIDENTIAL = [LateFeeRule(date(2000, 1, 1), D("0.001"), minimum=D("1.00"))]


def late(
    principal: str,
    due: date,
    through: date,
    paid: list[tuple[date, str]],
    rules: list[LateFeeRule] | None = None,
) -> Callable[[], Decimal]:
    payments = [Allocation("p", "item", Money.of(amount), day) for day, amount in paid]
    return lambda: (
        late_fee(
            Money.of(principal),
            due,
            through=through,
            rules=rules or RESIDENTIAL,
            payments=payments,
        ).amount.amount
    )


RULE_CHANGE = [
    LateFeeRule(date(2000, 1, 1), D("0.001")),
    LateFeeRule(date(2026, 3, 21), D("0.0005")),
]
CAPPED = [LateFeeRule(date(2000, 1, 1), D("0.001"), cap_fraction=D("0.3"))]

CASES: list[tuple[str, Callable[[], Decimal], str]] = [
    (
        "zhejiang 2760 kWh all tier 1: 2760×0.538=1484.88",
        zhejiang_year("2760"),
        "1484.88",
    ),
    (
        "zhejiang 2760.5 kWh: 1484.88 + 0.5×0.588=0.294→0.29 = 1485.17",
        zhejiang_year("2760.5"),
        "1485.17",
    ),
    (
        "zhejiang 5000 kWh: 2760×0.538 + 2040×0.588 + 200×0.838 = "
        "1484.88+1199.52+167.60 = 2852.00",
        zhejiang_year("5000"),
        "2852.00",
    ),
    (
        "zhejiang December 300 kWh after 2600 in the year: 160×0.538=86.08 + "
        "140×0.588=82.32 = 168.40",
        lambda: usage_bill(
            zhejiang(),
            [(at(2026, 1, 1), "300")],
            Period.month(2025, 12, TZ),
            prior="2600",
        ),
        "168.40",
    ),
    (
        "junlian 400 m³: 240×1.30 + 120×1.95 + 40×3.90 = 312.00+234.00+156.00 = 702.00",
        junlian_year("400"),
        "702.00",
    ),
    (
        "junlian 360 m³, 360 in tier 2 (default): 312.00 + 120×1.95=234.00 = 546.00",
        junlian_year("360"),
        "546.00",
    ),
    (
        "junlian 360 m³, 360 in tier 3: 312.00 + 119×1.95=232.05 + 1×3.90 = 547.95",
        junlian_year("360", BoundaryRule.INCLUSIVE_LOWER),
        "547.95",
    ),
    (
        "junlian 400 m³, 360 in tier 3: 312.00 + 232.05 + 41×3.90=159.90 = 703.95",
        junlian_year("400", BoundaryRule.INCLUSIVE_LOWER),
        "703.95",
    ),
    (
        "price change 16 Jan, 0.538→0.558: before (100 + 100×5/10)=150×0.538=80.70, "
        "after (50 + 110)=160×0.558=89.28, = 169.98",
        price_change_mid_january,
        "169.98",
    ),
    (
        "meter replaced 15 Jan: (250.0−100.0) + (80.5−0.5) = 230.0 kWh×0.538 = 123.74",
        meter_replaced_mid_january,
        "123.74",
    ),
    (
        "rollover 99999.9→0.4: 9.9 + 0.5 + 9.6 = 20.0 kWh × 0.538 = 10.76",
        rollover_in_january,
        "10.76",
    ),
    (
        "zero glitch 1000.0→0.0→1050.0→1100.0: 100.0 kWh × 0.538 = 53.80",
        zero_glitch_in_january,
        "53.80",
    ),
    (
        "lower reading held: 5000→5100 billed, 4000 and 4050 held: 100×0.538 = 53.80",
        lower_reading_in_january,
        "53.80",
    ),
    (
        "TOU readings at 08/22/24: peak 10×0.568=5.68 + valley (3+2)×0.288=1.44 = 7.12",
        tou_readings_at_window_edges,
        "7.12",
    ),
    (
        "TOU one 24 kWh delta pro rata: peak 14×0.568=7.952→7.95 + "
        "valley 10×0.288=2.88 = 10.83",
        tou_one_delta_pro_rata("0"),
        "10.83",
    ),
    (
        "TOU crossing tier 1 after 2750: 7.95 + 2.88 + tier-2 adder 14×0.05=0.70 "
        "= 11.53",
        tou_one_delta_pro_rata("2750"),
        "11.53",
    ),
    (
        "lease from 15 Mar, 3100/month by days: 3100×17/31 = 1700.00",
        lease_rent("3100.00", date(2026, 3, 15), None, MARCH),
        "1700.00",
    ),
    (
        "lease from 15 Mar, 3000/month by days: 3000×17/31 = 1645.1612…→1645.16",
        lease_rent("3000.00", date(2026, 3, 15), None, MARCH),
        "1645.16",
    ),
    (
        "lease from 15 Mar, proration none: full 3000.00",
        lease_rent("3000.00", date(2026, 3, 15), None, MARCH, Proration.NONE),
        "3000.00",
    ),
    (
        "lease ending 10 Apr, 3000/month: 3000×10/30 = 1000.00",
        lease_rent("3000.00", date(2026, 1, 1), date(2026, 4, 10), APRIL),
        "1000.00",
    ),
    (
        "quarterly 9000 from 15 Feb: 9000×(14+31)/(31+28+31) = 9000×45/90 = 4500.00",
        lease_rent(
            "9000.00",
            date(2026, 2, 15),
            None,
            DateSpan(date(2026, 2, 1), date(2026, 2, 28)),
            frequency=RentFrequency.QUARTERLY,
        ),
        "4500.00",
    ),
    ("property fee 89.37 m² × 2.98 = 266.3226 → 266.32", property_fee_month, "266.32"),
    (
        "late fee: 300.00 due 10 Mar, 63.50 paid on time, 236.50 paid 25 Mar: "
        "236.50×0.1%×15 = 3.5475 → 3.55",
        late(
            "300.00",
            date(2026, 3, 10),
            date(2026, 3, 25),
            [(date(2026, 3, 10), "63.50"), (date(2026, 3, 25), "236.50")],
        ),
        "3.55",
    ),
    (
        "late fee: 20.00 paid 3 days late: 20.00×0.1%×3 = 0.06 → minimum 1.00",
        late(
            "20.00",
            date(2026, 3, 10),
            date(2026, 3, 13),
            [(date(2026, 3, 13), "20.00")],
        ),
        "1.00",
    ),
    (
        "late fee: 1000.00, 400.00 paid 15 Mar, rest 25 Mar: 1000×0.1%×5 = 5.00 + "
        "600×0.1%×10 = 6.00 = 11.00",
        late(
            "1000.00",
            date(2026, 3, 10),
            date(2026, 3, 25),
            [(date(2026, 3, 15), "400.00"), (date(2026, 3, 25), "600.00")],
        ),
        "11.00",
    ),
    (
        "late fee, rule 0.1%→0.05% from 21 Mar: 1000×0.1%×10 = 10.00 + "
        "1000×0.05%×10 = 5.00 = 15.00",
        late("1000.00", date(2026, 3, 10), date(2026, 3, 30), [], RULE_CHANGE),
        "15.00",
    ),
    (
        "late fee capped at 30%: 50.00×0.1%×400 = 20.00 → cap 50.00×0.3 = 15.00",
        late("50.00", date(2025, 1, 1), date(2026, 2, 5), [], CAPPED),
        "15.00",
    ),
    (
        "late fee paid on the due date: 0 days → 0.00 (no minimum without a fee)",
        late(
            "20.00",
            date(2026, 3, 10),
            date(2026, 3, 10),
            [(date(2026, 3, 10), "20.00")],
        ),
        "0.00",
    ),
]


@pytest.mark.parametrize(
    ("compute", "expected"),
    [pytest.param(compute, expected, id=name) for name, compute, expected in CASES],
)
def test_reference_amount(compute: Callable[[], Decimal], expected: str) -> None:
    result = compute()
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2, "amounts are stated to the cent"


def test_junlian_tier_of_360_pins_the_boundary_convention() -> None:
    assert junlian().tier_of(D(360), at(2026, 1, 1)) == 2
    assert junlian().tier_of(D("360.001"), at(2026, 1, 1)) == 3
    assert junlian(BoundaryRule.INCLUSIVE_LOWER).tier_of(D(360), at(2026, 1, 1)) == 3
    assert junlian(BoundaryRule.INCLUSIVE_LOWER).tier_of(D(359), at(2026, 1, 1)) == 2
    assert zhejiang().tier_of(D(2760), at(2026, 1, 1)) == 1
    assert zhejiang().tier_of(D("2760.5"), at(2026, 1, 1)) == 2


def test_zhejiang_5000_lines_are_traceable_to_tiers() -> None:
    usage = series(
        [installation(installed_at=YEAR_2025.start)],
        readings("m1", [(at(2026, 1, 1), "5000")]),
    ).period(YEAR_2025)
    pricing = price_usage(zhejiang(), usage.intervals, period=YEAR_2025)
    assert [
        (line.tier, line.quantity, line.rate, line.amount.amount)
        for line in pricing.lines
    ] == [
        (1, D(2760), D("0.538"), D("1484.880")),
        (2, D(2040), D("0.588"), D("1199.520")),
        (3, D(200), D("0.838"), D("167.600")),
    ]
    assert all(line.reading_ids == ("m1:initial", "m1-r1") for line in pricing.lines)


def test_at_reading_attribution_puts_a_straddling_delta_in_the_later_period() -> None:
    # 1000 → 1100 (11 Jan) → 1200 (21 Jan) → 1310 (1 Feb): with AT_READING the price
    # change on 16 Jan splits by reading time only: 100 before, 100 + 110 after.
    inst = installation(installed_at=at(2026, 1, 1), initial="1000")
    values = readings(
        "m1",
        [
            (at(2026, 1, 11), "1100"),
            (at(2026, 1, 21), "1200"),
            (at(2026, 2, 1), "1310"),
        ],
    )
    usage = build_series(
        "unit-101-elec",
        [inst],
        values,
        now=at(2030, 1, 1),
        attribution=Attribution(AttributionRule.AT_READING),
    ).period(JANUARY)
    tariff = Tariff(
        "flat-change",
        MeterKind.ELECTRICITY,
        (
            TariffVersion(LONG_AGO, (Tier(None, D("0.538")),)),
            TariffVersion(at(2026, 1, 16), (Tier(None, D("0.558")),)),
        ),
    )
    pricing = price_usage(tariff, usage.intervals, period=JANUARY)
    # 100×0.538 = 53.80; 210×0.558 = 117.18
    assert [(line.quantity, line.amount.amount) for line in pricing.lines] == [
        (D(100), D("53.800")),
        (D(210), D("117.180")),
    ]


def test_sixteen_bit_counter_rollover_with_ct_ratio() -> None:
    # Raw 16-bit counter × 0.01 kWh wraps at 655.36; CT ratio 40.
    # 600.00 → 655.30 (55.30) → 0.10 (wrap: 0.10 + 655.36 − 655.30 = 0.16)
    # → 20.00 (19.90); register 75.36 × 40 = 3014.40 kWh
    inst = installation(
        installed_at=at(2026, 1, 1),
        initial="600.00",
        register=Register.counter(16, D("0.01")),
        multiplier="40",
    )
    values = readings(
        "m1",
        [
            (at(2026, 1, 15), "655.30"),
            (at(2026, 1, 20), "0.10"),
            (at(2026, 2, 1), "20.00"),
        ],
    )
    usage = series([inst], values).period(JANUARY)
    assert usage.quantity == D("3014.40")
    assert [d.register_delta for d in usage.deltas] == [
        D("55.30"),
        D("0.16"),
        D("19.90"),
    ]
    assert usage.held == ()


@pytest.mark.parametrize(
    ("kwh", "expected"),
    [
        pytest.param("2760", [(1, D(2760))], id="2760 kWh: one tier-1 line"),
        pytest.param(
            "2760.5", [(1, D(2760)), (2, D("0.5"))], id="2760.5: 0.5 in tier 2"
        ),
        pytest.param("4800", [(1, D(2760)), (2, D(2040))], id="4800: tier 2 full"),
    ],
)
def test_zhejiang_boundary_lines(kwh: str, expected: list[tuple[int, Decimal]]) -> None:
    usage = series(
        [installation(installed_at=YEAR_2025.start)],
        readings("m1", [(at(2026, 1, 1), kwh)]),
    ).period(YEAR_2025)
    pricing = price_usage(zhejiang(), usage.intervals, period=YEAR_2025)
    assert [(line.tier, line.quantity) for line in pricing.lines] == expected
