"""Every source of alarms ends in the one contract: the real MQTT decoder and BLE
connector, and OSDP door events in the shape the OSDP bus publishes them."""

from __future__ import annotations

from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.ble import BleConnector
from drivers.ble.bthome import BTHOME_UUID
from drivers.mqtt import DeviceState, decode, load_profile
from drivers.types import DeviceEvent, Reading
from edge.alarms import AlarmEngine, RuleEngine, RuleSet, Severities
from edge.clock import ClockSample
from edge.records import event_row
from sync.schema import Priority

LEAK_ACTIVE = {
    "type": "water_leak",
    "state": "active",
    "severity": "critical",
    "point": "water_leak",
    "rule": None,
    "detail": "reported by leak-1",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class EngineSink:
    """A driver's sink that does what the gateway does: observe, then record."""

    def __init__(self, *, hold_s: float = 0.0, severities: Severities | None = None):
        self.clock = FakeClock()
        self.recorded: list[Reading | DeviceEvent] = []
        rules = RuleEngine(
            RuleSet(version=0),
            severities=severities,
            clear_hold_s=hold_s,
            clock=self.clock,
        )
        self.engine = AlarmEngine(rules, emit=self.recorded.extend)

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        self.recorded += self.engine.observe(items)

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        self.engine.set_online(device_id, online, reason)

    def events(self, kind: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (e.device_id, e.kind, e.data)
            for e in self.recorded
            if isinstance(e, DeviceEvent) and kind in (None, e.kind)
        ]


def test_mqtt_leak_through_the_real_decoder() -> None:
    sink = EngineSink()
    profile = load_profile("z2m_aqara_sjcgq11lm")
    state = DeviceState("leak-1", "zigbee2mqtt/basement", 0.0)
    for payload in (
        b'{"battery":100,"water_leak":false}',
        b'{"battery":100,"water_leak":true}',
        b'{"battery":99,"voltage":3025,"linkquality":78}',
        b'{"water_leak":false}',
    ):
        sink.publish(decode(profile, "zigbee2mqtt/basement", payload, state).items)

    alarms = [e for e in sink.recorded if isinstance(e, DeviceEvent)]
    assert [(e.kind, e.alarm, e.data) for e in alarms] == [
        ("alarm", True, LEAK_ACTIVE),
        (
            "alarm",
            True,
            {
                **LEAK_ACTIVE,
                "state": "cleared",
                "detail": "leak-1 reports it over for 0 s",
            },
        ),
    ]
    leak_readings = [
        r.value
        for r in sink.recorded
        if isinstance(r, Reading) and r.point == "water_leak"
    ]
    assert leak_readings == [False, True, False]


def test_mqtt_smoke_through_the_real_decoder() -> None:
    sink = EngineSink()
    profile = load_profile("z2m_xiaomi_jtyj_gd_01lm")
    state = DeviceState("smoke-1", "zigbee2mqtt/bins", 0.0)

    sink.publish(decode(profile, "zigbee2mqtt/bins", b'{"smoke":true}', state).items)

    assert sink.events("alarm") == [
        (
            "smoke-1",
            "alarm",
            {
                "type": "smoke",
                "state": "active",
                "severity": "critical",
                "point": "smoke",
                "rule": None,
                "detail": "reported by smoke-1",
            },
        )
    ]


def test_ble_leak_through_the_real_connector() -> None:
    sink = EngineSink()
    address = "A4:C1:38:00:00:01"
    connector = BleConnector(
        devices=[("leak-ble", "bthome_leak_sensor", address, None)],
        sink=sink,
        clock=sink.clock,
    )
    for packet_id, wet in [(1, 0), (2, 1), (3, 1), (4, 0)]:
        payload = bytes.fromhex(f"4000{packet_id:02x}0164200{wet}")
        advert = AdvertisementData(None, {}, {BTHOME_UUID: payload}, [], None, -60, ())
        connector.on_advertisement(BLEDevice(address, None, None), advert)
        sink.clock.now += 1

    assert [
        (data["type"], data["state"], data["severity"], data["point"], data["rule"])
        for _, _, data in sink.events("alarm")
    ] == [
        ("water_leak", "active", "critical", "leak", None),
        ("water_leak", "cleared", "critical", "leak", None),
    ]


def door(
    kind: str, data: dict[str, Any] | None = None, *, alarm: bool = False
) -> DeviceEvent:
    return DeviceEvent("door-1", kind, data or {}, alarm=alarm)


def test_osdp_forced_door_raises_and_closing_clears() -> None:
    sink = EngineSink()

    sink.publish(
        [
            door("door_opened", {"initial": False, "authorised": False}),
            door("door_forced", alarm=True),
        ]
    )
    sink.publish([door("door_closed", {"initial": False, "open_s": 4.0})])

    assert sink.events() == [
        ("door-1", "door_opened", {"initial": False, "authorised": False}),
        ("door-1", "door_forced", {}),
        (
            "door-1",
            "alarm",
            {
                "type": "door_forced",
                "state": "active",
                "severity": "major",
                "point": "door",
                "rule": None,
                "detail": "reported by door-1",
            },
        ),
        ("door-1", "door_closed", {"initial": False, "open_s": 4.0}),
        (
            "door-1",
            "alarm",
            {
                "type": "door_forced",
                "state": "cleared",
                "severity": "major",
                "point": "door",
                "rule": None,
                "detail": "door-1 reports it over for 0 s",
            },
        ),
    ]


def test_osdp_held_open_and_tamper_from_two_switches() -> None:
    sink = EngineSink()

    sink.publish(
        [door("door_held_open", {"open_s": 31.0, "held_open_s": 30}, alarm=True)]
    )
    sink.publish([door("tamper", {"source": "reader", "active": True}, alarm=True)])
    sink.publish([door("tamper", {"source": "input", "active": True}, alarm=True)])
    sink.publish([door("tamper", {"source": "reader", "active": False})])
    sink.publish([door("door_closed", {"initial": False, "open_s": 40.0})])
    sink.publish([door("tamper", {"source": "input", "active": False})])

    alarms = [
        (d["type"], d["state"], d["severity"], d["point"])
        for _, _, d in sink.events("alarm")
    ]
    assert alarms == [
        ("door_held_open", "active", "minor", "door"),
        ("tamper", "active", "major", "tamper"),
        ("door_held_open", "cleared", "minor", "door"),
        ("tamper", "cleared", "major", "tamper"),
    ]


def test_door_events_the_profile_does_not_call_alarms_raise_none() -> None:
    sink = EngineSink()

    sink.publish(
        [door("door_forced"), door("tamper", {"source": "reader", "active": True})]
    )
    sink.publish(
        [door("door_closed"), door("tamper", {"source": "reader", "active": False})]
    )

    assert sink.events("alarm") == []
    assert len(sink.recorded) == 4


def test_a_clear_travels_at_alarm_priority() -> None:
    sink = EngineSink()
    sink.publish(
        [
            DeviceEvent(
                "leak-1", "alarm", {"type": "water_leak", "state": "active"}, alarm=True
            )
        ]
    )
    sink.publish(
        [
            DeviceEvent(
                "leak-1",
                "alarm",
                {"type": "water_leak", "state": "cleared"},
                alarm=True,
            )
        ]
    )
    clock = ClockSample(wall_us=1_800_000_000_000_000, mono_ns=1, trusted=True)

    rows = [event_row(e, clock) for e in sink.recorded if isinstance(e, DeviceEvent)]

    assert [row.priority for row in rows] == [Priority.ALARM, Priority.ALARM]


def test_the_site_sets_the_severity_of_a_type() -> None:
    sink = EngineSink(severities=Severities({"water_leak": "major"}))

    sink.publish(
        [
            DeviceEvent(
                "leak-1", "alarm", {"type": "water_leak", "state": "active"}, alarm=True
            )
        ]
    )

    assert sink.events("alarm")[0][2]["severity"] == "major"


@pytest.mark.parametrize(
    "data",
    [
        {"alarm": "water_leak", "active": True},
        {"type": "water_leak", "state": "on"},
        {"type": "", "state": "active"},
    ],
    ids=["old-ble-shape", "unknown-state", "empty-type"],
)
def test_an_unreadable_alarm_is_recorded_as_it_came_and_counted(
    data: dict[str, Any],
) -> None:
    sink = EngineSink()
    odd = DeviceEvent("leak-1", "alarm", data, alarm=True)

    sink.publish([odd, Reading("leak-1", "battery", None)])

    assert sink.recorded == [odd, Reading("leak-1", "battery", None)]
    rules = sink.engine.rules
    assert rules.counts["alarm_unreadable"] == 1
    assert rules.reasons["alarm_unreadable"] == (
        f"leak-1: alarm event {data!r} has no type or a state other than "
        "active/cleared; recorded as it came"
    )
