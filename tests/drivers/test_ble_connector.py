"""The connector: profiles applied, alarms on transitions, one press per beacon,
refusals recorded, and a watchdog that restarts a deaf scanner (controlled clock)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable
from decimal import Decimal

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.ble import (
    BleConfigError,
    BleConnector,
    RejectReason,
    load_ble_profile,
    sim_scanner_backend,
)
from drivers.ble.bthome import BTHOME_UUID
from drivers.ble.ruuvi import RUUVI_COMPANY_ID
from drivers.types import DeviceEvent, Quality, Reading
from tests.conftest import free_port

LEAK = "A4:C1:38:00:00:01"
TH = "54:48:E6:8F:80:A5"
TH_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
BUTTON = "A4:C1:38:00:00:03"
TAG = "CB:B8:33:4C:88:4F"
RUUVI_MAXIMUM = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F"
RUUVI_INVALID = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"

DEVICES = [
    ("leak-1", "bthome_leak_sensor", LEAK, None),
    ("th-1", "bthome_th_sensor", TH, TH_KEY),
    ("button-1", "bthome_button", BUTTON, None),
    ("ruuvi-1", "ruuvitag_df5", TAG, None),
]


class RecordingSink:
    """What the gateway would receive, plus a way to wait for it."""

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

    def readings(self, device_id: str, point: str) -> list[Reading]:
        return [
            item
            for item in self.items
            if isinstance(item, Reading)
            and item.device_id == device_id
            and item.point == point
        ]

    def events(self, device_id: str, kind: str) -> list[DeviceEvent]:
        return [
            item
            for item in self.items
            if isinstance(item, DeviceEvent)
            and item.device_id == device_id
            and item.kind == kind
        ]

    async def wait_for(
        self, condition: Callable[[], bool], within_s: float = 5
    ) -> None:
        async with asyncio.timeout(within_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bthome(address: str, payload: str) -> tuple[BLEDevice, AdvertisementData]:
    service_data = {BTHOME_UUID: bytes.fromhex(payload)}
    advertisement = AdvertisementData(None, {}, service_data, [], None, -60, ())
    return BLEDevice(address, None, None), advertisement


def ruuvi(payload: str) -> tuple[BLEDevice, AdvertisementData]:
    data = {RUUVI_COMPANY_ID: bytes.fromhex(payload)}
    return BLEDevice(TAG, None, None), AdvertisementData(
        None, data, {}, [], None, -70, ()
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def connector(sink: RecordingSink, clock: FakeClock) -> BleConnector:
    return BleConnector(devices=DEVICES, sink=sink, clock=clock)


def test_leak_alarm_is_raised_and_cleared_on_transitions_only(
    connector: BleConnector, sink: RecordingSink, clock: FakeClock
) -> None:
    for packet_id, wet in [(1, 0), (2, 1), (3, 1), (4, 0), (5, 0)]:
        connector.on_advertisement(*bthome(LEAK, f"4000{packet_id:02x}0164200{wet}"))
        clock.advance(1)

    alarms = sink.events("leak-1", "alarm")
    assert [(e.data, e.alarm) for e in alarms] == [
        ({"type": "water_leak", "state": "active", "point": "leak"}, True),
        ({"type": "water_leak", "state": "cleared", "point": "leak"}, True),
    ]
    assert [r.value for r in sink.readings("leak-1", "leak")] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert sink.readings("leak-1", "battery")[0] == Reading(
        "leak-1", "battery", Decimal(100), "%"
    )
    assert sink.online == [("leak-1", True, None)]


def test_beacon_repeating_a_press_reports_one_button_press(
    connector: BleConnector, sink: RecordingSink, clock: FakeClock
) -> None:
    press = "40005201643a01"
    for _ in range(6):
        connector.on_advertisement(*bthome(BUTTON, press))
        clock.advance(8)  # beyond bthome-ble's own 4 s window

    presses = sink.events("button-1", "button_press")
    assert [e.data for e in presses] == [{"event": "press", "source": "button"}]
    stats = connector.stats("button-1")
    assert (stats.accepted, stats.duplicates, stats.rejected) == (1, 5, {})
    assert list(connector.rejections) == []


def test_encrypted_th_sensor_reports_points_with_units(
    connector: BleConnector, sink: RecordingSink
) -> None:
    connector.on_advertisement(*bthome(TH, "41a47266c95f730011223378237214"))

    assert sink.items == [
        Reading("th-1", "temperature", Decimal("25.06"), "°C"),
        Reading("th-1", "humidity", Decimal("50.55"), "%"),
    ]


def test_plain_packet_from_a_device_with_a_bindkey_is_recorded_as_downgrade(
    connector: BleConnector, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        connector.on_advertisement(*bthome(TH, "4002ca0903bf13"))

    assert sink.items == []
    rejection = connector.rejections[-1]
    assert (rejection.device_id, rejection.code) == ("th-1", RejectReason.DOWNGRADE)
    assert "possible downgrade" in rejection.message
    assert connector.stats("th-1").rejected == {"downgrade": 1}
    assert connector.stats("th-1").last_reason == rejection.message
    assert "th-1: refused advertisement (downgrade)" in caplog.text
    assert TH_KEY.hex() not in caplog.text


def test_bad_advertisement_does_not_take_down_the_next_good_one(
    connector: BleConnector, sink: RecordingSink
) -> None:
    connector.on_advertisement(*bthome(LEAK, "4002ca0903bf"))
    connector.on_advertisement(*bthome(LEAK, "e102000c0404138a01"))
    connector.on_advertisement(*bthome(LEAK, "40000101642001"))

    assert connector.stats("leak-1").rejected == {"truncated": 1, "wrong_version": 1}
    assert [r.point for r in sink.items if isinstance(r, Reading)] == [
        "leak",
        "battery",
    ]


def test_impossible_ruuvi_temperature_is_out_of_range_with_reason(
    connector: BleConnector, sink: RecordingSink
) -> None:
    connector.on_advertisement(*ruuvi(RUUVI_MAXIMUM))

    temperature = sink.readings("ruuvi-1", "temperature")[0]
    assert temperature.value == Decimal("163.835")
    assert temperature.quality is Quality.OUT_OF_RANGE
    assert temperature.reason == (
        "temperature 163.835 °C is outside the plausible range -40..85 °C"
    )
    assert sink.readings("ruuvi-1", "humidity")[0].quality is Quality.OUT_OF_RANGE
    battery = sink.readings("ruuvi-1", "battery_voltage")[0]
    assert (battery.value, battery.quality) == (Decimal("3.646"), Quality.GOOD)
    assert sink.readings("ruuvi-1", "tx_power")[0].value == Decimal(20)


def test_ruuvi_not_available_markers_become_unavailable_readings(
    connector: BleConnector, sink: RecordingSink
) -> None:
    connector.on_advertisement(*ruuvi(RUUVI_INVALID))

    readings = [item for item in sink.items if isinstance(item, Reading)]
    assert {r.quality for r in readings} == {Quality.UNAVAILABLE}
    assert {r.value for r in readings} == {None}
    assert len(readings) == len(load_ble_profile("ruuvitag_df5").points)
    pressure = sink.readings("ruuvi-1", "pressure")[0]
    assert pressure.reason == "pressure: the tag sent the not-available marker 0xffff"


def test_ruuvi_repeat_of_a_measurement_is_counted_not_published(
    connector: BleConnector, sink: RecordingSink, clock: FakeClock
) -> None:
    connector.on_advertisement(*ruuvi(RUUVI_MAXIMUM))
    clock.advance(1)
    connector.on_advertisement(*ruuvi(RUUVI_MAXIMUM))

    assert len(sink.readings("ruuvi-1", "temperature")) == 1
    assert connector.stats("ruuvi-1").duplicates == 1


def test_advertisements_from_other_addresses_are_ignored(
    connector: BleConnector, sink: RecordingSink
) -> None:
    connector.on_advertisement(*bthome("11:22:33:44:55:66", "4002ca0903bf13"))

    assert (connector.heard, connector.ignored, sink.items) == (1, 1, [])


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        pytest.param(
            [("a", "bthome_leak_sensor", "A4:C1:38", None)],
            "is not a MAC",
            id="bad address",
        ),
        pytest.param(
            [("a", "bthome_th_sensor", TH, b"short")],
            "bindkey must be 16 bytes",
            id="short bindkey",
        ),
        pytest.param(
            [("a", "bthome_th_sensor", TH, None)],
            "profile bthome_th_sensor requires a bindkey",
            id="missing bindkey",
        ),
        pytest.param(
            [("a", "ruuvitag_df5", TAG, TH_KEY)],
            "takes no bindkey",
            id="bindkey for a ruuvi",
        ),
        pytest.param(
            [
                ("a", "bthome_leak_sensor", LEAK, None),
                ("b", "bthome_leak_sensor", LEAK.lower(), None),
            ],
            "configured twice",
            id="same address twice",
        ),
    ],
)
def test_unusable_device_entry_is_refused_at_construction(
    devices: list[tuple[str, str, str, bytes | None]], words: str, sink: RecordingSink
) -> None:
    with pytest.raises(BleConfigError, match=words):
        BleConnector(devices=devices, sink=sink)


# --- watchdog and offline, through the simulator backend's real socket --------------


class AdvertisingServer:
    """A stand-in simulator: counts scanner connections and sends lines to them."""

    def __init__(self) -> None:
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> AdvertisingServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        for writer in self.writers:
            writer.close()
        self.server.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        self.writers.append(writer)

    def send(self, address: str, payload: str) -> None:
        line = {"address": address, "rssi": -60, "service_data": {"fcd2": payload}}
        self.writers[-1].write(json.dumps(line).encode() + b"\n")


def sim_connector(
    server: AdvertisingServer,
    sink: RecordingSink,
    clock: FakeClock,
    offline_after_s: float,
) -> BleConnector:
    leak_profile = dataclasses.replace(
        load_ble_profile("bthome_leak_sensor"), offline_after_s=offline_after_s
    )
    return BleConnector(
        devices=[("leak-1", leak_profile, LEAK, None)],
        sink=sink,
        backend=sim_scanner_backend(f"127.0.0.1:{server.port}"),
        watchdog_s=10,
        clock=clock,
        watchdog_poll_s=0.002,
    )


async def test_watchdog_restarts_scanning_after_silence(
    sink: RecordingSink, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with AdvertisingServer() as server:
        connector = sim_connector(server, sink, clock, offline_after_s=3600)
        async with connector:
            await connector.wait_until(lambda: connector.scans_started == 1)
            clock.advance(6)
            server.send(LEAK, "40000101642000")
            await sink.wait_for(lambda: len(sink.items) == 2)
            clock.advance(6)  # 12 s since start, 6 s since heard
            await asyncio.sleep(0.02)  # ten watchdog rounds: nothing may happen
            assert (connector.restarts, server.connections) == (0, 1)

            with caplog.at_level(logging.WARNING):
                clock.advance(5)  # 11 s since heard
                async with asyncio.timeout(5):
                    await connector.wait_until(lambda: connector.scans_started == 2)

    assert (connector.restarts, server.connections) == (1, 2)
    assert (
        "BLE scanner heard nothing for 10 s; restarting it (restart 1)" in caplog.text
    )


async def test_device_silent_past_its_profile_limit_goes_offline(
    sink: RecordingSink, clock: FakeClock
) -> None:
    async with AdvertisingServer() as server:
        connector = sim_connector(server, sink, clock, offline_after_s=5)
        async with connector:
            await connector.wait_until(lambda: connector.scans_started == 1)
            server.send(LEAK, "40000101642000")
            await sink.wait_for(lambda: len(sink.online) == 1)
            clock.advance(6)
            await sink.wait_for(lambda: len(sink.online) == 2)

    assert sink.online == [
        ("leak-1", True, None),
        ("leak-1", False, "no valid advertisement for 6 s"),
    ]
    assert connector.restarts == 0


async def test_leaving_while_the_watchdog_restarts_the_scanner_stops_it(
    sink: RecordingSink, clock: FakeClock
) -> None:
    async with AdvertisingServer() as server:
        connector = sim_connector(server, sink, clock, offline_after_s=5)
        async with connector:
            await connector.wait_until(lambda: connector.scans_started == 1)
            clock.advance(11)  # offline and a restart in the same watchdog round
            await sink.wait_for(lambda: len(sink.online) == 1)
            # Leaving now cancels the connector while it stops the old scanner.

        assert connector.scans_started == 1
        assert all(task.get_name() != "ble-connector" for task in asyncio.all_tasks())


async def test_scanner_that_cannot_start_is_retried_not_fatal(
    sink: RecordingSink,
) -> None:
    connector = BleConnector(
        devices=DEVICES,
        sink=sink,
        backend=sim_scanner_backend(f"127.0.0.1:{free_port()}"),
    )
    async with connector, asyncio.timeout(5):
        await connector.wait_until(lambda: connector.start_failures == 1)

    assert connector.scans_started == 0
