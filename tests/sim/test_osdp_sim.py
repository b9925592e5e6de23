"""The OSDP reader simulator: its scenario section, its encoders, and a scenario
played against the gateway's bus over the pseudo-terminal it opens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from drivers.osdp import OsdpBus, ReaderConfig
from drivers.types import DeviceEvent, Reading
from sim.osdp import encode_h10301, encode_keys, osdp_line, pack_bits, parse_section

KEY = "00112233445566778899aabbccddeeff"


def reader(**extra: Any) -> dict[str, Any]:
    return {"device_id": "door-1", "address": 5, "scbk": KEY, **extra}


async def test_wiring_names_the_port_and_the_readers() -> None:
    line, wiring = osdp_line({"line": "east", "baudrate": 9600, "readers": [reader()]})
    async with line:
        pass

    assert wiring["port"].startswith("/dev/pts/")
    assert wiring == {
        "line": "east",
        "port": line.port,
        "baudrate": 9600,
        "readers": [
            {
                "device_id": "door-1",
                "address": 5,
                "scbk": KEY,
                "profile": "osdp_generic_door",
            }
        ],
    }


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        pytest.param({"address": 127}, "address 127", id="broadcast-address"),
        pytest.param({"scbk": "00"}, "1 bytes, not 16", id="short-key"),
        pytest.param({"events": [{"at": 1, "kind": "explode"}]}, "explode", id="kind"),
        pytest.param(
            {"events": [{"at": 1, "kind": "card", "facility": 300, "card": 1}]},
            "facility code 300",
            id="facility-too-big",
        ),
        pytest.param(
            {"events": [{"at": 1, "kind": "keypad", "keys": "12x"}]},
            "'x'",
            id="unknown-key",
        ),
        pytest.param(
            {"events": [{"at": 1, "kind": "offline"}]}, "duration_s", id="no-duration"
        ),
        pytest.param(
            {"events": [{"at": 1, "kind": "input", "input": 9}]}, "input 9", id="input"
        ),
        pytest.param({"events": [{"kind": "tamper"}]}, "'at'", id="no-time"),
    ],
)
def test_sections_that_cannot_be_played_are_refused(
    entry: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_section({"line": "east", "readers": [reader(**entry)]})

    assert "door-1" in str(caught.value)
    assert words in str(caught.value)


def test_a_line_without_readers_or_with_an_address_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="no readers"):
        parse_section({"line": "east"})
    twice = [reader(), reader(device_id="door-2")]
    with pytest.raises(ValueError, match="address twice"):
        parse_section({"line": "east", "readers": twice})


@pytest.mark.parametrize(
    ("facility", "card", "expected"),
    [
        # even parity 1 + facility 154 + card 17806 + odd parity 1
        (154, 17806, "11001101001000101100011101"),
        (0, 0, "00000000000000000000000001"),
        (255, 65535, "01111111111111111111111111"),
    ],
)
def test_h10301_encoder(facility: int, card: int, expected: str) -> None:
    assert encode_h10301(facility, card) == (26, pack_bits(expected))


def test_encoders_refuse_what_does_not_exist() -> None:
    with pytest.raises(ValueError, match="card number 70000"):
        encode_h10301(1, 70000)
    with pytest.raises(ValueError, match="not a string of bits"):
        pack_bits("012")
    assert encode_keys("9*#") == b"\x39\x7f\x0d"


class Sink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.changed = asyncio.Event()

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        self.events += [item for item in items if isinstance(item, DeviceEvent)]
        self.changed.set()

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        self.changed.set()

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    async def until(self, kind: str, count: int = 1) -> DeviceEvent:
        while True:
            self.changed.clear()
            found = [event for event in self.events if event.kind == kind]
            if len(found) >= count:
                return found[count - 1]
            await self.changed.wait()


async def test_a_scenario_plays_against_the_gateway() -> None:
    events = [
        {"at": 0.1, "kind": "card", "facility": 7, "card": 4242, "walk_through_s": 0.3},
        {"at": 0.2, "kind": "keypad", "keys": "1234#"},
        {"at": 0.3, "kind": "tamper", "active": True},
        # after the unlock window (0.5 s) and its grace (1 s)
        {"at": 2.0, "kind": "forced_door", "hold_s": 0.2},
        {"at": 2.4, "kind": "offline", "duration_s": 0.8},
    ]
    line, wiring = osdp_line({"line": "east", "readers": [reader(events=events)]})
    sink = Sink()
    configs = [ReaderConfig.from_mapping(entry) for entry in wiring["readers"]]
    async with (
        line,
        OsdpBus(
            port=wiring["port"],
            readers=configs,
            sink=sink,
            offline_after_s=0.5,
            retry_initial_s=0.2,
        ) as bus,
    ):
        async with asyncio.timeout(10):
            card = await sink.until("card_read")
            await bus.unlock("door-1", 0.5)  # the gateway lets the holder in
            started = time.monotonic()
            walked_in = await sink.until("door_opened")
            await sink.until("door_closed", 2)  # after the baseline
            await sink.until("door_forced")
            await sink.until("device_offline")
            await sink.until("device_online", 2)

    sim = line["door-1"]
    assert (card.data["facility"], card.data["card"]) == (7, 4242)
    assert walked_in.data["authorised"] is True
    assert sim.relay_on_until == pytest.approx(started + 0.5, abs=0.3)
    assert [event.data for event in sink.events if event.kind == "keypad"] == [
        {"reader": 0, "keys": "1234#"}
    ]
    assert "tamper" in sink.kinds()
    assert sink.kinds().count("door_closed") == 3  # baseline, walk-through, forced
    assert sim.first_online_at is not None
