"""Decoding beyond the payload table: lies, gaps, deltas, silence, profiles."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from typing import Any

import pytest

from drivers.errors import ProfileError
from drivers.mqtt import (
    DecodeResult,
    DeviceState,
    MqttProfile,
    check_silence,
    decode,
    load_profile,
    profile_from_dict,
)
from drivers.types import DeviceEvent, Quality, Reading
from firmware_profiles import PROFILE_DIR, profile_path
from tests.drivers.test_mqtt_payloads import readings_by_point

LEAK_BASE = "zigbee2mqtt/kitchen_leak"


def feed(
    profile: MqttProfile,
    state: DeviceState,
    topic: str,
    payload: bytes,
    now: float = 1.0,
) -> DecodeResult:
    return decode(
        profile, topic.replace("{base}", state.base_topic), payload, state, now=now
    )


def events(result: DecodeResult) -> list[tuple[str, dict[str, Any], bool]]:
    return [
        (e.kind, e.data, e.alarm) for e in result.items if isinstance(e, DeviceEvent)
    ]


@pytest.fixture
def leak() -> tuple[MqttProfile, DeviceState]:
    return load_profile("z2m_aqara_sjcgq11lm"), DeviceState("leak-1", LEAK_BASE, 0.0)


# --- values that lie ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("nan", "NaN"),
        ("NaN", "NaN"),
        ("-nan", "NaN"),
        ("inf", "Infinity"),
        ("-inf", "-Infinity"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
    ],
)
def test_bare_non_number_loses_only_its_own_value(token: str, shown: str) -> None:
    profile = load_profile("tasmota_energy_1p")
    state = DeviceState("pow-1", "pow", 0.0)
    payload = f'{{"ENERGY":{{"Power": {token},"Voltage":230,"Total":1.5}}}}'

    result = feed(profile, state, "tele/{base}/SENSOR", payload.encode())

    readings = readings_by_point(result.items)
    reason = f"power (ENERGY.Power): {shown} is not a number"
    assert (readings["power"].quality, readings["power"].reason) == (
        Quality.UNAVAILABLE,
        reason,
    )
    assert readings["voltage"].value == Decimal(230)
    assert readings["energy_total"].value == Decimal("1.5")
    assert result.rejected == [reason]
    assert (state.rejected_values, state.last_reason) == (1, reason)


def test_nan_inside_a_string_stays_text() -> None:
    profile = load_profile("tasmota_energy_1p")
    state = DeviceState("pow-1", "pow", 0.0)
    payload = b'{"ENERGY":{"TotalStartTime":"nan, inf \\" nan","Power":5}}'

    result = feed(profile, state, "tele/{base}/SENSOR", payload)

    readings = readings_by_point(result.items)
    assert readings["total_start_time"].value == 'nan, inf " nan'
    assert readings["power"].value == Decimal(5)


@pytest.mark.parametrize(
    ("sent", "leaking"),
    [
        ('"true"', True),
        ('"false"', False),
        ('"ON"', True),
        ('"OFF"', False),
        ("1", True),
    ],
)
def test_boolean_sent_as_string(
    leak: tuple[MqttProfile, DeviceState], sent: str, leaking: bool
) -> None:
    profile, state = leak
    result = feed(profile, state, "{base}", f'{{"water_leak":{sent}}}'.encode())

    assert readings_by_point(result.items)["water_leak"].value is leaking
    assert result.rejected == []


def test_not_a_boolean_is_rejected_and_the_rest_kept(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    result = feed(profile, state, "{base}", b'{"water_leak":"maybe","battery":90}')

    readings = readings_by_point(result.items)
    reason = "water_leak (water_leak): 'maybe' is not a boolean"
    assert (readings["water_leak"].quality, readings["water_leak"].reason) == (
        Quality.UNAVAILABLE,
        reason,
    )
    assert readings["battery"].value == Decimal(90)
    assert events(result) == []
    assert (state.rejected_values, state.last_reason) == (1, reason)


@pytest.mark.parametrize(
    ("profile_id", "payload", "point", "reason"),
    [
        (
            "tasmota_sensors",
            b'{"TIC":{"Temperature":"HC..","Humidity":40}}',
            "tic_temperature",
            "tic_temperature (TIC.Temperature): 'HC..' is not a number",
        ),
        (
            "tasmota_energy_1p",
            b'{"ENERGY":{"Power":true,"Voltage":230}}',
            "power",
            "power (ENERGY.Power): true is a boolean, not a number",
        ),
        (
            "tasmota_energy_1p",
            b'{"ENERGY":{"Power":[298,7,0],"Voltage":230}}',
            "power",
            "power (ENERGY.Power): a JSON list is not a number",
        ),
        (
            "tasmota_energy_3p",
            b'{"ENERGY":{"Power":76,"Voltage":[230,231,232]}}',
            "power_l1",
            "power_l1 (ENERGY.Power[0]) is the value 76, not a list",
        ),
        (
            "tasmota_energy_3p",
            b'{"ENERGY":{"Power":[1,2],"Voltage":[230,231,232]}}',
            "power_l3",
            "power_l3 (ENERGY.Power[2]) has 2 items, no item 2",
        ),
    ],
    ids=[
        "teleinfo-string",
        "bool-for-number",
        "array-for-scalar",
        "scalar-for-array",
        "short-array",
    ],
)
def test_wrong_shape_value_is_rejected_with_reason(
    profile_id: str, payload: bytes, point: str, reason: str
) -> None:
    profile = load_profile(profile_id)
    state = DeviceState("dev", "dev", 0.0)

    result = feed(profile, state, "tele/{base}/SENSOR", payload)

    readings = readings_by_point(result.items)
    assert (readings[point].quality, readings[point].reason) == (
        Quality.UNAVAILABLE,
        reason,
    )
    good = [r for r in readings.values() if r.quality is Quality.GOOD]
    assert good, "the good values of the message were lost"
    assert reason in result.rejected


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (
            "{base}",
            b'{"battery":100,"water_le',
            "payload is not valid JSON: Unterminated string starting at: line 1 "
            "column 16 (char 15)",
        ),
        (
            "{base}",
            b"\xff\xfe\x00garbage",
            "payload is not UTF-8 text (byte 0xff at position 0)",
        ),
        ("{base}", b"[1,2]", "payload is a list, not a JSON object"),
        (
            "{base}",
            b"",
            "payload is not valid JSON: Expecting value: line 1 column 1 (char 0)",
        ),
        ("{base}/water_leak", b"  ", "payload is empty"),
        (
            "{base}/availability",
            b'{"state":"maybe"}',
            "availability 'maybe' is neither online nor offline",
        ),
    ],
    ids=[
        "truncated-json",
        "not-utf8",
        "json-list",
        "empty",
        "empty-attribute",
        "unknown-availability",
    ],
)
def test_garbage_message_is_counted_and_decoding_goes_on(
    leak: tuple[MqttProfile, DeviceState], topic: str, payload: bytes, reason: str
) -> None:
    profile, state = leak
    full_topic = topic.replace("{base}", LEAK_BASE)

    result = feed(profile, state, topic, payload)
    after = feed(profile, state, "{base}", b'{"battery":99}', now=2.0)

    assert (result.items, result.rejected, result.heard) == (
        [],
        [f"{full_topic}: {reason}"],
        True,
    )
    assert state.rejected_messages == 1
    assert state.last_reason == f"{full_topic}: {reason}"
    assert readings_by_point(after.items)["battery"].value == Decimal(99)
    assert state.messages == 2


def test_out_of_range_keeps_the_value_with_its_reason() -> None:
    profile = load_profile("z2m_tuya_ts011f")
    state = DeviceState("plug-1", "zigbee2mqtt/plug", 0.0)

    result = feed(profile, state, "{base}", b'{"current":383,"power":71}')

    current = readings_by_point(result.items)["current"]
    assert current.value == Decimal(383)
    assert current.quality is Quality.OUT_OF_RANGE
    assert current.reason is not None
    assert "383 A is outside the plausible range 0..20 A" in current.reason
    assert state.rejected_values == 1


# --- state across messages ----------------------------------------------------------


def test_heartbeat_without_water_leak_keeps_the_alarm_and_does_not_repeat_it(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    active = (
        "alarm",
        {"type": "water_leak", "state": "active", "point": "water_leak"},
        True,
    )
    cleared = (
        "alarm",
        {"type": "water_leak", "state": "cleared", "point": "water_leak"},
        True,
    )

    raised = feed(profile, state, "{base}", b'{"battery":100,"water_leak":true}')
    heartbeat = feed(
        profile, state, "{base}", b'{"battery":100,"voltage":3025,"linkquality":78}'
    )

    assert events(raised) == [active]
    assert "water_leak" not in readings_by_point(heartbeat.items)
    assert events(heartbeat) == []
    assert state.points["water_leak"].value is True
    assert state.document["water_leak"] is True

    repeated = feed(profile, state, "{base}", b'{"water_leak":true,"battery":100}')
    as_attribute = feed(profile, state, "{base}/water_leak", b"true")
    clear = feed(profile, state, "{base}", b'{"water_leak":false}')
    clear_again = feed(profile, state, "{base}/water_leak", b"false")

    assert events(repeated) == events(as_attribute) == []
    assert events(clear) == [cleared]
    assert events(clear_again) == []


def test_first_value_at_rest_raises_nothing(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    assert events(feed(profile, state, "{base}", b'{"water_leak":false}')) == []


def test_null_does_not_clear_an_alarm(leak: tuple[MqttProfile, DeviceState]) -> None:
    profile, state = leak
    feed(profile, state, "{base}", b'{"water_leak":true}')

    result = feed(profile, state, "{base}", b'{"water_leak":null}')

    reading = readings_by_point(result.items)["water_leak"]
    assert (reading.quality, reading.reason) == (
        Quality.UNAVAILABLE,
        "water_leak (water_leak) is null in the payload",
    )
    assert events(result) == []
    assert state.points["water_leak"].alarm_active is True


def test_door_contact_is_inverted_and_changes_raise_events() -> None:
    profile = load_profile("z2m_aqara_mccgq11lm")
    state = DeviceState("door-1", "zigbee2mqtt/front_door", 0.0)

    first = feed(profile, state, "{base}", b'{"contact":true,"battery":100}')
    opened = feed(profile, state, "{base}", b'{"contact":false}')
    still_open = feed(profile, state, "{base}/contact", b"false")
    closed = feed(profile, state, "{base}/contact", b"true")

    assert readings_by_point(first.items)["door_open"].value is False
    assert events(first) == []
    assert readings_by_point(opened.items)["door_open"].value is True
    assert events(opened) == [("door_opened", {"point": "door_open"}, False)]
    assert events(still_open) == []
    assert events(closed) == [("door_closed", {"point": "door_open"}, False)]


def test_shelly_delta_is_merged_into_the_last_full_status() -> None:
    profile = load_profile("shelly_plus_1pm")
    state = DeviceState("shelly-1", "shellyplus1pm-a", 0.0)
    full = (
        b'{"id":0,"source":"init","output":true,"apower":60.0,"voltage":230.8,'
        b'"current":0.261,"aenergy":{"total":123.585,"by_minute":[1.0,1.0,1.0],'
        b'"minute_ts":1698999959},"temperature":{"tC":44.9,"tF":112.9}}'
    )
    delta = (
        b'{"src":"shellyplus1pm-a","dst":"shellyplus1pm-a/events","method":'
        b'"NotifyStatus","params":{"ts":1698999960.13,"switch:0":{"apower":11.5,'
        b'"aenergy":{"total":124.0}}}}'
    )

    feed(profile, state, "{base}/status/switch:0", full)
    result = feed(profile, state, "{base}/events/rpc", delta)

    readings = readings_by_point(result.items)
    assert set(readings) == {"power", "energy"}
    assert readings["power"].value == Decimal("11.5")
    assert readings["energy"].value == Decimal("0.124")
    merged = state.document["switch:0"]
    assert merged["output"] is True
    assert merged["voltage"] == Decimal("230.8")
    assert merged["aenergy"] == {
        "total": Decimal("124.0"),
        "by_minute": [Decimal("1.0")] * 3,
        "minute_ts": 1698999959,
    }
    assert state.points["voltage"].value == Decimal("230.8")


def test_shelly_other_rpc_methods_are_heard_but_carry_no_values() -> None:
    profile = load_profile("shelly_plus_1pm")
    state = DeviceState("shelly-1", "shellyplus1pm-a", 0.0)
    payload = (
        b'{"src":"shellyplus1pm-a","method":"NotifyEvent","params":{"ts":1.0,'
        b'"events":[{"component":"input:0","event":"single_push"}]}}'
    )

    result = feed(profile, state, "{base}/events/rpc", payload)

    assert (result.heard, result.items, result.rejected) == (True, [], [])


def test_command_and_unknown_attribute_topics_are_not_the_device(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    for topic in ("{base}/set", "{base}/get", "zigbee2mqtt/other_device"):
        assert not feed(profile, state, topic, b'{"state":"ON"}').heard
    assert (state.messages, state.online) == (0, None)


@pytest.mark.parametrize(
    ("profile_id", "base", "topic", "payload", "online"),
    [
        (
            "z2m_aqara_sjcgq11lm",
            LEAK_BASE,
            "{base}/availability",
            b'{"state":"offline"}',
            False,
        ),
        ("z2m_aqara_sjcgq11lm", LEAK_BASE, "{base}/availability", b"online", True),
        ("tasmota_energy_1p", "pow", "tele/{base}/LWT", b"Offline", False),
        ("shelly_plus_1pm", "shellyplus1pm-a", "{base}/online", b"true", True),
    ],
    ids=[
        "z2m-offline-json",
        "z2m-online-legacy",
        "tasmota-lwt-offline",
        "shelly-online",
    ],
)
def test_availability_announcements(
    profile_id: str, base: str, topic: str, payload: bytes, online: bool
) -> None:
    state = DeviceState("dev", base, 0.0)
    result = feed(load_profile(profile_id), state, topic, payload)

    assert (result.online, state.online, result.items) == (online, online, [])
    assert result.reason is not None and topic.replace("{base}", base) in result.reason


def test_offline_announcement_is_not_undone_by_itself(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    feed(profile, state, "{base}", b'{"battery":100}')
    feed(profile, state, "{base}/availability", b'{"state":"offline"}')

    again = feed(profile, state, "{base}/availability", b'{"state":"offline"}')

    assert (again.online, state.online) == (None, False)


# --- silence, on a clock the test controls -------------------------------------------


def test_silent_device_goes_offline_once_with_stale_values(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    feed(profile, state, "{base}", b'{"battery":100,"water_leak":true}', now=10.0)

    early = check_silence(profile, state, now=10.0 + 7199)
    late = check_silence(profile, state, now=10.0 + 7201)
    later = check_silence(profile, state, now=10.0 + 9000)
    back = feed(profile, state, "{base}", b'{"battery":100}', now=10.0 + 9001)

    assert (early.offline_reason, early.items) == (None, [])
    reason = "no message for 7201 s since the last message (max_silence_s 7200)"
    assert late.offline_reason == reason
    stale = {r.point: r for r in late.items if isinstance(r, Reading)}
    assert set(stale) == {"battery", "water_leak"}
    assert stale["water_leak"].value is True
    assert {(r.quality, r.reason) for r in stale.values()} == {(Quality.STALE, reason)}
    assert (later.offline_reason, later.items) == (None, [])
    assert (back.online, state.online) == (True, True)


def test_device_never_heard_goes_offline_after_max_silence_from_start() -> None:
    profile = load_profile("tasmota_energy_1p")
    state = DeviceState("pow-1", "pow", started_at=100.0)

    result = check_silence(profile, state, now=100.0 + 901, context="; broker down")

    assert result.offline_reason == (
        "no message for 901 s since start (max_silence_s 900); broker down"
    )
    assert state.online is False


def test_sensor_missing_from_reports_goes_stale_but_its_neighbours_do_not() -> None:
    profile = load_profile("tasmota_sensors")
    state = DeviceState("th-1", "th", 0.0)
    both = b'{"DS18B20":{"Temperature":20},"SI7021":{"Temperature":21.5,"Humidity":50}}'
    only_si = b'{"SI7021":{"Temperature":21.6,"Humidity":51}}'
    feed(profile, state, "tele/{base}/SENSOR", both, now=0.0)
    feed(profile, state, "tele/{base}/SENSOR", only_si, now=600.0)
    feed(profile, state, "tele/{base}/SENSOR", only_si, now=900.0)

    result = check_silence(profile, state, now=1000.0)

    assert [
        (r.point, r.quality, r.reason) for r in result.items if isinstance(r, Reading)
    ] == [
        (
            "ds18b20_temperature",
            Quality.STALE,
            "ds18b20_temperature not reported for 1000 s while the device is "
            "reporting (max_silence_s 900)",
        )
    ]
    assert result.offline_reason is None


def test_heartbeat_optional_key_does_not_go_stale_while_the_device_reports(
    leak: tuple[MqttProfile, DeviceState],
) -> None:
    profile, state = leak
    feed(profile, state, "{base}", b'{"battery":100,"water_leak":false}', now=0.0)
    for now in (3000.0, 6000.0, 9000.0):
        feed(profile, state, "{base}", b'{"battery":100}', now=now)

    result = check_silence(profile, state, now=9100.0)

    assert result.items == []
    assert state.points["water_leak"].value is False


def test_value_that_stops_changing_goes_stale_until_it_changes() -> None:
    profile = load_profile("z2m_tuya_ts011f")
    state = DeviceState("plug-1", "zigbee2mqtt/plug", 0.0)
    for now in (0.0, 1800.0, 3500.0):
        feed(profile, state, "{base}", b'{"power":33,"voltage":230}', now=now)

    result = check_silence(profile, state, now=3700.0)
    repeated = feed(profile, state, "{base}", b'{"power":33,"voltage":230}', now=3710.0)
    changed = feed(profile, state, "{base}", b'{"power":0,"voltage":230}', now=3720.0)

    reason = "power unchanged at 33 W for 3700 s (max_unchanged_s 3600)"
    assert [
        (r.point, r.value, r.reason) for r in result.items if isinstance(r, Reading)
    ] == [("power", Decimal(33), reason)]
    power = readings_by_point(repeated.items)["power"]
    assert (power.quality, power.reason) == (Quality.STALE, reason)
    assert readings_by_point(repeated.items)["voltage"].quality is Quality.GOOD
    assert readings_by_point(changed.items)["power"].quality is Quality.GOOD
    assert state.points["power"].stale is None


# --- profiles -----------------------------------------------------------------------


def test_every_shipped_mqtt_profile_loads() -> None:
    loaded = []
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        if document["profile"]["protocol"] == "mqtt":
            loaded.append(load_profile(path.stem).id)
    assert len(loaded) == 9


def _minimal() -> dict[str, Any]:
    return {
        "profile": {"id": "x", "protocol": "mqtt"},
        "mqtt": {"max_silence_s": 60, "topics": [{"topic": "{base}"}]},
        "points": [{"name": "leak", "path": "leak", "kind": "bool"}],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["mqtt"].update(topics=[]), "declares no [[mqtt.topics]]"),
        (lambda d: d["mqtt"].update(max_silence_s=0), "max_silence_s must be positive"),
        (lambda d: d["mqtt"]["topics"][0].update(topic="x/#"), "must contain {base}"),
        (
            lambda d: d["points"].append(dict(d["points"][0])),
            "'leak' is declared twice",
        ),
        (lambda d: d["points"][0].update(path="a..b"), "empty or malformed step"),
        (lambda d: d["points"][0].update(path="*.T"), "needs '{*}' in the name"),
        (
            lambda d: d["points"][0].update(kind="gauge", alarm="leak"),
            "alarms need kind",
        ),
        (
            lambda d: d["points"][0].update(alarm="leak", alarm_clear="no"),
            "must be a bool",
        ),
        (
            lambda d: d["points"][0].update(kind="dial"),
            "'dial' is not a valid PointKind",
        ),
        (lambda d: d["points"][0].update(kind="gauge", range=[5, 1]), "upside down"),
        (lambda d: d["points"][0].update(events={"yes": "x"}), "event keys are"),
        (lambda d: d["profile"].update(protocol="modbus"), "is not an MQTT profile"),
        (lambda d: d["points"][0].pop("path"), "the required key 'path' is missing"),
        (lambda d: d["mqtt"].pop("max_silence_s"), "key 'max_silence_s' is missing"),
    ],
    ids=[
        "no-topics",
        "silence",
        "hash-topic",
        "duplicate",
        "bad-path",
        "wildcard-name",
        "alarm-kind",
        "alarm-clear-type",
        "unknown-kind",
        "range",
        "event-key",
        "protocol",
        "no-path",
        "no-max-silence",
    ],
)
def test_profile_that_cannot_be_right_is_refused(change: Any, message: str) -> None:
    document = _minimal()
    change(document)

    with pytest.raises(ProfileError, match=r"^(MQTT )?profile x") as caught:
        profile_from_dict(document)

    assert message in str(caught.value)


def test_unknown_profile_id_names_the_path() -> None:
    with pytest.raises(ProfileError, match=r"not found at .*no_such_device\.toml"):
        load_profile("no_such_device")
    assert profile_path("no_such_device").name == "no_such_device.toml"
