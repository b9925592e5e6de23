"""Safe local actions, taken by the gateway itself when an alarm is raised.

- ``close_valve``: on a water leak, write ``"closed"`` to the valve point of a Modbus
  water meter, then verify. The driver reads the point back right after the write,
  but a motorised valve takes seconds to travel and its status bits show the old
  position meanwhile, so a read-back that is not yet ``closed`` is followed by polls
  of the meter every ``verify_interval_s`` until it reads ``closed`` or
  ``verify_timeout_s`` has passed.
- ``release_doors``: on smoke, pulse the lock relay of each configured OSDP door for
  ``seconds``; verified when the reader acknowledged the output command. An OSDP
  output timer carries at most 25.5 s, so the release is issued again every
  ``seconds - REISSUE_MARGIN_S`` while the alarm lasts; when it clears, the gateway
  stops re-issuing and the doors lock again when their timer runs out.

Each action runs as its own task: ``on_change`` never waits. An action runs once per
raise of its alarm (not again while that alarm stays open) and is retried up to
``retries`` times, ``retry_delay_s`` apart, when verification fails. Every attempt
is reported (``ActionReport``): the gateway records it as an alarm-priority event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from drivers.errors import DriverError
from drivers.types import Quality, Reading
from edge.alarms.contract import ActionReport, AlarmChange, AlarmKey, AlarmState
from edge.config import ActionSection

logger = logging.getLogger(__name__)

REISSUE_MARGIN_S = 5.0
"""A door release is renewed this long before its OSDP timer would run out."""
_EXPECTED = (DriverError, ValueError, KeyError, TimeoutError)


class ValveMeter(Protocol):
    """What ``close_valve`` needs of a meter: the Modbus driver's devices are this."""

    device_id: str

    async def write(self, point_name: str, value: object) -> Reading: ...

    async def poll(self) -> list[Reading]: ...


class DoorBus(Protocol):
    """What ``release_doors`` needs of a door line: ``drivers.osdp.OsdpBus``."""

    async def unlock(self, device_id: str, seconds: float | None = None) -> None: ...


class ActionTargets(Protocol):
    """Where the devices are once their buses are open: the gateway is this."""

    @property
    def modbus_devices(self) -> Mapping[str, Any]: ...

    @property
    def door_buses(self) -> Mapping[str, Any]: ...


