"""Commands from the cloud, run on a real gateway against simulated devices.

The cloud is unreachable throughout: commands are handed to the runner as the uplink
would hand them over, and outcomes are read from the buffer, where they wait to be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.agent import CurrentRegistry, Gateway, serve
from edge.buffer import Buffer
from edge.commands import stage_config
from edge.config import load_config
from sim.modbus import ModbusDevice, ModelOptions, RtuLine, load_profile, make_model
from sim.osdp import OsdpLineSim, osdp_line
from sync.schema import Command

KEY = "8f3a1c2b4d5e6f708192a3b4c5d6e7f8"


class Site:
    def __init__(self, tmp_path: Path, meter: ModbusDevice, rtu_port: str) -> None:
        self.meter = meter
        self.rtu_port = rtu_port
        self.path = tmp_path / "site.toml"
        self.data_dir = tmp_path / "edge"
        self.token_file = tmp_path / "gateway.token"
        self.token_file.write_text("t" * 43, encoding="utf-8")

    def text(
        self,
        *,
        rtu_port: str | None = None,
        osdp: OsdpLineSim | None = None,
        cloud_url: str = "http://127.0.0.1:9",  # nothing listens: the cloud is away
    ) -> str:
        lines = [
            "[gateway]",
            'id = "gw-cmd"',
            f'data_dir = "{self.data_dir}"',
            "[cloud]",
            f'url = "{cloud_url}"',
            f'token_file = "{self.token_file}"',
            "config_trial_s = 2",
            "[health]",
            "port = 0  # any free port: tests run side by side",
            "[[modbus_rtu]]",
            'id = "plant"',
            f'port = "{rtu_port or self.rtu_port}"',
            "timeout_s = 0.3",
            "[[modbus_rtu.devices]]",
            'id = "water-main"',
            "unit_id = 10",
            'profile = "xintai_water_meter"',
            "poll_interval_s = 0.5",
        ]
        if osdp is not None:
            lines += [
                "[[osdp]]",
                'id = "doors"',
                f'port = "{osdp.port}"',
                "[[osdp.readers]]",
                'id = "door-1"',
                "address = 1",
                f'scbk = "{KEY}"',
            ]
        return "\n".join(lines) + "\n"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    profile = load_profile("xintai_water_meter")
    meter = ModbusDevice(
        device_id="water-main",
        profile=profile,
        unit_id=10,
        model=make_model(profile, 10, ModelOptions(seed="cmd", timezone=UTC)),
        tick_s=0.05,
    )
    async with RtuLine(name="plant", devices=[meter], baudrate=9600) as line:
        yield Site(tmp_path, meter, line.port)


def results(data_dir: Path) -> list[dict[str, Any]]:
    """Outcomes waiting in the buffer, read beside the running gateway."""
    path = data_dir / "buffer.db"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT data FROM records WHERE name = 'command_result' ORDER BY seq"
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def outcome_of(data_dir: Path, command_id: str) -> dict[str, Any] | None:
    found = [r for r in results(data_dir) if r["command_id"] == command_id]
    return found[-1] if found else None


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():
            await asyncio.sleep(0.05)


async def running(gateway: Gateway) -> tuple[asyncio.Event, asyncio.Task[Any]]:
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop, drain_timeout_s=0))
    await until(lambda: bool(gateway._online.get("water-main")))
    return stop, task


async def test_a_command_delivered_twice_runs_once(site: Site) -> None:
    line, _ = osdp_line(
        {
            "line": "doors",
            "readers": [{"device_id": "door-1", "address": 1, "scbk": KEY}],
        }
    )
    async with line:
        site.path.write_text(site.text(osdp=line), encoding="utf-8")
        gateway = Gateway(load_config(site.path), site_path=site.path)
        stop, task = await running(gateway)
        await until(lambda: bool(gateway._online.get("door-1")))
        unlock = Command(
            id="c-1", kind="unlock", device_id="door-1", args={"seconds": 3}
        )

        gateway.commands.accept([unlock])
        gateway.commands.accept([unlock])  # the ack that carried it was lost: resent
        await until(lambda: len(line["door-1"].outputs) >= 1)
        await asyncio.sleep(0.5)
        stop.set()
        await task

    assert len(line["door-1"].outputs) == 1
    assert line["door-1"].outputs[0].seconds == pytest.approx(3)
    assert [(r["command_id"], r["status"]) for r in results(site.data_dir)] == [
        ("c-1", "succeeded")
    ]


async def test_write_point_closes_the_valve_and_reports_the_read_back(
    site: Site,
) -> None:
    site.path.write_text(site.text(), encoding="utf-8")
    gateway = Gateway(load_config(site.path), site_path=site.path)
    stop, task = await running(gateway)

    gateway.commands.accept(
        [
            Command(
                id="c-2",
                kind="write_point",
                device_id="water-main",
                args={"point": "valve", "value": "closed"},
            )
        ]
    )
    await until(
        lambda: (
            gateway.buffer.unfinished_commands() == [] and bool(results_now(gateway))
        )
    )
    stop.set()
    await task

    outcome = results(site.data_dir)[0]
    assert outcome["status"] == "succeeded"
    assert "valve reads back 'closed'" in outcome["detail"]
    assert site.meter.value("valve") == 2  # the Xintai code for closed


def results_now(gateway: Gateway) -> list[Any]:
    gateway._flush()
    return gateway.buffer._db.execute(
        "SELECT 1 FROM records WHERE name = 'command_result'"
    ).fetchall()


async def test_unknown_expired_and_unfinished_commands_are_reported_not_run(
    site: Site,
) -> None:
    site.path.write_text(site.text(), encoding="utf-8")
    config = load_config(site.path)
    crashed = Buffer(config.gateway.data_dir / "buffer.db", boot_id="before")
    crashed.claim_command("c-crash", "write_point")  # the gateway died running it
    crashed.close()

    gateway = Gateway(config, site_path=site.path)
    stop, task = await running(gateway)
    past = datetime.now(UTC) - timedelta(minutes=1)
    gateway.commands.accept(
        [
            Command(id="c-old", kind="unlock", device_id="door-1", expires_at=past),
            Command(id="c-what", kind="self_destruct"),
        ]
    )
    await until(lambda: len(results_now(gateway)) >= 3)
    stop.set()
    await task

    outcomes = {
        r["command_id"]: (r["status"], r["detail"]) for r in results(site.data_dir)
    }
    assert outcomes["c-crash"] == (
        "unknown",
        "the gateway restarted while executing it",
    )
    assert outcomes["c-old"] == ("expired", "arrived after it expired")
    assert outcomes["c-what"] == ("rejected", "unknown kind 'self_destruct'")


async def test_a_rotated_token_is_stored_for_the_owner_only(site: Site) -> None:
    site.path.write_text(site.text(), encoding="utf-8")
    gateway = Gateway(load_config(site.path), site_path=site.path)
    stop, task = await running(gateway)
    new_token = "n" * 43

    gateway.commands.accept(
        [Command(id="c-3", kind="rotate_token", args={"token": new_token})]
    )
    await until(lambda: bool(results_now(gateway)))
    stop.set()
    await task

    assert site.token_file.read_text(encoding="utf-8") == new_token
    assert stat.S_IMODE(site.token_file.stat().st_mode) == 0o600
    assert results(site.data_dir)[0]["status"] == "succeeded"


async def serving(
    site: Site,
) -> tuple[asyncio.Event, asyncio.Task[Any], CurrentRegistry]:
    stop = asyncio.Event()
    registry = CurrentRegistry()
    task = asyncio.create_task(
        serve(site.path, stop, drain_timeout_s=0, registry=registry)
    )
    await until(lambda: registry.gateway is not None)
    return stop, task, registry


async def update(site: Site, text: str, command_id: str) -> dict[str, Any]:
    """Send update_config to a serving gateway and wait for its final outcome."""
    stop, task, registry = await serving(site)
    assert registry.gateway is not None
    registry.gateway.commands.accept(
        [Command(id=command_id, kind="update_config", args={"config": text})]
    )
    await until(lambda: outcome_of(site.data_dir, command_id) is not None, 20)
    await asyncio.sleep(0.3)
    stop.set()
    await task
    outcome = outcome_of(site.data_dir, command_id)
    assert outcome is not None
    return outcome


async def test_a_new_configuration_whose_devices_come_online_is_kept(
    site: Site,
) -> None:
    site.path.write_text(site.text(), encoding="utf-8")
    new_text = site.text().replace("poll_interval_s = 0.5", "poll_interval_s = 0.7")

    outcome = await update(site, new_text, "c-4")

    assert (outcome["status"], outcome["detail"]) == (
        "succeeded",
        "the new configuration is running",
    )
    assert site.path.read_text(encoding="utf-8") == new_text
    assert not site.path.with_name("site.toml.prev").exists()


async def test_a_new_configuration_that_brings_nothing_online_is_rolled_back(
    site: Site,
) -> None:
    old_text = site.text()
    site.path.write_text(old_text, encoding="utf-8")
    broken = site.text(rtu_port="/dev/pts/pams-no-such-port")

    outcome = await update(site, broken, "c-5")

    assert outcome["status"] == "failed"
    assert "no device came online within 2.0 s" in outcome["detail"]
    assert site.path.read_text(encoding="utf-8") == old_text


async def test_a_new_configuration_that_does_not_validate_is_refused(
    site: Site,
) -> None:
    old_text = site.text()
    site.path.write_text(old_text, encoding="utf-8")

    outcome = await update(
        site, old_text.replace("unit_id = 10", "unit_id = 300"), "c-6"
    )

    assert outcome["status"] == "failed"
    assert "new configuration refused" in outcome["detail"]
    assert "unit_id" in outcome["detail"]
    assert site.path.read_text(encoding="utf-8") == old_text


async def test_a_trial_the_gateway_died_in_is_rolled_back_at_start(site: Site) -> None:
    old_text = site.text()
    site.path.write_text(old_text, encoding="utf-8")
    stage_config(
        site.path, old_text.replace("poll_interval_s = 0.5", "poll_interval_s = 9")
    )
    site.path.with_name("config_trial").write_text("c-7", encoding="utf-8")

    stop, task, _ = await serving(site)
    await until(lambda: outcome_of(site.data_dir, "c-7") is not None)
    stop.set()
    await task

    outcome = outcome_of(site.data_dir, "c-7")
    assert outcome is not None and outcome["status"] == "failed"
    assert "the gateway died" in outcome["detail"]
    assert site.path.read_text(encoding="utf-8") == old_text
