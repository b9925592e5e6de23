"""The OSDP bus against simulated readers: libosdp on both ends of a pseudo-terminal,
secure channel on with a configured SCBK, the gateway opening the slave end as it
would an RS-485 adapter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from drivers.osdp import (
    CommandRejectedError,
    LinkState,
    OsdpBus,
    ReaderConfig,
    ReaderOfflineError,
)
from drivers.types import DeviceEvent, Reading
from sim.osdp import OsdpLineSim, osdp_line

KEY = "000102030405060708090a0b0c0d0e0f"
OTHER_KEY = "f0e0d0c0b0a090807060504030201000"
FAST = {"offline_after_s": 0.5, "retry_initial_s": 0.2, "retry_max_s": 1.0}


class RecordingSink:
    """What the gateway would receive, with a way to wait for it."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.online: list[tuple[str, bool, str | None]] = []
        self._changed = asyncio.Event()

    def publish(self, items: list[Reading | DeviceEvent]) -> None:
        self.events += [item for item in items if isinstance(item, DeviceEvent)]
        self._changed.set()

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        self.online.append((device_id, online, reason))
        self._changed.set()

    def kinds(self, device_id: str = "door-1") -> list[str]:
        return [event.kind for event in self.events if event.device_id == device_id]

    async def event(
        self, kind: str, device_id: str = "door-1", *, within_s: float = 5.0
    ) -> DeviceEvent:
        """The first event of ``kind`` from ``device_id``, waiting for it."""

        def found() -> DeviceEvent | None:
            return next(
                (e for e in self.events if e.kind == kind and e.device_id == device_id),
                None,
            )

        return await self.until(found, within_s=within_s)

    async def until(
        self, condition: Callable[[], Any], *, within_s: float = 5.0
    ) -> Any:
        async with asyncio.timeout(within_s):
            while True:
                self._changed.clear()
                if result := condition():
                    return result
                await self._changed.wait()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def section(*readers: dict[str, Any]) -> dict[str, Any]:
    return {"line": "doors", "readers": list(readers)}


def reader(device_id: str = "door-1", address: int = 1, **extra: Any) -> dict[str, Any]:
    return {"device_id": device_id, "address": address, "scbk": KEY, **extra}


@asynccontextmanager
async def doors(
    sim_section: dict[str, Any],
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    wait_online: bool = True,
    **bus_options: Any,
) -> AsyncIterator[tuple[OsdpLineSim, OsdpBus, RecordingSink]]:
    """A simulated line, and a bus configured from its wiring (plus overrides)."""
    line, wiring = osdp_line(sim_section)
    sink = RecordingSink()
    configs = [
        ReaderConfig.from_mapping(
            {**entry, **(overrides or {}).get(entry["device_id"], {})}
        )
        for entry in wiring["readers"]
    ]
    async with (
        line,
        OsdpBus(
            port=wiring["port"],
            baudrate=wiring["baudrate"],
            readers=configs,
            sink=sink,
            **{**FAST, **bus_options},
        ) as bus,
    ):
        if wait_online:
            async with asyncio.timeout(5):
                for config in configs:
                    await bus.wait_online(config.device_id)
        yield line, bus, sink


async def test_reader_comes_online_with_the_secure_channel() -> None:
    async with doors(section(reader())) as (line, bus, sink):
        online = await sink.event("device_online")

        assert online.data == {"secure_channel": True, "offline_s": None}
        assert sink.online == [("door-1", True, None)]
        assert bus.status("door-1").secure_channel is True
        await line.wait_for(lambda: line["door-1"].online)


async def test_card_read_arrives_with_its_bits() -> None:
    async with doors(section(reader())) as (line, _, sink):
        line["door-1"].swipe(154, 17806)

        card = await sink.event("card_read")

        assert card.data == {
            "format": "wiegand",
            "bits": 26,
            "hex": "cd22c740",
            "card_format": "h10301",
            "facility": 154,
            "card": 17806,
            "parity_ok": True,
            "reader": 0,
        }
        assert card.alarm is False


async def test_sample_card_with_bad_parity_is_reported_not_dropped() -> None:
    async with doors(section(reader())) as (line, _, sink):
        line["door-1"].swipe_raw(26, bytes.fromhex("cd22c716"))

        card = await sink.event("card_read")

        assert (card.data["facility"], card.data["card"]) == (154, 17806)
        assert card.data["parity_ok"] is False


async def test_unlock_reaches_the_reader_with_its_timer() -> None:
    async with doors(section(reader())) as (line, bus, _):
        await bus.unlock("door-1", 3.0)

        outputs = line["door-1"].outputs
        assert len(outputs) == 1
        assert (outputs[0].output_no, outputs[0].control_code) == (0, 5)
        assert (outputs[0].timer_count, outputs[0].seconds) == (30, 3.0)


async def test_led_and_buzzer_reach_the_reader() -> None:
    async with doors(section(reader())) as (line, bus, _):
        await bus.led("door-1", "green", seconds=2.0, on_ms=300, off_ms=200)
        await bus.buzzer("door-1", on_ms=200, off_ms=100, repeat=2)

        (led,) = line["door-1"].leds
        assert (led["on_color"], led["on_count"], led["off_count"]) == (2, 3, 2)
        assert (led["temporary"], led["timer_count"]) == (True, 20)
        (buzz,) = line["door-1"].buzzes
        assert (buzz["on_count"], buzz["off_count"], buzz["rep_count"]) == (2, 1, 2)


