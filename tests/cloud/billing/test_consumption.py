"""Meter series: what is accepted, what is held and why, and how usage is split."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cloud.billing import (
    Attribution,
    AttributionRule,
    DateSpan,
    DeltaKind,
    HoldCode,
    MeterReading,
    MeterSeriesError,
    Period,
    PeriodError,
    ReadingError,
    Register,
    SeriesRules,
    build_series,
)
from tests.cloud.billing.helpers import TZ, D, at, installation, readings, series

JANUARY = Period.month(2026, 1, TZ)
NOW = at(2026, 2, 1, 12)


def held_codes(result: object) -> list[tuple[str, HoldCode]]:
    return [(h.reading.reading_id, h.code) for h in result.held]  # type: ignore[attr-defined]


def test_equal_readings_are_valid_zero_consumption() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="500.0")
    result = series(
        [inst], readings("m1", [(at(2026, 1, 10), "500.0"), (at(2026, 2, 1), "500.0")])
    )
    assert result.held == ()
    assert [d.quantity for d in result.deltas] == [D(0), D(0)]
    usage = result.period(JANUARY)
    assert usage.quantity == 0
    assert usage.complete
    assert len(usage.intervals) == 2, "zero deltas stay as evidence"


def test_rollover_is_recognised_from_the_register_size() -> None:
    # 6 digits, 1 decimal: wraps at 100000.0; 99999.9 → 0.4 is 0.5 of use.
    inst = installation(installed_at=at(2026, 1, 1), initial="99999.0")
    result = series(
        [inst],
        readings(
            "m1",
            [
                (at(2026, 1, 10), "99999.9"),
                (at(2026, 1, 11), "0.4"),
                (at(2026, 1, 12), "1.0"),
            ],
        ),
    )
    assert [(d.register_delta, d.kind) for d in result.deltas] == [
        (D("0.9"), DeltaKind.NORMAL),
        (D("0.5"), DeltaKind.ROLLOVER),
        (D("0.6"), DeltaKind.NORMAL),
    ]
    assert result.held == ()


def test_a_drop_far_from_the_top_is_a_reset_held_for_review() -> None:
    # 32-bit counter × 0.001 kWh (wraps at 4294967.296): 1234.567 → 3.2 cannot be a
    # wrap (wrapped delta 4293735.9 is most of the register).
    inst = installation(
        installed_at=at(2026, 1, 1),
        initial="1000.000",
        register=Register.counter(32, D("0.001")),
    )
    result = series(
        [inst],
        readings(
            "m1",
            [
                (at(2026, 1, 10), "1234.567"),
                (at(2026, 1, 11), "3.200"),
                (at(2026, 1, 12), "4.100"),
            ],
        ),
    )
    assert [d.quantity for d in result.deltas] == [D("234.567")]
    assert held_codes(result) == [
        ("m1-r2", HoldCode.LOWER_NOT_ROLLOVER),
        ("m1-r3", HoldCode.LOWER_NOT_ROLLOVER),
    ]
    reason = result.held[0].reason
    assert "3.200 is lower than the last accepted 1234.567" in reason
    assert "held for review" in reason
    assert result.held[0].code.needs_review


def test_a_single_zero_that_recovers_is_a_glitch_not_a_reset() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="1000.0")
    result = series(
        [inst], readings("m1", [(at(2026, 1, 10), "0.0"), (at(2026, 1, 11), "1050.0")])
    )
    assert [d.quantity for d in result.deltas] == [D("50.0")]
    assert held_codes(result) == [("m1-r1", HoldCode.GLITCH)]
    assert "dropped to 0.0 from 1000.0" in result.held[0].reason
    assert "m1-r2 is back at 1050.0" in result.held[0].reason
    assert not result.held[0].code.needs_review


def test_a_zero_glitch_near_the_top_does_not_bill_the_register_twice() -> None:
    # 99999.5 → 0.0 looks like a wrap of 0.5, but 99999.8 follows: a glitch.
    # Treated as a wrap it would bill 0.5 + 99999.8 kWh.
    inst = installation(installed_at=at(2026, 1, 1), initial="99999.0")
    result = series(
        [inst],
        readings(
            "m1",
            [
                (at(2026, 1, 10), "99999.5"),
                (at(2026, 1, 10, 1), "0.0"),
                (at(2026, 1, 10, 2), "99999.8"),
            ],
        ),
    )
    assert sum(d.quantity for d in result.deltas) == D("0.8")
    assert held_codes(result) == [("m1-r2", HoldCode.GLITCH)]


def test_the_newest_reading_after_a_wrap_waits_for_confirmation() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="99990.0")
    values = readings("m1", [(at(2026, 1, 10), "99999.5"), (at(2026, 1, 11), "0.3")])
    result = series([inst], values)
    assert held_codes(result) == [("m1-r2", HoldCode.ROLLOVER_UNCONFIRMED)]
    assert "awaiting a following reading" in result.held[0].reason
    # The next reading continues upward from 0.3: now it is a rollover.
    more = [*values, MeterReading("m1-r3", "m1", at(2026, 1, 12), D("1.0"))]
    confirmed = series([inst], more)
    assert confirmed.held == ()
    assert sum(d.quantity for d in confirmed.deltas) == D("11.0")


def test_a_spike_that_falls_back_is_held() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="1000.0")
    result = series(
        [inst],
        readings("m1", [(at(2026, 1, 10), "5000.0"), (at(2026, 1, 11), "1010.0")]),
    )
    assert held_codes(result) == [("m1-r1", HoldCode.SPIKE)]
    assert [d.quantity for d in result.deltas] == [D("10.0")]


def test_a_jump_over_half_the_register_is_held() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="10.0")
    result = series([inst], readings("m1", [(at(2026, 1, 10), "60000.0")]))
    assert held_codes(result) == [("m1-r1", HoldCode.IMPLAUSIBLE_JUMP)]
    assert "rose 59990.0 since 10.0" in result.held[0].reason
    assert "plausible 50000.000" in result.held[0].reason


def test_a_jump_faster_than_the_meter_can_run_is_held() -> None:
    # 60 A at 230 V is under 14 kWh per hour: 400 kWh in 10 h is not consumption.
    inst = installation(
        installed_at=at(2026, 1, 1), initial="100.0", max_rate_per_hour="14"
    )
    result = series(
        [inst],
        readings("m1", [(at(2026, 1, 1, 10), "500.0"), (at(2026, 1, 1, 11), "110.0")]),
    )
    assert held_codes(result) == [("m1-r1", HoldCode.IMPLAUSIBLE_JUMP)]
    assert "plausible 140.000" in result.held[0].reason
    assert [d.quantity for d in result.deltas] == [D("10.0")]


def test_readings_from_the_future_are_refused() -> None:
    inst = installation(installed_at=at(2026, 1, 1))
    late = readings("m1", [(at(2026, 1, 5), "5"), (at(2027, 1, 1), "9")])
    result = build_series("unit-101-elec", [inst], late, now=NOW)
    assert held_codes(result) == [("m1-r2", HoldCode.FUTURE)]
    assert "after now" in result.held[0].reason
    assert [d.quantity for d in result.deltas] == [D(5)]


def test_refusals_name_what_is_wrong() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="5")
    values = [
        MeterReading("before", "m1", at(2025, 12, 31), D(1)),
        MeterReading("huge", "m1", at(2026, 1, 2), D("100000.0")),
        MeterReading("stranger", "other-meter", at(2026, 1, 2), D(7)),
        MeterReading("twin-a", "m1", at(2026, 1, 3), D(8)),
        MeterReading("twin-b", "m1", at(2026, 1, 3), D(9)),
        MeterReading("same-a", "m1", at(2026, 1, 4), D(10)),
        MeterReading("same-b", "m1", at(2026, 1, 4), D(10)),
    ]
    result = build_series("unit-101-elec", [inst], values, now=NOW)
    reasons = {h.reading.reading_id: (h.code, h.reason) for h in result.held}
    assert reasons["before"][0] is HoldCode.OUTSIDE_INSTALLATION
    assert "outside the service time" in reasons["before"][1]
    assert reasons["huge"][0] is HoldCode.OUT_OF_REGISTER
    assert "wraps at 100000" in reasons["huge"][1]
    assert reasons["stranger"][0] is HoldCode.UNKNOWN_INSTALLATION
    assert "'other-meter'" in reasons["stranger"][1]
    assert (
        reasons["twin-a"][0] is reasons["twin-b"][0] is HoldCode.CONFLICTING_DUPLICATE
    )
    assert "twin-a=8, twin-b=9" in reasons["twin-a"][1]
    assert reasons["same-b"][0] is HoldCode.DUPLICATE
    assert "same-a" not in reasons
    assert [d.to_reading_id for d in result.deltas] == ["same-a"]
    assert result.held_counts() == {
        HoldCode.OUTSIDE_INSTALLATION: 1,
        HoldCode.OUT_OF_REGISTER: 1,
        HoldCode.UNKNOWN_INSTALLATION: 1,
        HoldCode.CONFLICTING_DUPLICATE: 2,
        HoldCode.DUPLICATE: 1,
    }


def test_series_rules_that_cannot_work_are_refused() -> None:
    with pytest.raises(ReadingError, match="rollover_fraction 0 must be above 0"):
        SeriesRules(rollover_fraction=D(0))
    with pytest.raises(ReadingError, match="lookahead 0 must be at least 1"):
        SeriesRules(lookahead=0)


def test_estimated_readings_are_carried_through() -> None:
    inst = installation(installed_at=at(2026, 1, 1))
    values = [
        MeterReading("read", "m1", at(2026, 1, 10), D(10)),
        MeterReading("est", "m1", at(2026, 2, 1), D(30), estimated=True),
    ]
    usage = series([inst], values).period(JANUARY)
    assert [d.estimated for d in usage.deltas] == [False, True]
    assert usage.estimated


def test_replacement_closes_the_old_series_and_opens_the_new_one() -> None:
    old = installation(
        "old",
        installed_at=at(2026, 1, 1),
        initial="100.0",
        removed_at=at(2026, 1, 15, 12),
        final="250.0",
    )
    new = installation("new", installed_at=at(2026, 1, 15, 12), initial="0.5")
    values = readings("new", [(at(2026, 2, 1), "80.5")])
    result = series([old, new], values)
    assert [
        (d.installation_id, d.from_reading_id, d.to_reading_id, d.quantity)
        for d in result.deltas
    ] == [
        ("old", "old:initial", "old:final", D("150.0")),
        ("new", "new:initial", "new-r1", D("80.0")),
    ]
    # A reading of the old meter after its removal is refused.
    stray = readings("old", [(at(2026, 1, 20), "260.0")])
    assert held_codes(series([old, new], stray)) == [
        ("old-r1", HoldCode.OUTSIDE_INSTALLATION)
    ]


def test_overlapping_installations_are_a_configuration_error() -> None:
    first = installation("a", installed_at=at(2026, 1, 1))
    second = installation("b", installed_at=at(2026, 1, 15))
    with pytest.raises(MeterSeriesError, match=r"a and b of meter point .* overlap"):
        series([first, second], [])


def test_naive_times_and_floats_are_refused_when_built() -> None:
    with pytest.raises(ReadingError, match="timezone-aware"):
        MeterReading("r", "m1", at(2026, 1, 1).replace(tzinfo=None), D(1))
    with pytest.raises(TypeError, match=r"reading r value 1\.5 is a float"):
        MeterReading("r", "m1", at(2026, 1, 1), 1.5)  # type: ignore[arg-type]


def test_periods_from_local_calendar_days() -> None:
    days = DateSpan(date(2026, 3, 1), date(2026, 3, 31))
    assert Period.of_days(days, TZ) == Period.month(2026, 3, TZ)
    assert Period.month(2026, 3, TZ).start.isoformat() == "2026-03-01T00:00:00+08:00"
    with pytest.raises(PeriodError, match="is not after start"):
        Period(at(2026, 3, 2), at(2026, 3, 1))


def test_a_delta_straddling_the_month_end_is_split_pro_rata() -> None:
    # 31 Jan 00:00 → 2 Feb 00:00, 48 kWh: 24 in January, 24 in February.
    inst = installation(installed_at=at(2026, 1, 31))
    result = series([inst], readings("m1", [(at(2026, 2, 2), "48")]))
    january, february = result.period(JANUARY), result.period(Period.month(2026, 2, TZ))
    assert (january.quantity, february.quantity) == (D(24), D(24))
    assert not february.complete
    assert january.complete


def test_pro_rata_parts_always_add_up_to_the_delta() -> None:
    # 10 kWh over 3 days split in thirds: 3.333 + 3.334 + 3.333 (cumulative rounding).
    inst = installation(installed_at=at(2026, 1, 1))
    result = series([inst], readings("m1", [(at(2026, 1, 4), "10")]))
    days = [
        Period(at(2026, 1, n), at(2026, 1, n) + timedelta(days=1)) for n in (1, 2, 3)
    ]
    parts = [result.period(day).quantity for day in days]
    assert parts == [D("3.333"), D("3.334"), D("3.333")]
    assert sum(parts) == D(10)


def test_at_reading_rule_gives_the_whole_delta_to_the_later_reading() -> None:
    inst = installation(installed_at=at(2026, 1, 31))
    values = readings("m1", [(at(2026, 2, 2), "48")])
    result = build_series(
        "unit-101-elec",
        [inst],
        values,
        now=at(2026, 3, 1),
        attribution=Attribution(AttributionRule.AT_READING),
    )
    assert result.period(JANUARY).quantity == 0
    assert result.period(Period.month(2026, 2, TZ)).quantity == D(48)


def test_held_readings_are_listed_with_their_period() -> None:
    inst = installation(installed_at=at(2026, 1, 1), initial="5000")
    values = readings("m1", [(at(2026, 1, 10), "5100"), (at(2026, 1, 20), "4000")])
    usage = series([inst], values).period(JANUARY)
    assert [(h.reading.reading_id, h.code) for h in usage.held] == [
        ("m1-r2", HoldCode.LOWER_NOT_ROLLOVER)
    ]
    assert usage.reading_ids == ("m1:initial", "m1-r1")
    assert not usage.complete
