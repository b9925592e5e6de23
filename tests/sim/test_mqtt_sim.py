"""The MQTT simulator: timelines, faults, the section format, brokers, end to end."""

from __future__ import annotations

import asyncio
import json
import random
import re
from decimal import Decimal
from typing import Any

import aiomqtt
import pytest

from drivers.mqtt import MqttConnector
from drivers.types import Quality
from sim.mqtt import (
    SIMULATED_PROFILES,
    BrokerError,
    Fault,
    MqttBroker,
    SectionError,
    build_device,
    mqtt_simulation,
)
from sim.mqtt.devices import SimDevice
from tests.conftest import Broker
from tests.drivers.test_mqtt_connector import ListSink


def device(
    profile: str,
    *,
    base: str = "dev",
    interval_s: float = 10.0,
    faults: tuple[Fault, ...] = (),
    seed: int = 1,
    **options: Any,
) -> SimDevice:
    return build_device(
        profile,
        device_id="dev-1",
        base_topic=base,
        interval_s=interval_s,
        faults=list(faults),
        rng=random.Random(seed),
        options=options,
    )


def bodies(messages: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    return [(topic, json.loads(payload)) for topic, payload in messages]


# --- timelines --------------------------------------------------------------------


def test_leak_sensor_checks_in_without_water_leak_and_reports_changes() -> None:
    leak = device(
        "z2m_aqara_sjcgq11lm",
        base="zigbee2mqtt/kitchen",
        faults=(Fault("leak", at_s=25, until_s=45),),
        attribute_output=True,
    )

    start, checkin = bodies(leak.due(0)), bodies(leak.due(10))
    leak.due(20)
    raised = leak.due(25)
    quiet = bodies(leak.due(44))
    cleared = leak.due(45)

    assert start[0][0] == "zigbee2mqtt/kitchen"
    assert start[0][1]["water_leak"] is False
    assert [topic for topic, _ in checkin] == ["zigbee2mqtt/kitchen"]
    assert set(checkin[0][1]) == {"battery", "voltage", "linkquality"}
    assert json.loads(raised[0][1])["water_leak"] is True
    assert raised[1] == ("zigbee2mqtt/kitchen/water_leak", b"true")
    assert [set(body) for _, body in quiet] == [
        {"battery", "voltage", "linkquality"}
    ] * 2
    assert json.loads(cleared[0][1])["water_leak"] is False


def test_door_contact_is_true_while_closed() -> None:
    door = device(
        "z2m_aqara_mccgq11lm", faults=(Fault("door_open", at_s=5, until_s=7),)
    )

    assert json.loads(door.due(0)[0][1])["contact"] is True
    assert json.loads(door.due(5)[0][1])["contact"] is False
    assert json.loads(door.due(7)[0][1])["contact"] is True


def test_timeline_content_depends_on_the_seed_only() -> None:
    def run(seed: int) -> list[tuple[str, bytes]]:
        plug = device(
            "z2m_tuya_ts011f", seed=seed, faults=(Fault("load", 15, watts=1500),)
        )
        return plug.due(33.7)  # a late caller gets what a punctual one gets

    punctual = device(
        "z2m_tuya_ts011f", seed=3, faults=(Fault("load", 15, watts=1500),)
    )
    stepwise = [m for t in (0, 10, 15, 20, 30) for m in punctual.due(t)]

    assert run(3) == run(3) == stepwise
    assert run(3) != run(4)


def test_plug_energy_grows_and_the_ma_quirk_can_be_switched_on() -> None:
    plug = device(
        "z2m_tuya_ts011f",
        interval_s=3600,
        watts=1000,
        faults=(Fault("current_in_ma", 7000),),
    )

    states = [json.loads(plug.due(t)[-1][1]) for t in (0, 3600, 7200)]

    assert states[1]["energy"] == pytest.approx(states[0]["energy"] + 1.0, abs=0.06)
    assert states[1]["current"] < 10
    assert states[2]["current"] > 1000


def test_tasmota_three_phase_sends_arrays_and_single_phase_scalars() -> None:
    lwt, *rest = device("tasmota_energy_3p", base="t3").due(0)
    three = bodies(rest)
    one = bodies(device("tasmota_energy_1p", base="t1").due(0)[1:])

    assert lwt == ("tele/t3/LWT", b"Online")
    assert [topic for topic, _ in three] == ["tele/t3/SENSOR"]
    energy3 = three[0][1]["ENERGY"]
    assert [len(energy3[key]) for key in ("Power", "Voltage", "Current")] == [3, 3, 3]
    assert isinstance(energy3["Total"], float)
    energy1 = one[0][1]["ENERGY"]
    assert isinstance(energy1["Power"], int | float)
    assert three[0][1]["Time"] == "2024-01-01T00:00:00"


def test_shelly_sends_full_status_then_only_what_changed() -> None:
    shelly = device("shelly_plus_2pm", base="shellyplus2pm-sim")

    first = shelly.due(0)
    delta = shelly.due(10)

    assert first[0] == ("shellyplus2pm-sim/online", b"true")
    assert [topic for topic, _ in first[1:]] == [
        "shellyplus2pm-sim/status/switch:0",
        "shellyplus2pm-sim/status/switch:1",
    ]
    assert set(json.loads(first[1][1])) >= {"id", "output", "apower", "aenergy"}
    topic, payload = delta[0]
    notify = json.loads(payload)
    assert topic == "shellyplus2pm-sim/events/rpc"
    assert notify["method"] == "NotifyStatus"
    changed = notify["params"]["switch:0"]
    assert "apower" in changed
    assert not {"id", "output", "source", "freq"} & set(changed)


def test_silent_fault_stops_and_resumes_publishing() -> None:
    leak = device("z2m_aqara_sjcgq11lm", faults=(Fault("silent", at_s=15, until_s=35),))

    published = [len(leak.due(t)) for t in (0, 10, 20, 30, 40)]

    assert published == [1, 1, 0, 0, 1]


@pytest.mark.parametrize("profile", SIMULATED_PROFILES)
def test_garbage_payloads_are_what_they_claim(profile: str) -> None:
    def garbage(kind: str) -> bytes:
        sim = device(profile, faults=(Fault("garbage", at_s=5, payload=kind),))
        sim.due(0)
        return sim.due(5)[0][1]

    nan = garbage("nan")
    assert re.search(rb"[:,\[]nan[,}\]]", nan)
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(nan)
    strings = json.loads(garbage("strings"))
    scalars = [v for v in strings.values() if not isinstance(v, dict | list)]
    scalars += [
        v for obj in strings.values() if isinstance(obj, dict) for v in obj.values()
    ]
    assert all(
        isinstance(value, str | dict | list) or value is None for value in scalars
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage("truncated"))
    with pytest.raises(UnicodeDecodeError):
        garbage("not_json").decode()


# --- the section format ----------------------------------------------------------


def test_section_gives_wiring_for_the_gateway() -> None:
    section = {
        "broker": {"host": "192.0.2.10", "port": 1884},
        "devices": [
            {
                "id": "leak-1",
                "profile": "z2m_aqara_sjcgq11lm",
                "base_topic": "z2m/leak",
            },
            {
                "id": "pow-1",
                "profile": "tasmota_energy_1p",
                "base_topic": "pow",
                "watts": 5,
            },
        ],
    }

    simulation, wiring = mqtt_simulation(section, seed=2)

    assert wiring == {
        "broker": {"host": "192.0.2.10", "port": 1884, "kind": "external"},
        "devices": [
            {
                "device_id": "leak-1",
                "profile": "z2m_aqara_sjcgq11lm",
                "base_topic": "z2m/leak",
            },
            {"device_id": "pow-1", "profile": "tasmota_energy_1p", "base_topic": "pow"},
        ],
    }
    assert simulation.wiring is wiring


def test_section_as_a_plain_list_starts_a_private_broker() -> None:
    _, wiring = mqtt_simulation(
        [{"id": "a", "profile": "shelly_plus_1pm", "base_topic": "shellyplus1pm-a"}]
    )
    assert wiring["broker"]["host"] == "127.0.0.1"
    assert wiring["broker"]["kind"] in ("mosquitto", "amqtt")
    assert wiring["broker"]["port"] > 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"profile": "z2m_tuya_ts011f", "base_topic": "p"}, "'id' is missing"),
        (
            {"id": "a", "profile": "nope", "base_topic": "p"},
            "no MQTT device for 'nope'",
        ),
        (
            {"id": "a", "profile": "z2m_tuya_ts011f", "base_topic": "p/+"},
            "has a wildcard",
        ),
        (
            {
                "id": "a",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "p",
                "faults": [{"kind": "leak", "at_s": 1}],
            },
            "fault 'leak' does not apply to Z2mPlug",
        ),
        (
            {
                "id": "a",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "p",
                "faults": [{"kind": "garbage", "at_s": 1, "payload": "lies"}],
            },
            "garbage payload 'lies' is not one of nan, strings, truncated",
        ),
        (
            {
                "id": "a",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "p",
                "faults": [{"kind": "load", "at_s": 5, "until_s": 2}],
            },
            "fault load ends before it starts",
        ),
        (
            {
                "id": "a",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "p",
                "faults": [{"kind": "load", "at": 5}],
            },
            "fault has unknown keys ['at']",
        ),
        (
            {
                "id": "a",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "p",
                "interval_s": 0,
            },
            "interval_s must be positive",
        ),
    ],
    ids=[
        "no-id",
        "unknown-profile",
        "wildcard",
        "wrong-fault",
        "bad-garbage",
        "backwards-fault",
        "unknown-fault-key",
        "zero-interval",
    ],
)
def test_section_mistakes_are_refused_by_name(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(SectionError) as caught:
        mqtt_simulation([entry])
    assert message in str(caught.value)


def test_duplicate_device_ids_are_refused() -> None:
    entry = {"id": "a", "profile": "z2m_tuya_ts011f", "base_topic": "p"}
    with pytest.raises(SectionError, match="'a' is used twice"):
        mqtt_simulation([entry, {**entry, "base_topic": "q"}])


def test_unknown_broker_kind_is_refused() -> None:
    with pytest.raises(BrokerError, match="'rabbit' is not auto, mosquitto or amqtt"):
        mqtt_simulation({"broker": {"kind": "rabbit"}, "devices": []})


# --- brokers ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
async def test_private_broker_carries_messages(kind: str) -> None:
    broker = MqttBroker(kind=kind)
    if kind == "mosquitto" and broker.address.kind != "mosquitto":
        pytest.skip("mosquitto is not installed")

    async with (
        broker as address,
        aiomqtt.Client(address.host, address.port) as client,
    ):
        await client.subscribe("pams/echo")
        await client.publish("pams/echo", b"hello", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(client.messages))

    assert (address.kind, message.payload) == (kind, b"hello")
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(address.host, address.port, timeout=1):
            pass


def test_mosquitto_asked_for_but_missing_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sim.mqtt.broker.mosquitto_binary", lambda: None)
    with pytest.raises(
        BrokerError, match="mosquitto was asked for but is not installed"
    ):
        MqttBroker(kind="mosquitto")


# --- end to end: simulator → broker → connector ------------------------------------


async def test_simulated_building_through_the_broker_to_the_connector(
    mqtt_broker: Broker,
) -> None:
    section = {
        "broker": {"host": mqtt_broker.host, "port": mqtt_broker.port},
        "devices": [
            {
                "id": "leak-1",
                "profile": "z2m_aqara_sjcgq11lm",
                "base_topic": "e2e/zigbee2mqtt/kitchen_leak",
                "interval_s": 0.05,
                "faults": [
                    {"kind": "garbage", "at_s": 0.06, "payload": "nan"},
                    {"kind": "garbage", "at_s": 0.08, "payload": "strings"},
                    {"kind": "leak", "at_s": 0.15},
                ],
            },
            {
                "id": "plug-1",
                "profile": "z2m_tuya_ts011f",
                "base_topic": "e2e/zigbee2mqtt/plug",
                "interval_s": 0.05,
                "watts": 2000,
            },
            {
                "id": "shelly-1",
                "profile": "shelly_plus_2pm",
                "base_topic": "e2e-shellyplus2pm",
                "interval_s": 0.05,
            },
        ],
    }
    simulation, wiring = mqtt_simulation(section, seed=11)
    sink = ListSink()
    devices = [
        (d["device_id"], d["profile"], d["base_topic"]) for d in wiring["devices"]
    ]
    broker = wiring["broker"]

    def leak_alarms() -> list[Any]:
        return [e for e in sink.events("leak-1") if e.kind == "alarm"]

    def heartbeats_after_alarm() -> int:
        alarm_at = sink.items.index(leak_alarms()[0])
        later = sink.items[alarm_at:]
        return sum(1 for r in later if getattr(r, "point", None) == "battery")

    connector = MqttConnector(
        host=broker["host"], port=broker["port"], devices=devices, sink=sink
    )
    async with connector:
        await asyncio.wait_for(connector.wait_connected(), 5)
        async with simulation:
            await sink.wait_for(
                lambda: bool(leak_alarms()) and heartbeats_after_alarm() >= 3, 10
            )
            await sink.wait_for(
                lambda: len(sink.readings("shelly-1", "switch1_energy")) >= 3, 10
            )
        leak_stats = connector.stats("leak-1")

    assert [(e.alarm, e.data) for e in leak_alarms()] == [
        (True, {"type": "water_leak", "state": "active", "point": "water_leak"})
    ]
    energy = [
        r.value for r in sink.readings("plug-1", "energy") if r.quality is Quality.GOOD
    ]
    assert len(energy) >= 3
    assert all(isinstance(value, Decimal) for value in energy)
    assert energy == sorted(energy)
    assert leak_stats.rejected_values == 1
    assert leak_stats.last_reason == (
        "device_temperature (device_temperature): NaN is not a number"
    )
    water = [r.value for r in sink.readings("leak-1", "water_leak")]
    assert water[:2] == [False, False] and water[-1] is True
    shelly_power = sink.readings("shelly-1", "switch0_power")
    assert shelly_power and all(r.quality is Quality.GOOD for r in shelly_power)
    assert {name for name, _, _ in sink.online} == {"leak-1", "plug-1", "shelly-1"}
