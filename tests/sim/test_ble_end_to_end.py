"""Simulated BLE devices → socket → sim backend → BleakScanner → BleConnector → sink.

The simulator encodes with its own code (sim/ble), the gateway decodes with
bthome-ble and drivers/ble; exact values (battery levels, the forced temperatures)
must survive the round trip, encryption included.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from drivers.ble import (
    BleConnector,
    BleDeviceConfig,
    load_ble_profile,
    sim_scanner_backend,
)
from drivers.types import Quality
from sim.ble import ble_simulation
from tests.drivers.test_ble_connector import RecordingSink

SECTION = [
    {
        "id": "leak-1",
        "profile": "bthome_leak_sensor",
        "address": "A4:C1:38:00:00:01",
        "interval_s": 0.05,
        "battery": 88,
        "faults": [
            {"kind": "garbage", "at_s": 0.1, "variant": "truncated"},
            {"kind": "leak", "at_s": 0.2},
            {"kind": "leak_clear", "at_s": 0.5},
        ],
    },
    {
        "id": "th-1",
        "profile": "bthome_th_sensor",
        "address": "A4:C1:38:00:00:02",
        "interval_s": 0.05,
        "faults": [
            {"kind": "garbage", "at_s": 0.1, "variant": "downgrade"},
            {
                "kind": "impossible_temperature",
                "at_s": 0.15,
                "until_s": 0.3,
                "value": "99.99",
            },
            {"kind": "silent", "at_s": 0.6},
        ],
    },
    {
        "id": "button-1",
        "profile": "bthome_button",
        "address": "A4:C1:38:00:00:03",
        "interval_s": 0.05,
        "battery": 77,
        "faults": [{"kind": "press", "at_s": 0.25}],
    },
    {
        "id": "ruuvi-1",
        "profile": "ruuvitag_df5",
        "address": "CB:B8:33:4C:88:4F",
        "interval_s": 0.05,
        "battery_mv": 2950,
        "faults": [
            {"kind": "repeat", "at_s": 0, "count": 2},
            {"kind": "impossible_temperature", "at_s": 0.3, "until_s": 0.45},
        ],
    },
]


def connector_for(wiring: dict, sink: RecordingSink) -> BleConnector:
    devices = []
    for device in wiring["devices"]:
        profile = load_ble_profile(device["profile"])
        if device["device_id"] == "th-1":
            profile = dataclasses.replace(profile, offline_after_s=0.3)
        bindkey = bytes.fromhex(device["bindkey"]) if device["bindkey"] else None
        devices.append(
            BleDeviceConfig(device["device_id"], profile, device["address"], bindkey)
        )
    socket = wiring["socket"]
    return BleConnector(
        devices=devices,
        sink=sink,
        backend=sim_scanner_backend(f"{socket['host']}:{socket['port']}"),
        watchdog_s=5,
        watchdog_poll_s=0.01,
    )


async def test_simulated_building_reaches_the_sink_decoded_and_deduplicated() -> None:
    sink = RecordingSink()
    simulation = ble_simulation(SECTION, seed=11, wait_for_scanner=True)
    connector = connector_for(simulation.wiring, sink)

    def scenario_played() -> bool:
        return (
            any(e.data["state"] == "cleared" for e in sink.events("leak-1", "alarm"))
            and connector.stats("button-1").duplicates >= 5
            and ("th-1", False) in [(d, online) for d, online, _ in sink.online]
            and any(
                r.quality is Quality.OUT_OF_RANGE
                for r in sink.readings("ruuvi-1", "temperature")
            )
        )

    async with simulation, connector:
        await sink.wait_for(scenario_played, within_s=10)

    leak_alarms = sink.events("leak-1", "alarm")
    assert [(e.data, e.alarm) for e in leak_alarms] == [
        ({"type": "water_leak", "state": "active", "point": "leak"}, True),
        ({"type": "water_leak", "state": "cleared", "point": "leak"}, True),
    ]
    assert {r.value for r in sink.readings("leak-1", "battery")} == {Decimal(88)}
    assert connector.stats("leak-1").rejected["truncated"] == 1

    presses = sink.events("button-1", "button_press")
    assert [e.data for e in presses] == [{"event": "press", "source": "button"}]
    assert {r.value for r in sink.readings("button-1", "battery")} == {Decimal(77)}

    th_temperatures = sink.readings("th-1", "temperature")
    forced = [r for r in th_temperatures if r.quality is Quality.OUT_OF_RANGE]
    assert forced and {r.value for r in forced} == {Decimal("99.99")}
    assert forced[0].reason == (
        "temperature 99.99 °C is outside the plausible range -30..60 °C"
    )
    normal = [r.value for r in th_temperatures if r.quality is Quality.GOOD]
    assert normal and all(Decimal(20) < v < Decimal(23) for v in normal)
    assert connector.stats("th-1").rejected["downgrade"] == 1
    th_offline = [
        reason for d, online, reason in sink.online if d == "th-1" and not online
    ]
    assert th_offline and th_offline[-1].startswith("no valid advertisement for")

    ruuvi = sink.readings("ruuvi-1", "temperature")
    assert {r.value for r in ruuvi if r.quality is Quality.OUT_OF_RANGE} == {
        Decimal("163.835")
    }
    assert {r.value for r in sink.readings("ruuvi-1", "battery_voltage")} == {
        Decimal("2.95")
    }
    assert {r.value for r in sink.readings("ruuvi-1", "tx_power")} == {Decimal(4)}
    assert connector.stats("ruuvi-1").duplicates >= 1
    assert connector.restarts == 0
