"""Tariff structure: tier cycles, time-of-use windows, versions, refusals."""

from __future__ import annotations

from datetime import time

import pytest

from cloud.billing import (
    LineComponent,
    MeterKind,
    Period,
    PeriodError,
    Tariff,
    TariffBook,
    TariffError,
    TariffVersion,
    Tier,
    TierCycle,
    TouSchedule,
    TouWindow,
    cycle_usage_before,
    price_usage,
)
from tests.cloud.billing.helpers import (
    LONG_AGO,
    TZ,
    D,
    at,
    flat,
    installation,
    readings,
    series,
    zhejiang,
    zhejiang_tou_tariff,
)


def test_annual_cycle_start_month_is_configurable() -> None:
    july_cycle = zhejiang(TierCycle(12, 7))
    assert july_cycle.cycle_start(at(2026, 3, 15)) == at(2025, 7, 1)
    assert july_cycle.cycle_start(at(2026, 7, 1)) == at(2026, 7, 1)
    assert zhejiang().cycle_start(at(2026, 3, 15)) == at(2026, 1, 1)
    assert zhejiang(TierCycle(2, 1)).cycle_start(at(2026, 4, 30)) == at(2026, 3, 1)


def test_usage_earlier_in_the_cycle_uses_up_tier_room() -> None:
    # Jan–Nov 2025: 2600 kWh; December: 300 kWh. Prior usage from the series itself.
    inst = installation(installed_at=at(2025, 1, 1))
    result = series(
        [inst], readings("m1", [(at(2025, 12, 1), "2600"), (at(2026, 1, 1), "2900")])
    )
    december = Period.month(2025, 12, TZ)
    prior = cycle_usage_before(result, zhejiang(), december.start)
    assert prior == D(2600)
    pricing = price_usage(
        zhejiang(),
        result.period(december).intervals,
        period=december,
        prior_cycle_usage=prior,
    )
    # 160 × 0.538 = 86.08 in tier 1, 140 × 0.588 = 82.32 in tier 2
    assert [(ln.tier, ln.quantity, ln.amount.amount) for ln in pricing.lines] == [
        (1, D(160), D("86.080")),
        (2, D(140), D("82.320")),
    ]


def test_a_cycle_starting_inside_the_period_resets_tier_room() -> None:
    # Monthly tiers (260 / 400) billed over two months: each month starts at tier 1.
    tariff = Tariff(
        "monthly",
        MeterKind.ELECTRICITY,
        (
            TariffVersion(
                LONG_AGO,
                (Tier(D(260), D("0.6")), Tier(D(400), D("0.65")), Tier(None, D("0.9"))),
            ),
        ),
        cycle=TierCycle(1, 1),
    )
    inst = installation(installed_at=at(2026, 1, 1))
    result = series(
        [inst], readings("m1", [(at(2026, 2, 1), "300"), (at(2026, 3, 1), "600")])
    )
    both = Period(at(2026, 1, 1), at(2026, 3, 1))
    pricing = price_usage(tariff, result.period(both).intervals, period=both)
    # January 300: 260 t1 + 40 t2; February 300: 260 t1 + 40 t2 (not 300 in t3).
    assert [(ln.tier, ln.quantity) for ln in pricing.lines] == [
        (1, D(260)),
        (2, D(40)),
        (1, D(260)),
        (2, D(40)),
    ]


MARCH_2 = Period(at(2026, 3, 2), at(2026, 3, 3))


def test_time_of_use_lines_are_bands_plus_tier_adders() -> None:
    inst = installation(installed_at=MARCH_2.start)
    result = series([inst], readings("m1", [(MARCH_2.end, "24")]))
    pricing = price_usage(
        zhejiang_tou_tariff(),
        result.period(MARCH_2).intervals,
        period=MARCH_2,
        prior_cycle_usage=D(2750),
    )
    assert [
        (ln.component, ln.band, ln.tier, ln.quantity, ln.rate) for ln in pricing.lines
    ] == [
        (LineComponent.BAND, "peak", None, D(14), D("0.568")),
        (LineComponent.BAND, "valley", None, D(10), D("0.288")),
        (LineComponent.TIER_ADDER, None, 2, D(14), D("0.050")),
    ]
    assert pricing.quantity == D(24)


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        pytest.param(
            [TouWindow(time(8), time(22), "peak")],
            "gap or overlap",
            id="valley missing",
        ),
        pytest.param(
            [
                TouWindow(time(8), time(22), "peak"),
                TouWindow(time(21), time(8), "valley"),
            ],
            "gap or overlap",
            id="one hour in two bands",
        ),
        pytest.param(
            [TouWindow(time(0), time(22), "peak")],
            "not at midnight",
            id="day ends at 22:00",
        ),
    ],
)
def test_tou_windows_must_cover_the_day_once(
    windows: list[TouWindow], message: str
) -> None:
    with pytest.raises(TariffError, match=message):
        TouSchedule(tuple(windows))


def test_tier_limits_must_rise() -> None:
    version = TariffVersion(
        LONG_AGO,
        (Tier(D(360), D("1.3")), Tier(D(240), D("1.95")), Tier(None, D("3.9"))),
    )
    with pytest.raises(TariffError, match="tier limit 240 does not rise above"):
        Tariff("bad", MeterKind.WATER, (version,))
    with pytest.raises(TariffError, match="without an upper limit"):
        TariffVersion(LONG_AGO, (Tier(D(240), D("1.3")),))
    with pytest.raises(TariffError, match="negative"):
        Tier(None, D("-0.1"))
    with pytest.raises(TypeError, match=r"tier rate 0\.538 is a float"):
        Tier(None, 0.538)  # type: ignore[arg-type]


def test_an_unknown_time_zone_is_refused() -> None:
    version = TariffVersion(LONG_AGO, (Tier(None, D("0.5")),))
    with pytest.raises(PeriodError, match="'Asia/Shanghia' is not a known IANA zone"):
        Tariff("t", MeterKind.ELECTRICITY, (version,), timezone="Asia/Shanghia")


def test_no_version_in_force_is_an_error() -> None:
    with pytest.raises(TariffError, match="no version in force at 2019"):
        flat("0.5").version_at(at(2019, 6, 1))


def test_tariff_book_finds_per_property_then_default() -> None:
    special, default = flat("0.6", "special"), flat("0.5", "default")
    book = TariffBook(
        {
            ("tower-a", MeterKind.ELECTRICITY): special,
            (None, MeterKind.ELECTRICITY): default,
        }
    )
    assert book.tariff_for("tower-a", MeterKind.ELECTRICITY) is special
    assert book.tariff_for("tower-b", MeterKind.ELECTRICITY) is default
    with pytest.raises(
        TariffError, match="no water tariff is assigned to property tower-a"
    ):
        book.tariff_for("tower-a", MeterKind.WATER)
