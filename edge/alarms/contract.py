"""The alarm event every source is brought to, and the action report.

Drivers report what the device said (``type``, ``state``, ``point``); OSDP readers
report door events of their own kinds. What the gateway buffers and sends is always
the contract of ``edge.alarms``: one ``DeviceEvent(kind="alarm", alarm=True)`` per
raise and per clear, with the severity the site gives the type and the rule that
raised it (None for a device's own alarm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from drivers.types import DeviceEvent, Value


class AlarmState(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


DEFAULT_SEVERITY: Mapping[str, Severity] = {
    "water_leak": Severity.CRITICAL,
    "smoke": Severity.CRITICAL,
    "door_forced": Severity.MAJOR,
    "tamper": Severity.MAJOR,
    "door_held_open": Severity.MINOR,
    "device_offline": Severity.MAJOR,
    "equipment_fault": Severity.MAJOR,
    "threshold": Severity.MAJOR,
    "stale_data": Severity.MINOR,
}
FALLBACK_SEVERITY = Severity.MAJOR
"""For a type neither the table above nor the site configuration names."""

OSDP_DOOR_ALARMS = frozenset({"door_forced", "door_held_open"})


@dataclass(frozen=True, slots=True)
class AlarmKey:
    """At most one alarm is open per key: a second raise while open is a repeat."""

    device_id: str
    type: str
    rule: str | None = None

    def describe(self) -> str:
        rule = f" (rule {self.rule})" if self.rule else ""
        return f"{self.device_id} {self.type}{rule}"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm raised or cleared; ``at`` is the engine's monotonic clock."""

    key: AlarmKey
    state: AlarmState
    severity: Severity
    point: str | None
    at: float
    value: Value = None
    detail: str = ""

    def event(self) -> DeviceEvent:
        data: dict[str, Any] = {
            "type": self.key.type,
            "state": str(self.state),
            "severity": str(self.severity),
            "point": self.point,
            "rule": self.key.rule,
        }
        if self.value is not None:
            data["value"] = _json_value(self.value)
        if self.detail:
            data["detail"] = self.detail
        return DeviceEvent(self.key.device_id, "alarm", data, alarm=True)


@dataclass(frozen=True, slots=True)
class ActionReport:
    """One attempt of a local action and what its verification found; ``latency_ms``
    counts from the alarm (or, for a renewal, from its start) and ``at`` is the
    engine's monotonic clock when the attempt ended."""

    type: str
    trigger: AlarmKey
    target: str
    verified: bool
    detail: str
    latency_ms: int
    attempt: int
    at: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def event(self) -> DeviceEvent:
        data: dict[str, Any] = {
            "type": self.type,
            "trigger": self.trigger.type,
            "trigger_device": self.trigger.device_id,
            "trigger_rule": self.trigger.rule,
            "target": self.target,
            "verified": self.verified,
            "detail": self.detail,
            "latency_ms": self.latency_ms,
            "attempt": self.attempt,
            **self.extra,
        }
        return DeviceEvent(self.target, "action", data, alarm=True)


class Severities:
    """The severity of each alarm type: the site's choice over the defaults."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._table = dict(DEFAULT_SEVERITY)
        self._table.update({k: Severity(v) for k, v in (overrides or {}).items()})

    def of(self, alarm_type: str) -> Severity:
        return self._table.get(alarm_type, FALLBACK_SEVERITY)


def _json_value(value: Value) -> str | bool:
    if isinstance(value, Decimal):
        return str(value)
    return value if isinstance(value, bool) else str(value)