async def test_commands_the_reader_cannot_carry_out_are_not_sent() -> None:
    async with doors(section(reader())) as (line, bus, _):
        with pytest.raises(CommandRejectedError, match="reports 1 LED"):
            await bus.led("door-1", "red", led_number=3)
        with pytest.raises(ValueError, match="unlock time 30 s"):
            await bus.unlock("door-1", 30)

        assert bus.status("door-1").state is LinkState.ONLINE
        assert line["door-1"].leds == []


async def test_opening_without_unlock_is_a_forced_door() -> None:
    async with doors(section(reader())) as (line, _, sink):
        await sink.event("door_closed")  # the baseline

        line["door-1"].open_door()

        forced = await sink.event("door_forced")
        assert forced.alarm is True
        opened = await sink.event("door_opened")
        assert opened.data == {"initial": False, "authorised": False}


async def test_walk_through_after_unlock_then_held_open() -> None:
    clock = FakeClock()
    held_open = {"door-1": {"held_open_s": 10.0}}
    async with doors(section(reader()), overrides=held_open, clock=clock) as (
        line,
        bus,
        sink,
    ):
        line["door-1"].swipe(12, 345, walk_through_s=60)
        await sink.event("card_read")
        await bus.unlock("door-1", 5)

        opened = await sink.event("door_opened")
        assert opened.data["authorised"] is True
        assert "door_forced" not in sink.kinds()

        clock.now += 10.5
        held = await sink.event("door_held_open")
        assert held.alarm is True
        assert held.data == {"open_s": 10.5, "held_open_s": 10.0}


async def test_reader_offline_then_back_within_seconds() -> None:
    async with doors(section(reader())) as (line, bus, sink):
        started = time.monotonic()
        line["door-1"].go_offline(1.0)

        offline = await sink.event("device_offline")
        await sink.until(lambda: sink.kinds().count("device_online") == 2)
        online_again = [e for e in sink.events if e.kind == "device_online"][-1]

        assert offline.data["reason_code"] == "no_reply"
        assert time.monotonic() - started < 5
        assert 0.5 < online_again.data["offline_s"] < 4
        assert online_again.data["secure_channel"] is True
        assert [(online, reason is None) for _, online, reason in sink.online] == [
            (True, True),
            (False, False),
            (True, True),
        ]
        assert bus.counts["no_reply"] == 1
        await bus.unlock("door-1", 1)  # and it takes commands again


async def test_wrong_scbk_never_comes_online_and_says_why() -> None:
    wrong_key = {"door-1": {"scbk": OTHER_KEY}}
    async with doors(section(reader()), overrides=wrong_key, wait_online=False) as (
        line,
        bus,
        sink,
    ):
        offline = await sink.event("device_offline")
        retry_in_s = bus.status("door-1").retry_in_s

        assert offline.data["reason_code"] == "secure_channel_failed"
        assert "SCBK" in offline.data["reason"]
        assert sink.online == [("door-1", False, offline.data["reason"])]
        assert "device_online" not in sink.kinds()
        status = bus.status("door-1")
        assert status.state is not LinkState.ONLINE
        assert status.reason_code == "secure_channel_failed"
        assert retry_in_s is not None and retry_in_s < 1.0  # not libosdp's 300 s
        assert line["door-1"].online is False
        with pytest.raises(ReaderOfflineError):
            await bus.unlock("door-1", 1)


async def test_tamper_and_keypad() -> None:
    async with doors(section(reader())) as (line, _, sink):
        line["door-1"].keypad("4711#")
        line["door-1"].tamper(True)

        keypad = await sink.event("keypad")
        tamper = await sink.event("tamper")

        assert keypad.data == {"reader": 0, "keys": "4711#"}
        assert tamper.data == {"source": "reader", "active": True}
        assert tamper.alarm is True


async def test_bad_reader_data_is_counted_and_good_data_still_flows() -> None:
    # The profile's tamper input 6 does not exist on a 4-input reader.
    tamper_input = {"door-1": {"tamper_input": 6}}
    async with doors(section(reader()), overrides=tamper_input) as (line, bus, sink):
        line["door-1"].keypad_raw(b"12A")
        line["door-1"].open_door()

        await sink.event("door_forced")
        await sink.until(lambda: bus.counts["keypad_key_unknown"])

        assert "0x41" in bus.reasons["door-1", "keypad_key_unknown"]
        assert bus.reasons["door-1", "status_entry_missing"] == (
            "tamper input 6 is not in a status report of 4 entries"
        )
        assert "keypad" not in sink.kinds()
        assert bus.status("door-1").state is LinkState.ONLINE


async def test_two_readers_share_the_line_each_with_its_own_key() -> None:
    second = {**reader("door-2", 2), "scbk": OTHER_KEY}
    async with doors(section(reader(), second)) as (line, bus, sink):
        line["door-2"].swipe(1, 2)
        line["door-1"].go_offline(3.0)

        card = await sink.event("card_read", "door-2")
        await sink.event("device_offline", "door-1")
        await bus.unlock("door-2", 1)

        assert (card.data["facility"], card.data["card"]) == (1, 2)
        assert "device_offline" not in sink.kinds("door-2")
        assert line["door-2"].outputs[-1].seconds == 1.0
