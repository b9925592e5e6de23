"""Alarms on the gateway: raised, acted on and recorded with the cloud gone.

The alarm contract
------------------
Every alarm the gateway records, whatever raised it, is one event per raise and one
per clear::

    DeviceEvent(
        device_id,            # the device the alarm is about
        kind="alarm",
        alarm=True,           # the clear too: neither may ever be evicted
        data={
            "type": "water_leak" | "smoke" | "tamper" | "door_forced"
                    | "door_held_open" | "device_offline" | "equipment_fault"
                    | "threshold" | "stale_data" | ...,   # a rule may name its own
            "state": "active" | "cleared",
            "severity": "critical" | "major" | "minor" | "warning",
            "point": point name, or None (device_offline),
            "rule": the rule id, or None for the device's own alarm,
            "value": optional, the value (as decimal text) that raised or cleared it,
            "detail": optional, one sentence for a person,
        },
    )

At most one alarm is open per (device, type, rule): no second "active" before a
"cleared". Where the alarms come from:

- The devices' own alarm meanings (firmware profiles): the MQTT and BLE drivers
  report ``DeviceEvent(kind="alarm", alarm=True, data={"type", "state", "point"})``;
  the gateway adds the severity (site policy: ``[alarms] severity``, else
  ``contract.DEFAULT_SEVERITY``) and ``rule = None``.
- OSDP door readers report ``door_forced``, ``door_held_open`` and ``tamper`` events
  of their own kinds; those flagged as alarms by the profile also raise the alarm of
  the same type (point ``door`` or ``tamper``). A ``door_closed`` clears the door's
  forced and held-open alarms; a tamper event with ``active = false`` clears tamper.
  The door events themselves are recorded as they came.
- Rules (``rules``): thresholds with delay and hysteresis, rate of change, stale
  data and device offline, evaluated on the gateway.

Local actions (``actions``) report each attempt as::

    DeviceEvent(target, kind="action", alarm=True, data={
        "type": "close_valve" | "release_doors", "trigger": alarm type,
        "trigger_device": ..., "trigger_rule": ..., "target": device id,
        "verified": bool, "detail": sentence, "latency_ms": int, "attempt": int})

Site configuration
------------------
::

    [alarms]
    clear_hold_s = 2.0        # a clear must hold this long (flapping suppression)
    tick_s = 0.25             # how often delays and stale points are looked at
    rules_version = 0
    severity = { door_held_open = "warning" }

    [[rules]]
    id = "pump-overcurrent"
    device = "pump-meter"
    point = "current"
    type = "equipment_fault"  # default: threshold / stale_data / device_offline
    severity = "major"        # default: by type
    above = 12                # or below = ...; both make a band
    clear_below = 10          # hysteresis (default: the limit itself)
    for_s = 30                # the condition must hold this long
    # rate_per_min = 5 (rate_window_s = 60) | stale_s = 600 | offline_s = 60
    # hold_s = 5              # this rule's clear hold

    [[actions]]
    on = "water_leak"
    kind = "close_valve"
    device = "water-main"     # a Modbus meter with a writable "valve" state point
    sources = ["leak-basement"]   # optional: only these devices' alarms

    [[actions]]
    on = "smoke"
    kind = "release_doors"
    devices = ["door-lobby"]  # OSDP readers with a lock output
    seconds = 25              # at most 25.5 (one OSDP timer); re-issued while active

The cloud replaces the rules at run time with ``AlarmEngine.replace_rules``
(``{"version": n, "rules": [...]}``, the same keys as ``[[rules]]``).
"""

from edge.alarms.actions import REISSUE_MARGIN_S, ActionRunner, ActionTargets
from edge.alarms.contract import (
    DEFAULT_SEVERITY,
    ActionReport,
    AlarmChange,
    AlarmKey,
    AlarmState,
    Severities,
    Severity,
)
from edge.alarms.engine import AlarmEngine
from edge.alarms.rules import Latch, RuleEngine, RuleSet, RuleSetOutcome
from edge.alarms.site import Catalogue, SiteError, check_site

__all__ = [
    "DEFAULT_SEVERITY",
    "REISSUE_MARGIN_S",
    "ActionReport",
    "ActionRunner",
    "ActionTargets",
    "AlarmChange",
    "AlarmEngine",
    "AlarmKey",
    "AlarmState",
    "Catalogue",
    "Latch",
    "RuleEngine",
    "RuleSet",
    "RuleSetOutcome",
    "Severities",
    "Severity",
    "SiteError",
    "check_site",
]
