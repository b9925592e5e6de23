"""The simulated BLE devices: scenario sections, determinism, beacons, bad frames."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from bleak.backends.device import BLEDevice

from drivers.ble.bthome import BTHomeDecoder
from drivers.ble.errors import BadAdvertisement, RejectReason
from drivers.ble.ruuvi import RuuviDecoder
from drivers.ble.sim_backend import parse_advertisement
from sim.ble import DEVICE_TYPES, DeviceSpec, Fault, SimConfigError, ble_simulation
from sim.ble.server import Advert

LEAK = {"id": "leak-1", "profile": "bthome_leak_sensor", "address": "A4:C1:38:00:00:01"}
TH = {"id": "th-1", "profile": "bthome_th_sensor", "address": "A4:C1:38:00:00:02"}
BUTTON = {"id": "button-1", "profile": "bthome_button", "address": "A4:C1:38:00:00:03"}
RUUVI = {"id": "ruuvi-1", "profile": "ruuvitag_df5", "address": "CB:B8:33:4C:88:4F"}


def entry(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


@pytest.mark.parametrize(
    ("section", "words"),
    [
        pytest.param([entry(LEAK, profile="zigbee")], "profile 'zigbee'", id="profile"),
        pytest.param([entry(LEAK, address="A4:C1")], "is not a MAC", id="address"),
        pytest.param([entry(LEAK, colour="red")], "unknown keys ['colour']", id="key"),
        pytest.param([entry(LEAK, interval_s=0)], "must be positive", id="interval"),
        pytest.param(
            [LEAK, entry(LEAK, address="A4:C1:38:00:00:09")],
            "device_id used twice",
            id="same id twice",
        ),
        pytest.param(
            [entry(RUUVI, bindkey="00" * 16)],
            "takes no bindkey",
            id="bindkey on a RuuviTag",
        ),
        pytest.param([entry(TH, bindkey="abcd")], "32 hex digits", id="short bindkey"),
        pytest.param(
            [entry(LEAK, faults=[{"kind": "press", "at_s": 1}])],
            "fault 'press' is not one of",
            id="fault of another device",
        ),
        pytest.param(
            [entry(LEAK, faults=[{"kind": "leak"}])],
            "needs at_s",
            id="fault without a time",
        ),
        pytest.param(
            [entry(LEAK, faults=[{"kind": "silent", "at_s": 5, "until_s": 2}])],
            "until_s must follow at_s",
            id="fault ending before it starts",
        ),
        pytest.param(
            [
                entry(
                    RUUVI,
                    faults=[{"kind": "garbage", "at_s": 1, "variant": "wrong_key"}],
                )
            ],
            "garbage variant 'wrong_key'",
            id="garbage a tag cannot send",
        ),
        pytest.param(
            [entry(BUTTON, faults=[{"kind": "press", "at_s": 1, "event": "squeeze"}])],
            "press event 'squeeze'",
            id="unknown button event",
        ),
    ],
)
def test_section_that_cannot_be_simulated_is_refused(
    section: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(SimConfigError, match=words.replace("[", r"\[")):
        ble_simulation(section)


def test_wiring_names_the_socket_and_gives_a_th_sensor_a_key_of_its_own() -> None:
    given = "231d39c1d7cc1ab1aee224cd096db932"
    section = {
        "devices": [
            LEAK,
            TH,
            entry(TH, id="th-2", address="A4:C1:38:00:00:05", bindkey=given),
        ]
    }

    wiring = ble_simulation(section, seed=7).wiring
    again = ble_simulation(section, seed=7).wiring
    other = ble_simulation(section, seed=8).wiring

    assert wiring["socket"]["host"] == "127.0.0.1" and wiring["socket"]["port"] > 0
    keys = [device["bindkey"] for device in wiring["devices"]]
    assert keys[0] is None and len(bytes.fromhex(keys[1])) == 16 and keys[2] == given
    assert keys == [d["bindkey"] for d in again["devices"]]
    assert keys[1] != other["devices"][1]["bindkey"]
    assert wiring["devices"][0] == {
        "device_id": "leak-1",
        "profile": "bthome_leak_sensor",
        "address": "A4:C1:38:00:00:01",
        "bindkey": None,
    }


async def read_lines(port: int, count: int) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(5):
            return [json.loads(await reader.readline()) for _ in range(count)]
    finally:
        writer.close()


async def heard(seed: int) -> list[dict[str, Any]]:
    section = [entry(TH, interval_s=0.01), entry(RUUVI, interval_s=0.01)]
    simulation = ble_simulation(section, seed=seed, wait_for_scanner=True)
    async with simulation:
        return await read_lines(simulation.wiring["socket"]["port"], 12)


async def test_same_seed_puts_the_same_advertisements_on_the_air() -> None:
    first, second, other = await heard(3), await heard(3), await heard(4)

    assert first == second
    assert first != other
    assert {line["address"] for line in first} == {TH["address"], RUUVI["address"]}


async def test_every_connected_scanner_hears_every_advertisement() -> None:
    simulation = ble_simulation([entry(LEAK, interval_s=0.01)], wait_for_scanner=True)
    port = simulation.wiring["socket"]["port"]
    # Both connect before the simulation serves: the listening socket queues them.
    scanners = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    async with simulation, asyncio.timeout(5):
        heard = [[await reader.readline() for _ in range(6)] for reader, _ in scanners]
    for _, writer in scanners:
        writer.close()

    assert heard[0] == heard[1]
    assert len(set(heard[0])) == 6


async def test_button_sends_a_burst_then_repeats_its_last_packet_as_a_beacon() -> None:
    button = entry(BUTTON, interval_s=0.02, faults=[{"kind": "press", "at_s": 0.05}])
    simulation = ble_simulation([button], wait_for_scanner=True)
    async with simulation:
        lines = await read_lines(simulation.wiring["socket"]["port"], 10)

    frames = [line["service_data"][next(iter(line["service_data"]))] for line in lines]
    pressed = frames.index(next(f for f in frames if f.endswith("3a01")))
    assert frames[pressed : pressed + 3] == [frames[pressed]] * 3
    assert set(frames[pressed:]) == {frames[pressed]}
    assert all(f.endswith("3a00") for f in frames[:pressed])


def make(profile: str, bindkey: bytes | None = None) -> Any:
    kind = DEVICE_TYPES[profile]
    address = RUUVI["address"] if profile == "ruuvitag_df5" else LEAK["address"]
    spec = DeviceSpec("dev", profile, address, bindkey, 1.0)
    return kind(spec, random.Random(1))


def judged(advert: Advert, bindkey: bytes | None = None) -> RejectReason | None:
    """What the driver makes of one simulated advertisement."""
    address, name, advertisement = parse_advertisement(advert.to_line())
    device = BLEDevice(address, name, None)
    decoder: Any = (
        RuuviDecoder(address=address)
        if advertisement.manufacturer_data
        else BTHomeDecoder(address=address, bindkey=bindkey)
    )
    try:
        decoder.decode(device, advertisement, 0.0)
    except BadAdvertisement as bad:
        return bad.code
    return None


KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")


GARBAGE = [
    ("bthome_leak_sensor", None, "truncated", RejectReason.TRUNCATED),
    ("bthome_leak_sensor", None, "wrong_version", RejectReason.WRONG_VERSION),
    ("bthome_leak_sensor", None, "unknown_object", RejectReason.UNKNOWN_OBJECT),
    ("bthome_th_sensor", KEY, "truncated", RejectReason.TRUNCATED),
    ("bthome_th_sensor", KEY, "wrong_key", RejectReason.DECRYPT_FAILED),
    ("bthome_th_sensor", KEY, "downgrade", RejectReason.DOWNGRADE),
    ("bthome_th_sensor", KEY, "unknown_object", RejectReason.UNKNOWN_OBJECT),
    ("ruuvitag_df5", None, "truncated", RejectReason.TRUNCATED),
    ("ruuvitag_df5", None, "wrong_format", RejectReason.WRONG_VERSION),
]


@pytest.mark.parametrize(
    ("profile", "bindkey", "variant", "reason"),
    [pytest.param(*case, id=f"{case[0]} {case[2]}") for case in GARBAGE],
)
def test_each_garbage_variant_is_refused_by_the_driver_for_its_reason(
    profile: str, bindkey: bytes | None, variant: str, reason: RejectReason
) -> None:
    device = make(profile, bindkey)
    good = device.periodic()[0]

    bad = device.apply(Fault("garbage", 0.0, params={"variant": variant}))[0]

    assert judged(good, bindkey) is None
    assert judged(bad, bindkey) is reason
