"""Every real payload of data/mqtt/mqtt_payloads.md, decoded with the shipped profiles.

Payloads are byte for byte as posted in the cited threads. Where a post elided keys
with "...", the elision is dropped and the case id says "elided"; nothing is added.
``CASES`` is also replayed through a real broker in test_mqtt_connector.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from drivers.mqtt import DeviceState, decode, load_profile
from drivers.types import DeviceEvent, Quality, Reading, Value


@dataclass(frozen=True)
class Case:
    id: str
    profile: str
    base_topic: str
    topic: str  # with {base}
    payload: bytes
    values: dict[str, Value] = field(default_factory=dict)
    bad: dict[str, tuple[Quality, str]] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    events: tuple[tuple[str, dict[str, str]], ...] = ()


D = Decimal
LEAK = "z2m_aqara_sjcgq11lm"
SMOKE = "z2m_xiaomi_jtyj_gd_01lm"
DOOR = "z2m_aqara_mccgq11lm"
PLUG = "z2m_tuya_ts011f"
LEAK_ACTIVE = (
    "alarm",
    {"type": "water_leak", "state": "active", "point": "water_leak"},
)

CASES = [
    Case(
        "z2m-leak-normal-state-12924",
        LEAK,
        "zigbee2mqtt/kitchen_leak",
        "{base}",
        b'{"battery":100,"battery_low":false,"device_temperature":26,'
        b'"last_seen":1656118444933,"linkquality":83,"tamper":false,"temperature":26,'
        b'"voltage":3025,"water_leak":false}',
        values={
            "water_leak": False,
            "battery": D(100),
            "battery_low": False,
            "battery_voltage": D("3.025"),
            "device_temperature": D(26),
            "linkquality": D(83),
        },
    ),
    Case(
        "z2m-checkin-without-water-leak-3164",
        LEAK,
        "zigbee2mqtt/Capt_Inondation2",
        "{base}",
        b'{"battery":100,"voltage":3025,"linkquality":78}',
        values={"battery": D(100), "battery_voltage": D("3.025"), "linkquality": D(78)},
        absent=("water_leak", "battery_low", "device_temperature"),
    ),
    Case(
        "z2m-leak-attribute-output-true-14226",
        LEAK,
        "zigbee2mqtt/kitchen_leak",
        "{base}/water_leak",
        b"true",
        values={"water_leak": True},
        absent=("battery",),
        events=(LEAK_ACTIVE,),
    ),
    Case(
        "z2m-leak-attribute-output-false-14226",
        LEAK,
        "zigbee2mqtt/kitchen_leak",
        "{base}/water_leak",
        b"false",
        values={"water_leak": False},
    ),
    Case(
        "z2m-smoke-alarm-2113",
        SMOKE,
        "zigbee2mqtt/smoke_hall",
        "{base}",
        b'{"battery":100,"voltage":3195,"linkquality":57,"last_seen":1573393389829,'
        b'"smoke":true,"sensitivity":"high"}',
        values={
            "smoke": True,
            "battery": D(100),
            "battery_voltage": D("3.195"),
            "linkquality": D(57),
            "sensitivity": "high",
        },
        events=(("alarm", {"type": "smoke", "state": "active", "point": "smoke"}),),
    ),
    Case(
        "z2m-smoke-test-button-battery-string-391",
        SMOKE,
        "zigbee2mqtt/smoke_hall",
        "{base}",
        b'{"battery":"100.00","voltage":3055,"linkquality":60,"smoke":false}',
        values={
            "smoke": False,
            "battery": D("100.00"),
            "battery_voltage": D("3.055"),
            "linkquality": D(60),
        },
    ),
    Case(
        "z2m-smoke-2018-device-object-elided-domoticz49",
        SMOKE,
        "zigbee2mqtt/Smoke",
        "{base}",
        b'{"battery":100,"voltage":3075,"linkquality":81,"device":{"ieeeAddr":'
        b'"0x00158d0001d64498","friendlyName":"Smoke","type":"EndDevice","modelId":'
        b'"lumi.sensor_smoke","status":"online"},"smoke":false}',
        values={
            "smoke": False,
            "battery": D(100),
            "battery_voltage": D("3.075"),
            "linkquality": D(81),
        },
    ),
    Case(
        "z2m-door-contact-true-is-closed-constructed-from-exposes",
        DOOR,
        "zigbee2mqtt/front_door",
        "{base}",
        b'{"battery":100,"contact":true,"linkquality":120,"temperature":24,'
        b'"voltage":3005}',
        values={
            "door_open": False,
            "battery": D(100),
            "device_temperature": D(24),
            "battery_voltage": D("3.005"),
            "linkquality": D(120),
        },
    ),
    Case(
        "z2m-plug-ts011f-plug3-14934",
        PLUG,
        "zigbee2mqtt/plug_desk",
        "{base}",
        b'{"child_lock":"UNLOCK","current":0.1,"energy":8.42,"indicator_mode":null,'
        b'"last_seen":"2022-11-15T19:06:38+00:00","linkquality":48,"power":3,'
        b'"power_outage_memory":"on","state":"ON","update":{"state":null},'
        b'"update_available":null,"voltage":241}',
        values={
            "current": D("0.1"),
            "energy": D("8.42"),
            "power": D(3),
            "voltage": D(241),
            "relay_on": True,
            "linkquality": D(48),
        },
    ),
    Case(
        "z2m-plug-current-in-ma-null-energy-7700",
        PLUG,
        "zigbee2mqtt/plug_fridge",
        "{base}",
        b'{"current":383,"energy":null,"linkquality":177,"power":71,'
        b'"power_outage_memory":null,"state":null,"voltage":243}',
        values={"power": D(71), "voltage": D(243), "linkquality": D(177)},
        bad={
            "current": (
                Quality.OUT_OF_RANGE,
                "current (current) = 383 A is outside the plausible range 0..20 A "
                "(some TS011F firmware reports mA as A, Koenkk/zigbee2mqtt#7700)",
            ),
            "energy": (Quality.UNAVAILABLE, "energy (energy) is null in the payload"),
            "relay_on": (
                Quality.UNAVAILABLE,
                "relay_on (state) is null in the payload",
            ),
        },
    ),
    Case(
        "z2m-plug-attribute-output-energy-32463",
        PLUG,
        "zigbee2mqtt/z1",
        "{base}/energy",
        b"12.05",
        values={"energy": D("12.05")},
        absent=("power",),
    ),
    Case(
        "z2m-plug-1-1-full-state-elided-32463",
        PLUG,
        "zigbee2mqtt/z1",
        "{base}",
        b'{"child_lock":"UNLOCK","countdown":0,"current":0,"energy":12.05,'
        b'"power":0,"power_outage_memory":"off","state":"OFF"}',
        values={
            "current": D(0),
            "energy": D("12.05"),
            "power": D(0),
            "relay_on": False,
        },
    ),
    Case(
        "tasmota-1p-sensor-5373",
        "tasmota_energy_1p",
        "sonoff_pow",
        "tele/{base}/SENSOR",
        b'{"Time":"2019-03-01T11:04:47","ENERGY":{"TotalStartTime":'
        b'"2018-11-02T16:55:59","Total":94.493,"Yesterday":1.069,"Today":0.462,'
        b'"Period":6,"Power":76,"ApparentPower":102,"ReactivePower":67,"Factor":0.75,'
        b'"Voltage":233,"Current":0.436}}',
        values={
            "power": D(76),
            "apparent_power": D(102),
            "reactive_power": D(67),
            "power_factor": D("0.75"),
            "voltage": D(233),
            "current": D("0.436"),
            "energy_total": D("94.493"),
            "energy_today": D("0.462"),
            "energy_yesterday": D("1.069"),
            "total_start_time": "2018-11-02T16:55:59",
        },
    ),
    Case(
        "tasmota-1p-after-energy-reset-elided-5373",
        "tasmota_energy_1p",
        "sonoff_pow",
        "tele/{base}/SENSOR",
        b'{"Time":"2019-03-01T11:09:47","ENERGY":{"TotalStartTime":'
        b'"2018-11-02T16:55:59","Total":0.000,"Yesterday":0.000,"Today":0.000,'
        b'"Period":0,"Power":75}}',
        values={
            "energy_total": D("0.000"),
            "energy_today": D(0),
            "energy_yesterday": D(0),
            "power": D(75),
            "total_start_time": "2018-11-02T16:55:59",
        },
        absent=("voltage", "current"),
    ),
    Case(
        "tasmota-3p-per-phase-arrays-17579",
        "tasmota_energy_3p",
        "tasmota_3p",
        "tele/{base}/SENSOR",
        b'{"Time":"2023-01-03T11:54:27","ENERGY":{"TotalStartTime":'
        b'"2023-01-03T00:00:00","Total":436.786,"Yesterday":6.486,"Today":2.400,'
        b'"TodaySumImport":0.000,"TodaySumExport":0.000,"ExportActive":[0.000,0.001,'
        b'0.302],"Period":[1,0,0],"Power":[298,7,0],"ApparentPower":[332,9,8],'
        b'"ReactivePower":[-144,-6,-6],"Factor":[0.90,0.77,0.61],"Frequency":50,'
        b'"Voltage":[234,235,235],"Current":[1.415,0.039,0.035]}}',
        values={
            "power_l1": D(298),
            "power_l2": D(7),
            "power_l3": D(0),
            "apparent_power_l1": D(332),
            "apparent_power_l2": D(9),
            "apparent_power_l3": D(8),
            "reactive_power_l1": D(-144),
            "reactive_power_l2": D(-6),
            "reactive_power_l3": D(-6),
            "power_factor_l1": D("0.90"),
            "power_factor_l2": D("0.77"),
            "power_factor_l3": D("0.61"),
            "voltage_l1": D(234),
            "voltage_l2": D(235),
            "voltage_l3": D(235),
            "current_l1": D("1.415"),
            "current_l2": D("0.039"),
            "current_l3": D("0.035"),
            "export_energy_l1": D("0.000"),
            "export_energy_l2": D("0.001"),
            "export_energy_l3": D("0.302"),
            "frequency": D(50),
            "energy_total": D("436.786"),
            "energy_today": D("2.400"),
            "energy_yesterday": D("6.486"),
        },
    ),
    Case(
        "tasmota-1p-reset-to-zero-elided-20459",
        "tasmota_energy_1p",
        "athom_plug",
        "tele/{base}/SENSOR",
        b'{"ENERGY":{"TotalStartTime":"2024-01-14T18:02:42","Total":1066.000,'
        b'"Yesterday":0.000,"Today":0.000,"Period":0.00,"Power":0.00,'
        b'"Voltage":227.7,"Current":0.000}}',
        values={
            "energy_total": D("1066.000"),
            "energy_today": D(0),
            "energy_yesterday": D(0),
            "total_start_time": "2024-01-14T18:02:42",
            "power": D(0),
            "voltage": D("227.7"),
            "current": D(0),
        },
    ),
    Case(
        "tasmota-2017-energy-topic-without-wrapper-elided-685",
        "tasmota_energy_1p",
        "home214",
        "tele/{base}/ENERGY",
        b'{"Time":"2017-08-03T21:04:58", "Total":1.944, "Yesterday":1.999, '
        b'"Today":1.944}',
        values={
            "energy_total": D("1.944"),
            "energy_yesterday": D("1.999"),
            "energy_today": D("1.944"),
        },
    ),
    Case(
        "tasmota-dht11-bare-nan-4147",
        "tasmota_sensors",
        "dht_room",
        "tele/{base}/SENSOR",
        b'{"Time":"2018-10-23T23:47:58","DHT11":{"Temperature":nan,"Humidity":nan},'
        b'"TempUnit":"C"}',
        bad={
            "dht11_temperature": (
                Quality.UNAVAILABLE,
                "dht11_temperature (DHT11.Temperature): NaN is not a number",
            ),
            "dht11_humidity": (
                Quality.UNAVAILABLE,
                "dht11_humidity (DHT11.Humidity): NaN is not a number",
            ),
        },
    ),
    Case(
        "tasmota-si7021-one-nan-sensor-iobroker-sonoff65",
        "tasmota_sensors",
        "sonoff_th",
        "tele/{base}/SENSOR",
        b'{"Time":"2018-10-31T11:57:31","SI7021-00":{"Temperature":17.1,'
        b'"Humidity":70.0},"SI7021-02":{"Temperature":nan,"Humidity":nan},'
        b'"SI7021-04":{"Temperature":10.0,"Humidity":59.7},"SI7021-05":'
        b'{"Temperature":8.8,"Humidity":79.3},"TempUnit":"C"}',
        values={
            "si7021_00_temperature": D("17.1"),
            "si7021_00_humidity": D("70.0"),
            "si7021_04_temperature": D("10.0"),
            "si7021_04_humidity": D("59.7"),
            "si7021_05_temperature": D("8.8"),
            "si7021_05_humidity": D("79.3"),
        },
        bad={
            "si7021_02_temperature": (
                Quality.UNAVAILABLE,
                "si7021_02_temperature (SI7021-02.Temperature): NaN is not a number",
            ),
            "si7021_02_humidity": (
                Quality.UNAVAILABLE,
                "si7021_02_humidity (SI7021-02.Humidity): NaN is not a number",
            ),
        },
    ),
    Case(
        "tasmota-ds18b20-integer-temperature-mqttthing613",
        "tasmota_sensors",
        "boiler",
        "tele/{base}/SENSOR",
        b'{"Time":"2023-03-05T17:58:13","DS18B20":{"Id":"000000038069",'
        b'"Temperature":20},"TempUnit":"C"}',
        values={"ds18b20_temperature": D(20)},
        absent=("ds18b20_humidity",),
    ),
    Case(
        "shelly-2pm-full-status-iobroker813",
        "shelly_plus_2pm",
        "shellyplus2pm-Einfahrt",
        "{base}/status/switch:0",
        b'{"id":0, "source":"init", "output":false, "apower":0.0, "voltage":230.8, '
        b'"freq":50.0, "current":0.000, "pf":0.00, "aenergy":{"total":123.585,'
        b'"by_minute":[0.000,0.000,0.000],"minute_ts":1698999959},'
        b'"temperature":{"tC":44.9, "tF":112.9}}',
        values={
            "switch0_relay_on": False,
            "switch0_power": D(0),
            "switch0_voltage": D("230.8"),
            "switch0_frequency": D(50),
            "switch0_current": D(0),
            "switch0_power_factor": D(0),
            "switch0_energy": D("0.123585"),
            "switch0_temperature": D("44.9"),
        },
        absent=("switch1_power",),
    ),
    Case(
        "shelly-2pm-notifystatus-energy-only-iobroker813",
        "shelly_plus_2pm",
        "shellyplus2pm-Einfahrt",
        "{base}/events/rpc",
        b'{"src":"shellyplus2pm-3ce90e2f7c34","dst":"shellyplus2pm-Einfahrt/events",'
        b'"method":"NotifyStatus","params":{"ts":1698999960.13,"switch:0":{"id":0,'
        b'"aenergy":{"by_minute":[0.000,0.000,0.000],"minute_ts":1698999959,'
        b'"total":123.585}}}}',
        values={"switch0_energy": D("0.123585")},
        absent=("switch0_power", "switch0_voltage", "switch0_relay_on"),
    ),
    Case(
        "shelly-1pm-mini-mqtt-connected-notification-iobroker813",
        "shelly_plus_1pm",
        "shelly1pmmini-Sat",
        "{base}/events/rpc",
        b'{"src":"shelly1pmmini-348518e0c114","dst":"shelly1pmmini-Sat/events",'
        b'"method":"NotifyStatus","params":{"ts":1698999957.05,'
        b'"mqtt":{"connected":true}}}',
        absent=("power", "energy", "relay_on"),
    ),
    Case(
        "shelly-1pm-mini-gen3-power-delta-without-id-iobroker1592",
        "shelly_plus_1pm",
        "shelly1pmminig3-5432044edbc0",
        "{base}/events/rpc",
        b'{"src":"shelly1pmminig3-5432044edbc0","dst":"shelly1pmminig3-5432044edbc0/'
        b'events","method":"NotifyStatus","params":{"ts":1788945292.88,"switch:0":'
        b'{"apower":11.5,"current":0.071}}}',
        values={"power": D("11.5"), "current": D("0.071")},
        absent=("energy", "voltage"),
    ),
    Case(
        "shelly-1pm-mini-gen3-energy-in-wh-elided-iobroker1592",
        "shelly_plus_1pm",
        "shelly1pmminig3-5432044edbc0",
        "{base}/status/switch:0",
        b'{"id":0,"aenergy":{"total":152669.987},"tag":null}',
        values={"energy": D("152.669987")},
    ),
    Case(
        "shelly-plus-1pm-first-boot-elided-iobroker438",
        "shelly_plus_1pm",
        "shellyplus1pm-boot",
        "{base}/status/switch:0",
        b'{"id":0,"voltage":240.873,"aenergy":{"total":0.000}}',
        values={"voltage": D("240.873"), "energy": D(0)},
    ),
    Case(
        "shelly-plus-1pm-input-null-state-iobroker438",
        "shelly_plus_1pm",
        "shellyplus1pm-boot",
        "{base}/status/input:0",
        b'{"id":0,"state":null}',
        absent=("relay_on", "power"),
    ),
]


def readings_by_point(items: list[Reading | DeviceEvent]) -> dict[str, Reading]:
    found: dict[str, Reading] = {}
    for item in items:
        if isinstance(item, Reading):
            assert item.point not in found, f"{item.point} reported twice"
            found[item.point] = item
    return found


def check_case(case: Case, items: list[Reading | DeviceEvent]) -> None:
    """The expectations of one case, shared with the through-the-broker replay."""
    readings = readings_by_point(items)
    for point, value in case.values.items():
        reading = readings[point]
        assert (reading.quality, reading.reason) == (Quality.GOOD, None), point
        assert reading.value == value, point
        assert type(reading.value) is type(value), point
    for point, (quality, reason) in case.bad.items():
        assert (readings[point].quality, readings[point].reason) == (quality, reason)
    for point in case.absent:
        assert point not in readings
    assert set(readings) <= set(case.values) | set(case.bad), "unexpected points"
    events = [(e.kind, e.data) for e in items if isinstance(e, DeviceEvent)]
    assert events == list(case.events)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_real_payload_decodes(case: Case) -> None:
    profile = load_profile(case.profile)
    state = DeviceState("dev-1", case.base_topic, started_at=0.0)
    topic = case.topic.replace("{base}", case.base_topic)

    result = decode(profile, topic, case.payload, state, now=1.0)

    assert result.heard
    check_case(case, result.items)
    expected_rejects = [
        reason for quality, reason in case.bad.values() if "is null" not in reason
    ]
    assert result.rejected == expected_rejects
    assert state.rejected_values == len(expected_rejects)
    assert state.rejected_messages == 0
