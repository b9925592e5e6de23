"""Alarm rules on a clock the test moves: delays, hysteresis, rates, stale data,
offline devices, flapping, one open alarm per key, and rule sets replaced whole."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from drivers.types import DeviceEvent, Quality, Reading
from edge.alarms import (
    AlarmChange,
    AlarmKey,
    AlarmState,
    Catalogue,
    RuleEngine,
    RuleSet,
)
from edge.config import SiteConfig

ACTIVE, CLEARED = AlarmState.ACTIVE, AlarmState.CLEARED


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    def at(self, offset_s: float) -> None:
        """Move to ``offset_s`` after the start (never back)."""
        assert 500.0 + offset_s >= self.now
        self.now = 500.0 + offset_s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def rule(**fields: Any) -> dict[str, Any]:
    return {"id": "pump-overcurrent", "device": "pump", "point": "current", **fields}


def engine(
    clock: FakeClock, *rules: dict[str, Any], hold_s: float = 0.0, version: int = 1
) -> RuleEngine:
    ruleset = RuleSet.model_validate({"version": version, "rules": list(rules)})
    return RuleEngine(ruleset, clear_hold_s=hold_s, clock=clock)


def current(value: str, quality: Quality = Quality.GOOD) -> Reading:
    reason = None if quality is Quality.GOOD else "test"
    return Reading("pump", "current", Decimal(value), "A", quality, reason)


def feed(
    rules: RuleEngine, clock: FakeClock, offset_s: float, *items: Reading | DeviceEvent
) -> list[tuple[str, AlarmState]]:
    clock.at(offset_s)
    _, changes = rules.observe(items)
    return summary(changes)


def tick(rules: RuleEngine, clock: FakeClock, offset_s: float) -> list[Any]:
    clock.at(offset_s)
    return summary(rules.tick())


def summary(changes: list[AlarmChange]) -> list[tuple[str, AlarmState]]:
    return [(change.key.rule or change.key.type, change.state) for change in changes]


def driver_alarm(state: str, device: str = "leak-1") -> DeviceEvent:
    data = {"type": "water_leak", "state": state, "point": "water_leak"}
    return DeviceEvent(device, "alarm", data, alarm=True)


# --- thresholds ----------------------------------------------------------------------


def test_threshold_raises_only_after_holding_for_its_duration(
    clock: FakeClock,
) -> None:
    rules = engine(clock, rule(above=12, clear_below=10, for_s=30))

    assert feed(rules, clock, 0, current("13.1")) == []
    assert feed(rules, clock, 20, current("14")) == []
    assert feed(rules, clock, 29.9, current("13")) == []
    assert feed(rules, clock, 30, current("12.5")) == [("pump-overcurrent", ACTIVE)]

    opened = rules.open_alarms()[AlarmKey("pump", "threshold", "pump-overcurrent")]
    assert opened.event().data == {
        "type": "threshold",
        "state": "active",
        "severity": "major",
        "point": "current",
        "rule": "pump-overcurrent",
        "value": "12.5",
        "detail": "current = 12.5 A, above 12 A for 30 s",
    }
    assert opened.event().alarm is True


def test_a_dip_below_the_limit_restarts_the_duration(clock: FakeClock) -> None:
    rules = engine(clock, rule(above=12, for_s=30))

    feed(rules, clock, 0, current("13"))
    feed(rules, clock, 10, current("11.9"))
    feed(rules, clock, 20, current("13"))

    assert feed(rules, clock, 45, current("13")) == []
    assert feed(rules, clock, 50, current("13")) == [("pump-overcurrent", ACTIVE)]


def test_a_sensor_that_reports_rarely_is_raised_on_time_by_the_tick(
    clock: FakeClock,
) -> None:
    rules = engine(clock, rule(above=12, for_s=30))
    feed(rules, clock, 0, current("13"))

    assert tick(rules, clock, 29.5) == []
    assert tick(rules, clock, 30) == [("pump-overcurrent", ACTIVE)]
    assert tick(rules, clock, 60) == []


def test_hysteresis_keeps_the_alarm_until_the_clear_limit(clock: FakeClock) -> None:
    rules = engine(clock, rule(above=12, clear_below=10))
    assert feed(rules, clock, 0, current("12.01")) == [("pump-overcurrent", ACTIVE)]

    assert feed(rules, clock, 1, current("11")) == []
    assert feed(rules, clock, 2, current("10")) == []
    assert feed(rules, clock, 3, current("9.99")) == [("pump-overcurrent", CLEARED)]
    # Back in the band: not above 12, so nothing is raised again.
    assert feed(rules, clock, 4, current("11.5")) == []
    assert feed(rules, clock, 5, current("12.5")) == [("pump-overcurrent", ACTIVE)]


def test_a_band_raises_on_either_side(clock: FakeClock) -> None:
    rules = engine(
        clock,
        rule(id="voltage", point="voltage", above=253, below=207, clear_above=210),
    )

    def volts(value: str) -> Reading:
        return Reading("pump", "voltage", Decimal(value), "V")

    assert feed(rules, clock, 0, volts("230")) == []
    assert feed(rules, clock, 1, volts("206.9")) == [("voltage", ACTIVE)]
    assert (
        "below 207 V"
        in rules.open_alarms()[AlarmKey("pump", "threshold", "voltage")].detail
    )
    assert feed(rules, clock, 2, volts("209")) == []
    assert feed(rules, clock, 3, volts("211")) == [("voltage", CLEARED)]
    assert feed(rules, clock, 4, volts("253.5")) == [("voltage", ACTIVE)]


@pytest.mark.parametrize(
    "reading",
    [
        current("30", Quality.OUT_OF_RANGE),
        current("30", Quality.STALE),
        Reading("pump", "current", None, "A", Quality.UNAVAILABLE, "timeout"),
        Reading("pump", "current", Decimal("NaN"), "A"),
        Reading("pump", "current", "overload", None),
    ],
    ids=["out-of-range", "stale", "unavailable", "nan", "text"],
)
def test_untrusted_values_neither_raise_nor_clear(
    clock: FakeClock, reading: Reading
) -> None:
    rules = engine(clock, rule(above=12), rule(id="low", below=1))

    assert feed(rules, clock, 0, reading) == []
    assert feed(rules, clock, 1, current("13")) == [("pump-overcurrent", ACTIVE)]
    assert feed(rules, clock, 2, reading) == []
    assert len(rules.open_alarms()) == 1


# --- rate of change ------------------------------------------------------------------


def test_rate_of_change_over_its_window(clock: FakeClock) -> None:
    rules = engine(
        clock,
        rule(id="pressure-drop", point="pressure", rate_per_min=-0.5, for_s=0),
    )

    def pressure(value: str) -> Reading:
        return Reading("pump", "pressure", Decimal(value), "bar")

    # A slow fall, 0.2 bar per minute: never an alarm.
    assert [
        feed(rules, clock, t, pressure(str(6 - t / 300))) for t in range(0, 121, 10)
    ] == [[]] * 13
    # Then 1 bar per minute: raised once a whole window shows it.
    changes = [
        feed(rules, clock, 120 + t, pressure(str(5.6 - t / 60)))
        for t in range(10, 121, 10)
    ]
    assert [c for c in changes if c] == [[("pressure-drop", ACTIVE)]]
    # At 150 s the last minute fell from 5.7 (90 s) to 5.1 bar: 0.6 bar a minute.
    assert next(i for i, c in enumerate(changes) if c) == 2
    raised = rules.open_alarms()[AlarmKey("pump", "threshold", "pressure-drop")]
    assert raised.value == Decimal("-0.6")
    assert raised.detail == (
        "pressure changes by -0.6 bar per minute, beyond -0.5 for 0 s"
    )
    # Steady again: the rate over the window returns to 0 and the alarm clears.
    steady = [feed(rules, clock, 250 + t, pressure("3.6")) for t in range(0, 61, 10)]
    assert [c for c in steady if c] == [[("pressure-drop", CLEARED)]]


def test_rate_needs_a_whole_window_before_judging(clock: FakeClock) -> None:
    rules = engine(clock, rule(id="surge", rate_per_min=5, rate_window_s=60))

    assert feed(rules, clock, 0, current("0")) == []
    assert feed(rules, clock, 30, current("100")) == []  # 200 per minute, but 30 s
    assert feed(rules, clock, 60, current("100")) == [("surge", ACTIVE)]


# --- stale data and offline devices --------------------------------------------------


def test_stale_point_raises_and_a_good_value_clears_it(clock: FakeClock) -> None:
    rules = engine(clock, rule(id="current-stale", stale_s=30))

    feed(rules, clock, 0, current("5"))
    assert tick(rules, clock, 29) == []
    assert tick(rules, clock, 30) == [("current-stale", ACTIVE)]
    assert feed(rules, clock, 35, current("5", Quality.UNAVAILABLE)) == []
    assert tick(rules, clock, 36) == []
    assert feed(rules, clock, 40, current("5")) == [("current-stale", CLEARED)]

    stale = rules.open_alarms()
    assert stale == {}


def test_a_point_never_seen_is_stale_from_when_the_rule_started(
    clock: FakeClock,
) -> None:
    rules = engine(clock, rule(id="current-stale", stale_s=60))

    assert tick(rules, clock, 59) == []
    assert tick(rules, clock, 60) == [("current-stale", ACTIVE)]
    opened = next(iter(rules.open_alarms().values()))
    assert opened.key == AlarmKey("pump", "stale_data", "current-stale")
    assert (opened.severity, opened.detail) == (
        "minor",
        "no good value of current for 60 s",
    )


def test_offline_device_after_its_grace_with_the_reason(clock: FakeClock) -> None:
    rules = engine(clock, {"id": "pump-offline", "device": "pump", "offline_s": 5})

    assert rules.set_online("pump", True) == []
    clock.at(10)
    assert rules.set_online("pump", False, "no reply from unit 3") == []
    assert tick(rules, clock, 14.9) == []
    assert tick(rules, clock, 15) == [("pump-offline", ACTIVE)]
    event = next(iter(rules.open_alarms().values())).event()
    assert event.data["type"] == "device_offline"
    assert event.data["point"] is None
    assert event.data["detail"] == "pump offline for 5 s: no reply from unit 3"
    clock.at(20)
    assert summary(rules.set_online("pump", True)) == [("pump-offline", CLEARED)]
    assert rules.set_online("other-device", False) == []


def test_a_short_outage_within_the_grace_raises_nothing(clock: FakeClock) -> None:
    rules = engine(clock, {"id": "pump-offline", "device": "pump", "offline_s": 5})
    clock.at(0)
    rules.set_online("pump", False, "timeout")
    clock.at(3)
    rules.set_online("pump", True)

    assert tick(rules, clock, 10) == []


# --- flapping and repeats ------------------------------------------------------------


def test_a_flapping_leak_sensor_raises_once_and_clears_once(clock: FakeClock) -> None:
    rules = engine(clock, hold_s=5)
    seen: list[tuple[str, AlarmState]] = []
    for offset, state in [(0, "active"), (1, "cleared"), (2, "active"), (3, "cleared")]:
        seen += feed(rules, clock, offset, driver_alarm(state))
        seen += tick(rules, clock, offset + 0.5)

    seen += tick(rules, clock, 7.9)
    assert seen == [("water_leak", ACTIVE)]
    assert tick(rules, clock, 8) == [("water_leak", CLEARED)]


def test_a_rule_clear_waits_for_its_own_hold(clock: FakeClock) -> None:
    rules = engine(clock, rule(above=12, hold_s=10), hold_s=0)
    feed(rules, clock, 0, current("13"))

    assert feed(rules, clock, 1, current("11")) == []
    assert (
        feed(rules, clock, 5, current("12.5")) == []
    )  # back above: still the same alarm
    assert feed(rules, clock, 6, current("11")) == []
    assert tick(rules, clock, 15.9) == []
    assert tick(rules, clock, 16) == [("pump-overcurrent", CLEARED)]


def test_one_open_alarm_per_device_type_and_rule(clock: FakeClock) -> None:
    rules = engine(clock, rule(above=12), rule(id="pump-very-high", above=20))

    assert feed(rules, clock, 0, driver_alarm("active")) == [("water_leak", ACTIVE)]
    assert feed(rules, clock, 1, driver_alarm("active")) == []
    assert rules.counts["repeat_dropped"] == 1
    assert rules.reasons["repeat_dropped"] == (
        "leak-1 water_leak raised again while open; dropped"
    )
    assert feed(rules, clock, 2, driver_alarm("active", "leak-2")) == [
        ("water_leak", ACTIVE)
    ]
    assert feed(rules, clock, 3, current("25")) == [
        ("pump-overcurrent", ACTIVE),
        ("pump-very-high", ACTIVE),
    ]
    assert feed(rules, clock, 4, current("26")) == []
    assert len(rules.open_alarms()) == 4
    assert feed(rules, clock, 5, driver_alarm("cleared", "leak-3")) == []


# --- rule sets -----------------------------------------------------------------------


SITE = SiteConfig.model_validate(
    {
        "gateway": {"id": "gw"},
        "cloud": {"url": "http://127.0.0.1:9"},
        "modbus_rtu": [
            {
                "id": "line-1",
                "port": "/dev/null",
                "devices": [{"id": "pump", "unit_id": 3, "profile": "eastron_sdm120"}],
            }
        ],
    }
)


@pytest.fixture
def site_rules(clock: FakeClock) -> RuleEngine:
    rules = engine(clock, rule(above=12))
    rules.catalogue = Catalogue.from_site(SITE)
    return rules


def test_a_new_rule_set_replaces_the_old_one_whole(
    site_rules: RuleEngine, clock: FakeClock
) -> None:
    outcome = site_rules.replace_rules(
        {
            "version": 2,
            "rules": [
                rule(id="pump-high", above=20),
                rule(id="volts", point="voltage", below=200),
            ],
        }
    )

    assert (outcome.applied, outcome.version, outcome.reason) == (True, 2, None)
    assert site_rules.version == 2
    assert [r.id for r in site_rules.rules] == ["pump-high", "volts"]
    assert feed(site_rules, clock, 0, current("15")) == []
    assert feed(site_rules, clock, 1, current("21")) == [("pump-high", ACTIVE)]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {
                "version": 2,
                "rules": [rule(above=20), rule(id="x", point=None, above=1)],
            },
            "rules[1]: a threshold rule needs the point it watches",
        ),
        (
            {"version": 2, "rules": [rule(above=20, below=1, rate_per_min=3)]},
            "rules[0]: a rule needs exactly one condition of above/below, "
            "rate_per_min, stale_s or offline_s (found: above/below, rate_per_min)",
        ),
        (
            {"version": 2, "rules": [rule(above=20), rule(above=30)]},
            "top level: rule id 'pump-overcurrent' is used twice",
        ),
        (
            {"version": 2, "rules": [rule(above=20, clear_below=25)]},
            "rules[0]: clear_below 25 is above the limit above = 20",
        ),
        (
            {"version": 2, "rules": [rule(above=20, colour="red")]},
            "rules[0].colour: Extra inputs are not permitted",
        ),
        (
            {"version": 2, "rules": [rule(point="curent", above=20)]},
            "rules[0] (pump-overcurrent): pump has no point 'curent' (its profile "
            "eastron_sdm120 has",
        ),
        (
            {"version": 2, "rules": [rule(device="pmup", above=20)]},
            "rules[0] (pump-overcurrent): device 'pmup' is not in the site "
            "configuration",
        ),
        ({"version": 0, "rules": []}, "version 0 is older than the running 1"),
        (
            {"version": 1, "rules": [rule(above=99)]},
            "version 1 is already running with other rules",
        ),
        ({"rules": []}, "version: Field required"),
    ],
    ids=[
        "no-point",
        "two-conditions",
        "duplicate-id",
        "clear-beyond-limit",
        "unknown-key",
        "unknown-point",
        "unknown-device",
        "older-version",
        "same-version-other-rules",
        "no-version",
    ],
)
def test_a_bad_rule_set_keeps_the_running_one_and_says_why(
    site_rules: RuleEngine, clock: FakeClock, document: dict[str, Any], reason: str
) -> None:
    outcome = site_rules.replace_rules(document)

    assert not outcome.applied
    assert outcome.reason is not None and outcome.reason.startswith(reason)
    assert site_rules.rejected == [outcome]
    assert site_rules.counts["ruleset_refused"] == 1
    assert site_rules.reasons["ruleset_refused"].endswith(outcome.reason)
    assert site_rules.version == 1
    assert feed(site_rules, clock, 0, current("13")) == [("pump-overcurrent", ACTIVE)]


def test_the_same_rule_set_again_changes_nothing(site_rules: RuleEngine) -> None:
    outcome = site_rules.replace_rules({"version": 1, "rules": [rule(above=12)]})

    assert outcome.applied
    assert site_rules.rejected == []


def test_a_withdrawn_rule_clears_its_open_alarm(
    site_rules: RuleEngine, clock: FakeClock
) -> None:
    feed(site_rules, clock, 0, current("13"))

    site_rules.replace_rules({"version": 2, "rules": []})
    clock.at(1)
    cleared = site_rules.tick()

    assert summary(cleared) == [("pump-overcurrent", CLEARED)]
    assert cleared[0].detail == "rule withdrawn by rule set version 2"
    assert site_rules.open_alarms() == {}


def test_a_changed_rule_keeps_its_open_alarm_under_the_new_terms(
    site_rules: RuleEngine, clock: FakeClock
) -> None:
    feed(site_rules, clock, 0, current("13"))

    site_rules.replace_rules({"version": 2, "rules": [rule(above=15, clear_below=14)]})

    assert tick(site_rules, clock, 1) == []
    assert feed(site_rules, clock, 2, current("14.5")) == []
    assert feed(site_rules, clock, 3, current("13.9")) == [
        ("pump-overcurrent", CLEARED)
    ]
