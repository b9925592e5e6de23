"""Alarm rules, evaluated on the gateway so that they work with the cloud gone.

A rule is data (a ``[[rules]]`` table of the site configuration, or an entry of a
rule set the cloud sends) with exactly one condition:

- ``above`` / ``below``: a threshold on a numeric point, with hysteresis: raised when
  the value goes above ``above`` (below ``below``), cleared only once it is back below
  ``clear_below`` (above ``clear_above``); the clear limits default to the raise
  limits. Type ``threshold`` unless the rule says otherwise.
- ``rate_per_min``: the point changes by at least this much per minute over
  ``rate_window_s`` (positive: rising; negative: falling).
- ``stale_s``: no good value of the point for that long (type ``stale_data``).
- ``offline_s``: the device is reported offline for that long (``device_offline``).

Threshold and rate conditions must hold for ``for_s`` before the alarm is raised,
judged on each reading and again on every tick, so a sensor that reports rarely is
still raised on time. Every alarm, the devices' own included, clears only after its
clearing condition has held for ``hold_s`` (default: the site's ``clear_hold_s``):
a value dancing on the limit raises once and clears once. At most one alarm is open
per (device, type, rule); a second raise while it is open is dropped and counted.

Only good numeric readings are judged; a reading that is unavailable, stale or out
of range neither raises nor clears a threshold (the stale rule is there for that).
Time comes from an injectable monotonic clock.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.types import DeviceEvent, Quality, Reading, Value
from edge.alarms.contract import (
    OSDP_DOOR_ALARMS,
    AlarmChange,
    AlarmKey,
    AlarmState,
    Severities,
    Severity,
)
from edge.config import RuleSection

logger = logging.getLogger(__name__)

_DRIVER_STATES = frozenset({"active", "cleared"})
RuleKind = Literal["threshold", "rate", "stale", "offline"]
DEFAULT_TYPES: Mapping[RuleKind, str] = {
    "threshold": "threshold",
    "rate": "threshold",
    "stale": "stale_data",
    "offline": "device_offline",
}


class RuleSetError(ValueError):
    """A rule set that cannot be installed; the message says which rule and why."""


class PointCatalogue(Protocol):
    """What the site knows of its devices, to refuse rules naming what is not there."""

    def check_rules(self, rules: Sequence[RuleSection], *, where: str) -> None:
        """Raise ``ValueError`` naming the first rule whose device or point is
        unknown."""


class RuleSet(BaseModel):
    """A versioned set of rules: the site configuration's, or one from the cloud."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=0)
    rules: list[RuleSection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


@dataclass(frozen=True, slots=True)
class RuleSetOutcome:
    """What ``replace_rules`` did; ``reason`` says why a set was refused."""

    applied: bool
    version: int
    reason: str | None = None


# --- checking one rule ---------------------------------------------------------------


def rule_kind(rule: RuleSection) -> RuleKind:
    if rule.above is not None or rule.below is not None:
        return "threshold"
    if rule.rate_per_min is not None:
        return "rate"
    if rule.stale_s is not None:
        return "stale"
    return "offline"


def rule_type(rule: RuleSection) -> str:
    return rule.type or DEFAULT_TYPES[rule_kind(rule)]


def check_rule(rule: RuleSection) -> None:
    """Refuse a rule whose fields cannot make sense together (``ValueError``)."""
    kinds = [
        name
        for name, present in (
            ("above/below", rule.above is not None or rule.below is not None),
            ("rate_per_min", rule.rate_per_min is not None),
            ("stale_s", rule.stale_s is not None),
            ("offline_s", rule.offline_s is not None),
        )
        if present
    ]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        raise ValueError(
            "a rule needs exactly one condition of above/below, rate_per_min, "
            f"stale_s or offline_s (found: {found})"
        )
    kind = rule_kind(rule)
    if kind == "offline" and rule.point is not None:
        raise ValueError("an offline rule watches the device, not a point")
    if kind != "offline" and rule.point is None:
        raise ValueError(f"a {kind} rule needs the point it watches")
    if kind in ("stale", "offline") and rule.for_s:
        raise ValueError(f"for_s does not apply to a {kind} rule; its delay says it")
    if rule.rate_per_min == 0:
        raise ValueError("rate_per_min must not be 0")
    _check_limits(rule)


def _check_limits(rule: RuleSection) -> None:
    if rule.clear_below is not None and rule.above is None:
        raise ValueError("clear_below needs above")
    if rule.clear_above is not None and rule.below is None:
        raise ValueError("clear_above needs below")
    high = rule.clear_below if rule.clear_below is not None else rule.above
    low = rule.clear_above if rule.clear_above is not None else rule.below
    if rule.above is not None and high is not None and high > rule.above:
        raise ValueError(f"clear_below {high} is above the limit above = {rule.above}")
    if rule.below is not None and low is not None and low < rule.below:
        raise ValueError(f"clear_above {low} is below the limit below = {rule.below}")
    if high is not None and low is not None and low >= high:
        raise ValueError(
            f"the band is empty: a value cannot be both below {high} and above {low}"
        )


# --- raise and clear with delays -----------------------------------------------------


@dataclass(slots=True)
class Latch:
    """Raises once the condition held ``raise_after_s``, clears once its absence
    held ``clear_after_s``; a condition of None (nothing known) changes nothing."""

    raise_after_s: float
    clear_after_s: float
    active: bool = False
    condition: bool | None = None
    since: float = 0.0

    def update(self, condition: bool | None, now: float) -> AlarmState | None:
        if condition is not None and condition != self.condition:
            self.condition, self.since = condition, now
        return self.settle(now)

    def settle(self, now: float) -> AlarmState | None:
        if self.condition is None:
            return None
        held = now - self.since
        if self.condition and not self.active and held >= self.raise_after_s:
            self.active = True
            return AlarmState.ACTIVE
        if not self.condition and self.active and held >= self.clear_after_s:
            self.active = False
            return AlarmState.CLEARED
        return None


# --- one state per rule --------------------------------------------------------------


class _RuleState:
    """A rule and what it has seen so far."""

    def __init__(self, rule: RuleSection, severity: Severity, hold_s: float) -> None:
        self.rule = rule
        self.key = AlarmKey(rule.device, rule_type(rule), rule.id)
        self.severity = severity
        self.latch = Latch(rule.for_s, hold_s)
        self.value: Value = None
        self.unit = ""

    def reading(self, reading: Reading, now: float) -> AlarmChange | None:
        return None

    def online(
        self, online: bool, reason: str | None, now: float
    ) -> AlarmChange | None:
        return None

    def tick(self, now: float) -> AlarmChange | None:
        return self._change(self.latch.settle(now), now)

    def _change(self, state: AlarmState | None, now: float) -> AlarmChange | None:
        if state is None:
            return None
        return AlarmChange(
            self.key,
            state,
            self.severity,
            self.rule.point,
            now,
            self.value,
            self.describe(state),
        )

    def describe(self, state: AlarmState) -> str:
        raise NotImplementedError

    def _good_number(self, reading: Reading) -> Decimal | None:
        if reading.quality is not Quality.GOOD or not isinstance(
            reading.value, Decimal
        ):
            return None
        if not reading.value.is_finite():
            return None
        self.unit = f" {reading.unit}" if reading.unit else ""
        return reading.value


class _Threshold(_RuleState):
    def reading(self, reading: Reading, now: float) -> AlarmChange | None:
        number = self._good_number(reading)
        if number is None:
            return None
        self.value = number
        return self._change(self.latch.update(self._beyond(number), now), now)

    def _beyond(self, number: Decimal) -> bool:
        """Beyond a raise limit; once raised, beyond the clear limit (hysteresis)."""
        rule, active = self.rule, self.latch.active
        high = rule.clear_below if rule.clear_below is not None else rule.above
        low = rule.clear_above if rule.clear_above is not None else rule.below
        if rule.above is not None:
            assert high is not None
            if number > rule.above or (active and number >= high):
                return True
        if rule.below is not None:
            assert low is not None
            if number < rule.below or (active and number <= low):
                return True
        return False

    def describe(self, state: AlarmState) -> str:
        rule, where = self.rule, f"{self.rule.point} = {self.value}{self.unit}"
        if state is AlarmState.CLEARED:
            return f"{where}, back within the limits for {self.latch.clear_after_s:g} s"
        return f"{where}, {self._side()}{self.unit} for {rule.for_s:g} s"

    def _side(self) -> str:
        rule, value = self.rule, self.value
        if rule.above is not None and isinstance(value, Decimal) and value > rule.above:
            return f"above {rule.above}"
        return f"below {rule.below}"


class _Rate(_RuleState):
    def __init__(self, rule: RuleSection, severity: Severity, hold_s: float) -> None:
        super().__init__(rule, severity, hold_s)
        self.samples: deque[tuple[float, Decimal]] = deque()
        self.rate: Decimal | None = None

    def reading(self, reading: Reading, now: float) -> AlarmChange | None:
        number = self._good_number(reading)
        if number is None:
            return None
        self.samples.append((now, number))
        window = self.rule.rate_window_s
        # Keep one sample at or before the window's start, so the span covers it.
        while len(self.samples) > 2 and self.samples[1][0] <= now - window:
            self.samples.popleft()
        first_at, first = self.samples[0]
        if now - first_at < window:
            return None
        self.rate = (number - first) * 60 / Decimal(repr(now - first_at))
        self.value = Decimal(f"{self.rate:.6g}")
        threshold = self.rule.rate_per_min
        assert threshold is not None
        steep = self.rate >= threshold if threshold > 0 else self.rate <= threshold
        return self._change(self.latch.update(steep, now), now)

    def describe(self, state: AlarmState) -> str:
        changing = f"{self.rule.point} changes by {self.value}{self.unit} per minute"
        if state is AlarmState.CLEARED:
            return f"{changing}, within {self.rule.rate_per_min} again"
        return f"{changing}, beyond {self.rule.rate_per_min} for {self.rule.for_s:g} s"


class _Stale(_RuleState):
    def __init__(
        self, rule: RuleSection, severity: Severity, hold_s: float, now: float
    ) -> None:
        super().__init__(rule, severity, hold_s)
        self.latch.raise_after_s = 0
        self.last_good = now  # the rule starts watching now

    def reading(self, reading: Reading, now: float) -> AlarmChange | None:
        if reading.quality is not Quality.GOOD:
            return None
        self.last_good = now
        self.value = reading.value
        return self._change(self.latch.update(False, now), now)

    def tick(self, now: float) -> AlarmChange | None:
        assert self.rule.stale_s is not None
        stale = now - self.last_good >= self.rule.stale_s
        return self._change(self.latch.update(stale, now), now)

    def describe(self, state: AlarmState) -> str:
        if state is AlarmState.CLEARED:
            return f"{self.rule.point} has a good value again"
        return f"no good value of {self.rule.point} for {self.rule.stale_s:g} s"


class _Offline(_RuleState):
    def __init__(self, rule: RuleSection, severity: Severity, hold_s: float) -> None:
        super().__init__(rule, severity, hold_s)
        assert rule.offline_s is not None
        self.latch.raise_after_s = rule.offline_s
        self.reason: str | None = None

    def online(
        self, online: bool, reason: str | None, now: float
    ) -> AlarmChange | None:
        if not online:
            self.reason = reason
        return self._change(self.latch.update(not online, now), now)

    def describe(self, state: AlarmState) -> str:
        if state is AlarmState.CLEARED:
            return f"{self.rule.device} is online again"
        why = f": {self.reason}" if self.reason else ""
        return f"{self.rule.device} offline for {self.rule.offline_s:g} s{why}"


def _rule_state(
    rule: RuleSection, severity: Severity, hold_s: float, now: float
) -> _RuleState:
    kind = rule_kind(rule)
    if kind == "threshold":
        return _Threshold(rule, severity, hold_s)
    if kind == "rate":
        return _Rate(rule, severity, hold_s)
    if kind == "stale":
        return _Stale(rule, severity, hold_s, now)
    return _Offline(rule, severity, hold_s)


# --- the devices' own alarms ----------------------------------------------------------


@dataclass(slots=True)
class _DeviceAlarm:
    """An alarm a device raised itself (a profile's alarm meaning, an OSDP door)."""

    key: AlarmKey
    point: str | None
    latch: Latch
    sources: set[str] = field(default_factory=set)  # tamper: which switches are open


# --- the engine ----------------------------------------------------------------------


class RuleEngine:
    """Turns readings, device events and online states into alarm raises and clears.

    Pure and synchronous: ``observe``, ``set_online`` and ``tick`` return what
    changed; the caller publishes it and starts the actions.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        severities: Severities | None = None,
        clear_hold_s: float = 2.0,
        catalogue: PointCatalogue | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.severities = severities or Severities()
        self.clear_hold_s = clear_hold_s
        self.catalogue = catalogue
        self.clock = clock
        self.counts: Counter[str] = Counter()
        """How often each reason was recorded: repeats dropped, sets refused ..."""
        self.reasons: dict[str, str] = {}
        """The last message per reason code, as a sentence."""
        self.rejected: list[RuleSetOutcome] = []
        self._open: dict[AlarmKey, AlarmChange] = {}
        self._device_alarms: dict[AlarmKey, _DeviceAlarm] = {}
        self._pending: list[AlarmChange] = []
        self._ruleset = RuleSet(version=ruleset.version)
        self._states: dict[str, _RuleState] = {}
        self._by_point: dict[tuple[str, str], list[_RuleState]] = {}
        self._by_device: dict[str, list[_RuleState]] = {}
        self._install(ruleset)

    # --- what is running ---------------------------------------------------------

    @property
    def version(self) -> int:
        return self._ruleset.version

    @property
    def rules(self) -> tuple[RuleSection, ...]:
        return tuple(self._ruleset.rules)

    def open_alarms(self) -> dict[AlarmKey, AlarmChange]:
        """Each open alarm with the change that raised it."""
        return dict(self._open)

    # --- input -------------------------------------------------------------------

    def observe(
        self, items: Iterable[Reading | DeviceEvent]
    ) -> tuple[list[Reading | DeviceEvent], list[AlarmChange]]:
        """(what to record, alarm changes). Readings and ordinary events pass as
        they are; a driver's alarm event is replaced by the contract's."""
        now = self.clock()
        kept: list[Reading | DeviceEvent] = []
        changes: list[AlarmChange | None] = []
        for item in items:
            if isinstance(item, Reading):
                kept.append(item)
                for state in self._by_point.get((item.device_id, item.point), ()):
                    changes.append(state.reading(item, now))
            elif item.kind == "alarm":
                if self._readable(item):
                    changes.append(self._driver_alarm(item, now))
                else:
                    kept.append(item)  # recorded as it came, and counted
            else:
                kept.append(item)
                changes += self._door_event(item, now)
        return kept, self._commit(changes)

    def set_online(
        self, device_id: str, online: bool, reason: str | None = None
    ) -> list[AlarmChange]:
        now = self.clock()
        return self._commit(
            state.online(online, reason, now)
            for state in self._by_device.get(device_id, ())
        )

    def tick(self) -> list[AlarmChange]:
        """Raise what has held long enough, clear what has been quiet long enough."""
        now = self.clock()
        changes: list[AlarmChange | None] = list(self._pending)
        self._pending.clear()
        changes += [state.tick(now) for state in self._states.values()]
        for alarm in self._device_alarms.values():
            changes.append(self._device_change(alarm, alarm.latch.settle(now), now))
        return self._commit(changes)

    # --- rule sets ---------------------------------------------------------------

    def replace_rules(self, document: Mapping[str, Any]) -> RuleSetOutcome:
        """Install a rule set ``{"version": n, "rules": [...]}`` all at once, or
        keep the running one and record why not. Alarms of withdrawn rules are
        cleared on the next tick."""
        try:
            ruleset = RuleSet.model_validate(document)
        except ValidationError as exc:
            return self._refuse(_version_of(document), describe_errors(exc))
        if ruleset.version < self.version:
            return self._refuse(
                ruleset.version,
                f"version {ruleset.version} is older than the running {self.version}",
            )
        if ruleset.version == self.version:
            if ruleset.rules == self._ruleset.rules:
                return RuleSetOutcome(True, ruleset.version)
            return self._refuse(
                ruleset.version,
                f"version {ruleset.version} is already running with other rules",
            )
        if self.catalogue is not None:
            try:
                self.catalogue.check_rules(ruleset.rules, where="rules")
            except ValueError as exc:
                return self._refuse(ruleset.version, str(exc))
        self._install(ruleset)
        logger.info(
            "alarm rules version %d installed (%d rules)",
            ruleset.version,
            len(ruleset.rules),
        )
        return RuleSetOutcome(True, ruleset.version)

    def _refuse(self, version: int, reason: str) -> RuleSetOutcome:
        outcome = RuleSetOutcome(False, version, reason)
        self.rejected.append(outcome)
        self._count(
            "ruleset_refused",
            f"rule set version {version} refused, version {self.version} kept: "
            f"{reason}",
        )
        return outcome

    def _install(self, ruleset: RuleSet) -> None:
        now = self.clock()
        states: dict[str, _RuleState] = {}
        for rule in ruleset.rules:
            old = self._states.get(rule.id)
            if old is not None and old.rule == rule:
                states[rule.id] = old
                continue
            severity = Severity(rule.severity) if rule.severity else None
            state = _rule_state(
                rule,
                severity or self.severities.of(rule_type(rule)),
                self.clear_hold_s if rule.hold_s is None else rule.hold_s,
                now,
            )
            if old is not None and old.key == state.key:
                state.latch.active = old.latch.active  # still open under the new terms
            states[rule.id] = state
        for rule_id, old in self._states.items():
            kept = states.get(rule_id)
            if old.latch.active and (kept is None or kept.key != old.key):
                self._pending.append(
                    AlarmChange(
                        old.key,
                        AlarmState.CLEARED,
                        old.severity,
                        old.rule.point,
                        now,
                        detail=f"rule withdrawn by rule set version {ruleset.version}",
                    )
                )
        self._ruleset = ruleset
        self._states = states
        self._by_point, self._by_device = {}, {}
        for state in states.values():
            if state.rule.point is None:
                self._by_device.setdefault(state.rule.device, []).append(state)
            else:
                where = (state.rule.device, state.rule.point)
                self._by_point.setdefault(where, []).append(state)

    # --- the devices' own alarms -------------------------------------------------

    def _readable(self, event: DeviceEvent) -> bool:
        alarm_type, state = event.data.get("type"), event.data.get("state")
        if isinstance(alarm_type, str) and alarm_type and state in _DRIVER_STATES:
            return True
        self._count(
            "alarm_unreadable",
            f"{event.device_id}: alarm event {event.data!r} has no type or a state "
            "other than active/cleared; recorded as it came",
        )
        return False

    def _driver_alarm(self, event: DeviceEvent, now: float) -> AlarmChange | None:
        """The contract's change for a driver's alarm event (a profile meaning)."""
        point = event.data.get("point")
        return self._device_input(
            AlarmKey(event.device_id, str(event.data["type"])),
            point if isinstance(point, str) else None,
            event.data["state"] == "active",
            now,
        )

    def _door_event(self, event: DeviceEvent, now: float) -> list[AlarmChange | None]:
        """An OSDP door's own kinds of event, as alarms (they stay door events too)."""
        if event.kind in OSDP_DOOR_ALARMS and event.alarm:
            key = AlarmKey(event.device_id, event.kind)
            return [self._device_input(key, "door", True, now)]
        if event.kind == "door_closed":
            return [
                self._device_input(AlarmKey(event.device_id, kind), "door", False, now)
                for kind in OSDP_DOOR_ALARMS
                if AlarmKey(event.device_id, kind) in self._device_alarms
            ]
        if event.kind == "tamper":
            return [self._tamper(event, now)]
        return []

    def _tamper(self, event: DeviceEvent, now: float) -> AlarmChange | None:
        key = AlarmKey(event.device_id, "tamper")
        source = str(event.data.get("source", "reader"))
        alarm = self._device_alarms.get(key)
        if event.data.get("active") and event.alarm:
            alarm = alarm or self._new_device_alarm(key, "tamper")
            alarm.sources.add(source)
        elif alarm is not None:
            alarm.sources.discard(source)
        else:
            return None
        return self._device_input(key, "tamper", bool(alarm.sources), now)

    def _device_input(
        self, key: AlarmKey, point: str | None, active: bool, now: float
    ) -> AlarmChange | None:
        alarm = self._device_alarms.get(key)
        if alarm is None:
            if not active:
                return None  # a clear of nothing we saw raised
            alarm = self._new_device_alarm(key, point)
        if alarm.latch.active and active and alarm.latch.condition:
            self._count(
                "repeat_dropped",
                f"{key.describe()} raised again while open; dropped",
            )
        return self._device_change(alarm, alarm.latch.update(active, now), now)

    def _new_device_alarm(self, key: AlarmKey, point: str | None) -> _DeviceAlarm:
        alarm = _DeviceAlarm(key, point, Latch(0.0, self.clear_hold_s))
        self._device_alarms[key] = alarm
        return alarm

    def _device_change(
        self, alarm: _DeviceAlarm, state: AlarmState | None, now: float
    ) -> AlarmChange | None:
        if state is None:
            return None
        detail = (
            f"reported by {alarm.key.device_id}"
            if state is AlarmState.ACTIVE
            else f"{alarm.key.device_id} reports it over for "
            f"{alarm.latch.clear_after_s:g} s"
        )
        return AlarmChange(
            alarm.key,
            state,
            self.severities.of(alarm.key.type),
            alarm.point,
            now,
            detail=detail,
        )

    # --- bookkeeping -------------------------------------------------------------

    def _commit(self, changes: Iterable[AlarmChange | None]) -> list[AlarmChange]:
        """Keep the one-open-alarm-per-key promise, whatever produced the change."""
        committed: list[AlarmChange] = []
        for change in changes:
            if change is None:
                continue
            is_open = change.key in self._open
            if (change.state is AlarmState.ACTIVE) == is_open:
                self._count(
                    "transition_dropped",
                    f"{change.key.describe()} {change.state} while it is "
                    f"{'open' if is_open else 'not open'}; dropped",
                )
                continue
            if change.state is AlarmState.ACTIVE:
                self._open[change.key] = change
                logger.warning(
                    "%s alarm %s (%s): %s",
                    change.key.device_id,
                    change.key.type,
                    change.severity,
                    change.detail,
                )
            else:
                del self._open[change.key]
                logger.info(
                    "%s alarm %s cleared: %s",
                    change.key.device_id,
                    change.key.type,
                    change.detail,
                )
            committed.append(change)
        return committed

    def _count(self, code: str, message: str) -> None:
        self.counts[code] += 1
        self.reasons[code] = message
        level = logging.DEBUG if self.counts[code] > 1 else logging.WARNING
        logger.log(level, "%s", message)


def _version_of(document: Mapping[str, Any]) -> int:
    version = document.get("version") if isinstance(document, Mapping) else None
    return version if isinstance(version, int) else -1


def describe_errors(exc: ValidationError) -> str:
    """One clause per problem naming where it is: ``rules[1].above: ...``."""
    parts = []
    for err in exc.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
        ).lstrip(".")
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where or 'top level'}: {message}")
    return "; ".join(parts)