@dataclass(slots=True)
class _DoorRelease:
    triggers: set[AlarmKey] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class ActionRunner:
    """Starts, verifies, retries and reports the site's local actions."""

    def __init__(
        self,
        actions: Sequence[ActionSection],
        *,
        targets: ActionTargets,
        report: Callable[[ActionReport], None],
        clock: Callable[[], float] = time.monotonic,
        history: int = 256,
    ) -> None:
        self.actions = list(actions)
        self.targets = targets
        self.clock = clock
        self.reports: deque[ActionReport] = deque(maxlen=history)
        """The latest reports, newest last."""
        self.reported = 0
        """How many reports there have been since the start."""
        self._report = report
        self._valve_runs: dict[tuple[int, AlarmKey], asyncio.Task[None]] = {}
        self._doors: dict[int, _DoorRelease] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reported = asyncio.Event()

    def on_change(self, change: AlarmChange) -> None:
        """Start (or stop) what ``change`` calls for; never waits."""
        for index, action in enumerate(self.actions):
            if action.on != change.key.type:
                continue
            if (
                action.sources is not None
                and change.key.device_id not in action.sources
            ):
                continue
            if action.kind == "close_valve":
                self._valve(index, action, change)
            else:
                self._release(index, action, change)

    async def aclose(self) -> None:
        """Cancel every action still running (the gateway is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_for(
        self, condition: Callable[[Sequence[ActionReport]], bool], timeout_s: float
    ) -> None:
        """Wait until ``condition(reports)`` holds (for tests and the bench)."""
        async with asyncio.timeout(timeout_s):
            while not condition(self.reports):
                self._reported.clear()
                await self._reported.wait()

    # --- close_valve -------------------------------------------------------------

    def _valve(self, index: int, action: ActionSection, change: AlarmChange) -> None:
        run = (index, change.key)
        if change.state is AlarmState.CLEARED:
            self._valve_runs.pop(run, None)  # the next raise closes it again
            return
        if run in self._valve_runs:
            return  # already done, or being done, for this alarm
        self._valve_runs[run] = self._start(
            self._close_valve(action, change), f"close-valve-{action.device}"
        )

    async def _close_valve(self, action: ActionSection, change: AlarmChange) -> None:
        assert action.device is not None
        for attempt in range(1, action.retries + 2):
            verified, detail = await self._close_once(action)
            self._emit(
                ActionReport(
                    "close_valve",
                    change.key,
                    action.device,
                    verified,
                    detail,
                    self._latency_ms(change.at),
                    attempt,
                    at=self.clock(),
                )
            )
            if verified:
                return
            if attempt <= action.retries:
                await asyncio.sleep(action.retry_delay_s)
        logger.error(
            "%s: valve not closed after %d attempts on %s",
            action.device,
            action.retries + 1,
            change.key.describe(),
        )

    async def _close_once(self, action: ActionSection) -> tuple[bool, str]:
        assert action.device is not None
        meter = self.targets.modbus_devices.get(action.device)
        if meter is None:
            return False, f"{action.device} is not polled by this gateway (yet)"
        try:
            return await self._close_and_verify(cast(ValveMeter, meter), action)
        except _EXPECTED as exc:
            return False, _reason(exc)
        except Exception as exc:  # an action must report, whatever went wrong
            logger.exception("%s: closing the valve failed unexpectedly", action.device)
            return False, f"unexpected error: {exc!r}"

    async def _close_and_verify(
        self, meter: ValveMeter, action: ActionSection
    ) -> tuple[bool, str]:
        reading = await meter.write(action.point, "closed")
        if _reads_closed(reading):
            return True, f"{action.point} reads closed right after the write"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + action.verify_timeout_s
        polls = 0
        while loop.time() < deadline:
            await asyncio.sleep(action.verify_interval_s)
            polls += 1
            found = [r for r in await meter.poll() if r.point == action.point]
            reading = found[0] if found else reading
            if _reads_closed(reading):
                return True, f"{action.point} reads closed after {polls} re-reads"
        return False, (
            f"{action.point} still reads {_describe(reading)} "
            f"{action.verify_timeout_s:g} s after the write ({polls} re-reads)"
        )

    # --- release_doors -----------------------------------------------------------

    def _release(self, index: int, action: ActionSection, change: AlarmChange) -> None:
        release = self._doors.setdefault(index, _DoorRelease())
        if change.state is AlarmState.ACTIVE:
            release.triggers.add(change.key)
            if release.task is None or release.task.done():
                release.task = self._start(
                    self._keep_released(action, change), f"release-doors-{index}"
                )
            return
        release.triggers.discard(change.key)
        if not release.triggers and release.task is not None:
            release.task.cancel()
            release.task = None
            logger.info(
                "%s: %s over; doors lock again when their release runs out",
                ", ".join(action.devices),
                action.on,
            )

    async def _keep_released(self, action: ActionSection, change: AlarmChange) -> None:
        reissue_s = max(action.seconds - REISSUE_MARGIN_S, action.seconds / 2)
        started_at = change.at
        first_round = True
        while True:
            await self._release_round(action, change, started_at, first_round)
            first_round = False
            await asyncio.sleep(reissue_s)
            started_at = self.clock()

    async def _release_round(
        self,
        action: ActionSection,
        change: AlarmChange,
        started_at: float,
        first_round: bool,
    ) -> None:
        """Release every door, retrying the ones that fail; report what matters:
        the first release, every failure, and a success after a failure."""
        pending = list(action.devices)
        for attempt in range(1, action.retries + 2):
            outcomes = await asyncio.gather(*(self._unlock(action, d) for d in pending))
            failed = []
            for door, (verified, detail) in zip(pending, outcomes, strict=True):
                if not verified:
                    failed.append(door)
                if first_round or not verified or attempt > 1:
                    report = ActionReport(
                        "release_doors",
                        change.key,
                        door,
                        verified,
                        detail,
                        self._latency_ms(started_at),
                        attempt,
                        at=self.clock(),
                        extra={"seconds": action.seconds},
                    )
                    self._emit(report)
                else:
                    logger.debug("%s: release renewed for %g s", door, action.seconds)
            pending = failed
            if not pending:
                return
            if attempt <= action.retries:
                await asyncio.sleep(action.retry_delay_s)

    async def _unlock(self, action: ActionSection, door: str) -> tuple[bool, str]:
        bus = self.targets.door_buses.get(door)
        if bus is None:
            return False, f"{door} is not on an OSDP line of this gateway"
        try:
            async with asyncio.timeout(action.verify_timeout_s):
                await cast(DoorBus, bus).unlock(door, action.seconds)
        except _EXPECTED as exc:
            return False, _reason(exc)
        except Exception as exc:  # an action must report, whatever went wrong
            logger.exception("%s: releasing the door failed unexpectedly", door)
            return False, f"unexpected error: {exc!r}"
        return True, f"lock released for {action.seconds:g} s, acknowledged"

    # --- reporting ---------------------------------------------------------------

    def _start(self, work: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            work, name=name
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, report: ActionReport) -> None:
        self.reports.append(report)
        self.reported += 1
        log = logger.info if report.verified else logger.warning
        log(
            "%s: %s on %s, %s in %d ms (attempt %d): %s",
            report.target,
            report.type,
            report.trigger.describe(),
            "verified" if report.verified else "NOT verified",
            report.latency_ms,
            report.attempt,
            report.detail,
        )
        try:
            self._report(report)
        except Exception:  # the report is logged above; the action goes on
            logger.exception("%s: the action report was refused", report.target)
        self._reported.set()

    def _latency_ms(self, since: float) -> int:
        return max(0, round((self.clock() - since) * 1000))


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])  # str() of a KeyError quotes its message
    if isinstance(exc, TimeoutError):
        return "no acknowledgement in time"
    return str(exc) or type(exc).__name__


def _reads_closed(reading: Reading) -> bool:
    return reading.quality is Quality.GOOD and reading.value == "closed"


def _describe(reading: Reading) -> str:
    if reading.quality is Quality.GOOD:
        return repr(reading.value)
    return f"{reading.quality} ({reading.reason})"
