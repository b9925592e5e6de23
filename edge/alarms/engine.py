"""The gateway's alarm engine: rules, the devices' own alarms and local actions.

The gateway hands every item it takes to ``observe`` and records what comes back:
the readings and events as they were, with each driver alarm replaced by the alarm
contract's event and with the alarms the rules raised. Alarm events are committed to
the buffer at once (the gateway flushes on ``alarm=True``), so an alarm is on disk
within the poll cycle or push message that caused it. What happens later (a ``for_s``
running out, a stale point, an action's result) is recorded through ``emit``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from prometheus_client import CollectorRegistry, Counter, Gauge

from drivers.types import DeviceEvent, Reading
from edge.alarms.actions import ActionRunner, ActionTargets
from edge.alarms.contract import ActionReport, AlarmChange, AlarmState, Severities
from edge.alarms.rules import RuleEngine, RuleSet, RuleSetOutcome
from edge.alarms.site import Catalogue
from edge.config import ActionSection, SiteConfig

logger = logging.getLogger(__name__)

Emit = Callable[[list[Reading | DeviceEvent]], None]


class _NoTargets:
    modbus_devices: Mapping[str, Any] = {}
    door_buses: Mapping[str, Any] = {}


class AlarmEngine:
    """Use as ``async with engine:`` around the time the devices are open."""

    def __init__(
        self,
        rules: RuleEngine,
        *,
        emit: Emit,
        actions: Sequence[ActionSection] = (),
        targets: ActionTargets | None = None,
        tick_s: float = 0.25,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.rules = rules
        self.actions = ActionRunner(
            actions,
            targets=targets or _NoTargets(),
            report=self._reported,
            clock=rules.clock,
        )
        self.tick_s = tick_s
        self._emit = emit
        self._ticker: asyncio.Task[None] | None = None
        self._metrics = _AlarmMetrics(registry or CollectorRegistry())
        self._metrics.rules_version.set(rules.version)

    @classmethod
    def from_site(
        cls,
        config: SiteConfig,
        *,
        emit: Emit,
        targets: ActionTargets | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> AlarmEngine:
        """The engine for a loaded site configuration (checked by ``load_config``)."""
        alarms = config.alarms
        catalogue = (
            Catalogue.from_site(config) if config.rules or config.actions else None
        )
        rules = RuleEngine(
            RuleSet(version=alarms.rules_version, rules=config.rules),
            severities=Severities(alarms.severity),
            clear_hold_s=alarms.clear_hold_s,
            catalogue=catalogue,
            clock=clock,
        )
        if catalogue is None:
            rules.catalogue = _LazyCatalogue(config)
        return cls(
            rules,
            emit=emit,
            actions=config.actions,
            targets=targets,
            tick_s=alarms.tick_s,
            registry=registry,
        )

    # --- what the gateway calls --------------------------------------------------

    def observe(
        self, items: Iterable[Reading | DeviceEvent]
    ) -> list[Reading | DeviceEvent]:
        """What to record for ``items``; never raises and never drops a reading."""
        items = list(items)
        try:
            kept, changes = self.rules.observe(items)
        except Exception:  # a bug here must not cost a reading
            logger.exception(
                "alarm rules failed on %d items; recorded as they came", len(items)
            )
            return items
        return kept + self._act(changes)

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> None:
        try:
            changes = self.rules.set_online(device_id, online, reason)
        except Exception:
            logger.exception("%s: alarm rules failed on an online change", device_id)
            return
        self._record(self._act(changes))

    def replace_rules(self, document: Mapping[str, Any]) -> RuleSetOutcome:
        """Install a rule set from the cloud; see ``RuleEngine.replace_rules``."""
        outcome = self.rules.replace_rules(document)
        if outcome.applied:
            self._metrics.rules_version.set(self.rules.version)
        else:
            self._metrics.rulesets_refused.inc()
        return outcome

    def tick(self) -> None:
        """Settle what time decides: delays run out, stale points, held clears."""
        self._record(self._act(self.rules.tick()))

    # --- running -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._ticker = asyncio.create_task(self._tick_loop(), name="edge-alarms")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.wait([self._ticker])  # our own cancel still propagates
            self._ticker = None
        await self.actions.aclose()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.tick()
            except Exception:  # ticking must go on
                logger.exception("alarm tick failed")

    # --- inside ------------------------------------------------------------------

    def _act(self, changes: list[AlarmChange]) -> list[Reading | DeviceEvent]:
        """The events of ``changes``, with their actions started."""
        events: list[Reading | DeviceEvent] = []
        for change in changes:
            events.append(change.event())
            self._metrics.count(change)
            try:
                self.actions.on_change(change)
            except Exception:
                logger.exception("%s: starting actions failed", change.key.describe())
        self._metrics.active.set(len(self.rules.open_alarms()))
        return events

    def _reported(self, report: ActionReport) -> None:
        self._metrics.actions.labels(report.type, str(report.verified).lower()).inc()
        self._record([report.event()])

    def _record(self, items: list[Reading | DeviceEvent]) -> None:
        if items:
            self._emit(items)


class _LazyCatalogue:
    """Profiles are loaded only when a rule set arrives for a site without rules."""

    def __init__(self, config: SiteConfig) -> None:
        self._config = config
        self._catalogue: Catalogue | None = None

    def check_rules(self, rules: Any, *, where: str) -> None:
        if self._catalogue is None:
            self._catalogue = Catalogue.from_site(self._config)
        self._catalogue.check_rules(rules, where=where)


class _AlarmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.raised = Counter(
            "pams_edge_alarms_raised",
            "Alarms raised on the gateway, by type and severity.",
            ["type", "severity"],
            registry=registry,
        )
        self.cleared = Counter(
            "pams_edge_alarms_cleared",
            "Alarms cleared on the gateway, by type.",
            ["type"],
            registry=registry,
        )
        self.active = Gauge(
            "pams_edge_alarms_active", "Alarms open right now.", registry=registry
        )
        self.actions = Counter(
            "pams_edge_actions",
            "Local action attempts, by action and whether they were verified.",
            ["action", "verified"],
            registry=registry,
        )
        self.rules_version = Gauge(
            "pams_edge_alarm_rules_version",
            "Version of the alarm rule set running.",
            registry=registry,
        )
        self.rulesets_refused = Counter(
            "pams_edge_alarm_rulesets_refused",
            "Rule sets refused (the running set was kept).",
            registry=registry,
        )

    def count(self, change: AlarmChange) -> None:
        if change.state is AlarmState.ACTIVE:
            self.raised.labels(change.key.type, str(change.severity)).inc()
        else:
            self.cleared.labels(change.key.type).inc()
