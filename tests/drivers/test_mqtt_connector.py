"""MqttConnector on a real broker: payloads, garbage, commands, silence, restart."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiomqtt
import pytest

from drivers.errors import ProfileError, TransportError
from drivers.mqtt import DeviceConfig, MqttConnector
from drivers.types import DeviceEvent, Quality, Reading
from sim.mqtt import BrokerAddress, MqttBroker
from sim.mqtt.broker import mosquitto_binary
from tests.conftest import Broker
from tests.drivers.test_mqtt_payloads import CASES, Case, check_case


class ListSink:
    """A transport-level stand-in for the gateway: it collects what it is given."""

    def __init__(self) -> None:
        self.items: list[Reading | DeviceEvent] = []
        self.online: list[tuple[str, bool, str | None]] = []
        self._changed = asyncio.Event()

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        self.items.extend(items)
        self._changed.set()

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        self.online.append((device_id, online, reason))
        self._changed.set()

    async def wait_for(
        self, condition: Callable[[], bool], timeout_s: float = 5.0
    ) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def readings(self, device_id: str, point: str) -> list[Reading]:
        return [
            item
            for item in self.items
            if isinstance(item, Reading)
            and (item.device_id, item.point) == (device_id, point)
        ]

    def events(self, device_id: str) -> list[DeviceEvent]:
        return [
            e
            for e in self.items
            if isinstance(e, DeviceEvent) and e.device_id == device_id
        ]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def unique(base: str) -> str:
    """A base topic no other test uses, on the shared session broker."""
    return f"pams-test-{uuid.uuid4().hex[:8]}/{base}"


@asynccontextmanager
async def running(
    broker: Broker | BrokerAddress,
    devices: Sequence[DeviceConfig],
    sink: ListSink,
    **options: Any,
) -> AsyncIterator[MqttConnector]:
    connector = MqttConnector(
        host=broker.host, port=broker.port, devices=devices, sink=sink, **options
    )
    async with connector:
        async with asyncio.timeout(5):
            await connector.wait_connected()
        yield connector


async def publish(broker: Broker | BrokerAddress, *messages: tuple[str, bytes]) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_real_payload_through_the_broker(mqtt_broker: Broker, case: Case) -> None:
    sink = ListSink()
    base = unique(case.base_topic)

    async with running(mqtt_broker, [("dev-1", case.profile, base)], sink) as connector:
        await publish(mqtt_broker, (case.topic.replace("{base}", base), case.payload))
        await sink.wait_for(lambda: connector.stats("dev-1").messages == 1)

    topic = case.topic.replace("{base}", base)
    check_case(case, sink.items)
    assert sink.online == [("dev-1", True, f"message received on {topic}")]


async def test_garbage_is_counted_and_the_connector_keeps_running(
    mqtt_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    sink = ListSink()
    leak, tasmota = unique("zigbee2mqtt/leak"), unique("th")
    devices = [
        ("leak", "z2m_aqara_sjcgq11lm", leak),
        ("th", "tasmota_sensors", tasmota),
    ]
    messages = [
        (leak, b"\xff\xfe\x00garbage"),
        (leak, b"\xff\xfe\x00garbage"),
        (leak, b'{"battery":100,"water_le'),
        (
            f"tele/{tasmota}/SENSOR",
            b'{"A":{"Temperature":nan},"B":{"Temperature":20.5}}',
        ),
        (leak, b'{"battery":97,"water_leak":"false"}'),
    ]

    caplog.set_level(logging.DEBUG, logger="drivers.mqtt.connector")

    async with running(mqtt_broker, devices, sink) as connector:
        await publish(mqtt_broker, *messages)
        await sink.wait_for(lambda: connector.stats("leak").messages == 4)
        await sink.wait_for(lambda: connector.stats("th").messages == 1)
        leak_stats, th_stats = connector.stats("leak"), connector.stats("th")

    assert (leak_stats.rejected_messages, leak_stats.rejected_values) == (3, 0)
    assert leak_stats.last_reason == (
        f"{leak}: payload is not valid JSON: Unterminated string starting at: "
        "line 1 column 16 (char 15)"
    )
    not_utf8 = f"leak: {leak}: payload is not UTF-8 text (byte 0xff at position 0)"
    logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, text in logged if text == not_utf8] == [
        logging.WARNING,
        logging.DEBUG,
    ]
    assert [r.value for r in sink.readings("leak", "battery")] == [Decimal(97)]
    assert [r.value for r in sink.readings("leak", "water_leak")] == [False]
    assert th_stats.last_reason == "a_temperature (A.Temperature): NaN is not a number"
    assert [r.value for r in sink.readings("th", "b_temperature")] == [Decimal("20.5")]


async def test_leak_alarm_is_raised_once_and_cleared_once(mqtt_broker: Broker) -> None:
    sink = ListSink()
    base = unique("zigbee2mqtt/kitchen_leak")
    messages = [
        (base, b'{"battery":100,"water_leak":false}'),
        (base, b'{"battery":100,"water_leak":true}'),
        (base, b'{"battery":100,"voltage":3025,"linkquality":78}'),
        (f"{base}/water_leak", b"true"),
        (base, b'{"battery":100,"water_leak":true}'),
        (base, b'{"battery":100,"water_leak":false}'),
        (base, b'{"battery":100,"voltage":3025,"linkquality":78}'),
    ]

    async with running(mqtt_broker, [("leak", "z2m_aqara_sjcgq11lm", base)], sink) as c:
        await publish(mqtt_broker, *messages)
        await sink.wait_for(lambda: c.stats("leak").messages == len(messages))

    assert [(e.kind, e.alarm, e.data["state"]) for e in sink.events("leak")] == [
        ("alarm", True, "active"),
        ("alarm", True, "cleared"),
    ]


async def test_commands_go_to_the_profile_command_topic(mqtt_broker: Broker) -> None:
    sink = ListSink()
    smoke, tasmota = unique("zigbee2mqtt/smoke"), unique("pow")
    devices = [
        ("smoke", "z2m_xiaomi_jtyj_gd_01lm", smoke),
        ("pow", "tasmota_energy_1p", tasmota),
    ]
    received: list[tuple[str, bytes]] = []

    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as listener:
        await listener.subscribe(f"{smoke}/set")
        await listener.subscribe(f"cmnd/{tasmota}/#")
        async with running(mqtt_broker, devices, sink) as connector:
            first = await connector.command("smoke", {"selftest": ""})
            second = await connector.command("pow", "OFF", command="Power")
            async with asyncio.timeout(5):
                async for message in listener.messages:
                    assert isinstance(message.payload, bytes)
                    received.append((str(message.topic), message.payload))
                    if len(received) == 2:
                        break
            smoke_messages = connector.stats("smoke").messages

    assert (first, second) == (f"{smoke}/set", f"cmnd/{tasmota}/Power")
    assert received == [
        (f"{smoke}/set", b'{"selftest": ""}'),
        (f"cmnd/{tasmota}/Power", b"OFF"),
    ]
    assert smoke_messages == 0, "the connector took its own command for the device"


async def test_command_without_a_connection_names_the_broker() -> None:
    connector = MqttConnector(
        host="127.0.0.1",
        port=9,
        devices=[("plug", "z2m_tuya_ts011f", "zigbee2mqtt/plug")],
        sink=ListSink(),
    )
    with pytest.raises(
        TransportError, match=r"plug: not connected to MQTT broker 127\.0\.0\.1:9"
    ):
        await connector.command("plug", {"state": "OFF"})


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (
            [("a", "z2m_tuya_ts011f", "p"), ("a", "z2m_tuya_ts011f", "q")],
            "configured twice",
        ),
        ([("a", "z2m_tuya_ts011f", "zigbee2mqtt/+")], "must be a plain topic"),
    ],
    ids=["duplicate-id", "wildcard-base"],
)
def test_device_configuration_is_checked(
    devices: list[DeviceConfig], message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        MqttConnector(host="127.0.0.1", devices=devices, sink=ListSink())


async def test_silent_device_goes_offline_on_the_connector_clock(
    mqtt_broker: Broker,
) -> None:
    sink, clock = ListSink(), FakeClock()
    base = unique("pow")
    devices = [("pow", "tasmota_energy_1p", base)]
    sensor = b'{"ENERGY":{"Power":76,"Voltage":233,"Total":94.493}}'

    async with running(
        mqtt_broker, devices, sink, clock=clock, check_interval_s=3600
    ) as c:
        await publish(mqtt_broker, (f"tele/{base}/SENSOR", sensor))
        await sink.wait_for(lambda: c.stats("pow").messages == 1)
        clock.now += 899
        c.check_silence()
        quiet = list(sink.online)
        clock.now += 2
        c.check_silence()

    reason = "no message for 901 s since the last message (max_silence_s 900)"
    assert quiet == [("pow", True, f"message received on tele/{base}/SENSOR")]
    assert sink.online[-1] == ("pow", False, reason)
    stale = [
        r for r in sink.items if isinstance(r, Reading) and r.quality is Quality.STALE
    ]
    assert {(r.point, r.value, r.reason) for r in stale} == {
        ("power", Decimal(76), reason),
        ("voltage", Decimal(233), reason),
        ("energy_total", Decimal("94.493"), reason),
    }


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
async def test_reconnects_after_the_broker_restarts(kind: str) -> None:
    """Stop the private broker under a running connector, start it again, keep going."""
    if kind == "mosquitto" and mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    sink, clock = ListSink(), FakeClock()
    first_broker = MqttBroker(kind=kind)
    port = first_broker.address.port
    base = "zigbee2mqtt/plug"
    devices = [("plug", "z2m_tuya_ts011f", base)]
    options = {
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "check_interval_s": 3600,
    }

    async with (
        first_broker as address,
        running(address, devices, sink, clock=clock, **options) as connector,
    ):
        await publish(address, (base, b'{"power":10}'))
        await sink.wait_for(lambda: len(sink.readings("plug", "power")) == 1)

        await first_broker.stop()
        await asyncio.wait_for(connector.wait_disconnected(), 5)
        clock.now += 3601
        connector.check_silence()

        stopped_at = time.monotonic()
        async with MqttBroker(port=port) as again:
            await asyncio.wait_for(connector.wait_connections(2), 10)
            reconnect_s = time.monotonic() - stopped_at
            await publish(again, (base, b'{"power":20}'))
            await sink.wait_for(lambda: len(sink.readings("plug", "power")) == 3)

    assert [r.value for r in sink.readings("plug", "power")] == [10, 10, 20]
    assert [r.quality for r in sink.readings("plug", "power")] == [
        Quality.GOOD,
        Quality.STALE,
        Quality.GOOD,
    ]
    assert sink.online[1] == (
        "plug",
        False,
        "no message for 3601 s since the last message (max_silence_s 3600); "
        "the broker connection is down",
    )
    assert sink.online[2] == ("plug", True, f"message received on {base}")
    assert connector.connections == 2
    assert reconnect_s < 5
