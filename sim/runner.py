"""Run a whole scenario: start every device family, publish the wiring, stop cleanly.

A device family plugs in as a *starter*: a function taking the scenario and the clock
and returning an async context manager that starts the family's devices and yields a
running family, which can describe its wiring section and its devices' status. The
runner enters every starter in order and leaves them in reverse on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from sim.clock import SYSTEM_CLOCK, Clock
from sim.families import start_ble, start_mqtt, start_osdp
from sim.modbus.family import ModbusFamily, start_modbus
from sim.modbus.meters import Value
from sim.modbus.slave import ModbusDevice
from sim.scenario import Scenario

logger = logging.getLogger(__name__)


class RunningFamily(Protocol):
    def wiring(self) -> dict[str, Any]:
        """This family's top-level sections of the wiring JSON."""

    def status(self) -> dict[str, dict[str, Any]]:
        """Per device id: counters and current values, JSON-ready."""


FamilyStarter = Callable[[Scenario, Clock], AbstractAsyncContextManager[RunningFamily]]

FAMILIES: list[FamilyStarter] = [start_modbus, start_mqtt, start_ble, start_osdp]


class Simulation:
    """A running scenario: its families, its wiring, its devices' values and counts."""

    def __init__(
        self, scenario: Scenario, families: Sequence[RunningFamily], clock: Clock
    ) -> None:
        self.scenario = scenario
        self.families = list(families)
        self.clock = clock

    def wiring(self) -> dict[str, Any]:
        """The contract the gateway's configuration is generated from."""
        wiring: dict[str, Any] = {"scenario": self.scenario.name}
        for family in self.families:
            wiring.update(family.wiring())
        return wiring

    def status(self) -> dict[str, Any]:
        devices: dict[str, Any] = {}
        for family in self.families:
            devices.update(family.status())
        return {"scenario": self.scenario.name, "devices": devices}

    @property
    def modbus(self) -> ModbusFamily:
        for family in self.families:
            if isinstance(family, ModbusFamily):
                return family
        raise LookupError("this simulation runs no Modbus family")

    def device(self, device_id: str) -> ModbusDevice:
        return self.modbus.device(device_id)

    def value(self, device_id: str, point: str) -> Value:
        """What a correct read of ``point`` on ``device_id`` returns now."""
        return self.device(device_id).value(point)


@asynccontextmanager
async def simulate(
    scenario: Scenario,
    *,
    clock: Clock = SYSTEM_CLOCK,
    families: Sequence[FamilyStarter] | None = None,
) -> AsyncIterator[Simulation]:
    """Start every family of ``scenario``; everything listens inside the block."""
    async with AsyncExitStack() as stack:
        running = [
            await stack.enter_async_context(starter(scenario, clock))
            for starter in (FAMILIES if families is None else families)
        ]
        simulation = Simulation(scenario, running, clock)
        logger.info("scenario %s running", scenario.name)
        yield simulation
        logger.info("scenario %s stopping", scenario.name)


async def run(
    scenario: Scenario,
    *,
    wiring_path: Path | None = None,
    duration_s: float | None = None,
    status_path: Path | None = None,
    status_interval_s: float = 1.0,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Run until ``stop`` is set, SIGINT/SIGTERM, or ``duration_s``; return the status.

    The wiring file appears, complete, once every device listens; then ``ready`` is
    set. With ``status_path``,
    the status JSON (per device: request counts, live and last-served values) is
    rewritten every ``status_interval_s`` and once more at the end.
    """
    stop = stop or asyncio.Event()
    # Signals are caught before the wiring appears: whoever reads the wiring may
    # stop the simulator at once.
    async with _signals_async(stop), simulate(scenario) as simulation:
        if wiring_path is not None:
            write_json(wiring_path, simulation.wiring())
            logger.info("wiring written to %s", wiring_path)
        if ready is not None:
            ready.set()
        await _wait(simulation, stop, duration_s, status_path, status_interval_s)
        status = simulation.status()
        if status_path is not None:
            write_json(status_path, status)
    return status


async def _wait(
    simulation: Simulation,
    stop: asyncio.Event,
    duration_s: float | None,
    status_path: Path | None,
    interval_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if duration_s is None else loop.time() + duration_s
    while not stop.is_set():
        step = interval_s if status_path is not None else 3600.0
        if deadline is not None:
            step = min(step, deadline - loop.time())
            if step <= 0:
                return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(step):
                await stop.wait()
        if status_path is not None:
            write_json(status_path, simulation.status())


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread
            logger.debug("signal %s not handled here", signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


@asynccontextmanager
async def _signals_async(stop: asyncio.Event) -> AsyncIterator[None]:
    with _signals_set(stop):
        yield


def write_json(path: Path, data: Any) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
