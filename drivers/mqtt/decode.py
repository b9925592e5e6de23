"""Decoding MQTT messages into readings and events, table-driven from the profile.

Everything here is pure: no I/O, time passed in. ``decode`` takes one message and the
device's ``DeviceState`` (which it updates) and returns what the gateway should hear.

Each message becomes a patch on the device's *document*, its last known full status.
Readings are made only for points present in the patch: a Zigbee2MQTT heartbeat that
leaves out ``water_leak`` says nothing about the leak, and a Shelly NotifyStatus that
carries only ``apower`` says nothing about the voltage; the document keeps both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from drivers.mqtt.payload import (
    BadValueError,
    NotANumber,
    PayloadError,
    as_bool,
    as_number,
    parse_json,
    payload_text,
)
from drivers.mqtt.profile import (
    WILDCARD,
    MqttProfile,
    PathStep,
    PointKind,
    PointSpec,
    TopicFormat,
    TopicSpec,
)
from drivers.types import DeviceEvent, Quality, Reading, Value

logger = logging.getLogger(__name__)

Item = Reading | DeviceEvent


@dataclass(slots=True)
class PointState:
    value: Value = None
    known: bool = False
    last_seen: float | None = None
    last_changed: float | None = None
    stale: str | None = None
    """Why the last value is stale, until a fresh value arrives."""
    stale_on_repeat: bool = False
    """Stale because it stopped changing: the same value again does not clear it."""
    alarm_active: bool | None = None


@dataclass(slots=True)
class DeviceState:
    """What the driver remembers about one device between messages.

    Times are monotonic seconds. ``online`` is None until the device is first heard
    of or declared silent.
    """

    device_id: str
    base_topic: str
    started_at: float
    document: dict[str, Any] = field(default_factory=dict)
    points: dict[str, PointState] = field(default_factory=dict)
    last_message_at: float | None = None
    online: bool | None = None
    messages: int = 0
    rejected_messages: int = 0
    rejected_values: int = 0
    last_reason: str | None = None


@dataclass(slots=True)
class DecodeResult:
    """What one message meant.

    ``heard`` is False when the topic is not one the device publishes on (a command
    topic, an attribute the profile does not know); such a message says nothing.
    ``rejected`` holds the reason for a message thrown away whole, or for each value
    that was unusable while the rest of the message was kept.
    ``online`` is set when the device's online state changed, with ``reason``.
    """

    items: list[Item] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    heard: bool = True
    online: bool | None = None
    reason: str | None = None


class _Fault:
    """A value that sits where the path leads but cannot be a value (wrong shape)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def decode(
    profile: MqttProfile,
    topic: str,
    payload: bytes,
    state: DeviceState,
    *,
    now: float | None = None,
) -> DecodeResult:
    """Decode one message from ``topic`` for the device whose ``state`` is given.

    ``now`` is monotonic seconds (default: ``time.monotonic()``); it stamps when
    points were last seen, for the silence checks.
    """
    if now is None:
        now = time.monotonic()
    for spec in profile.topics:
        captured = spec.captures(state.base_topic, topic)
        if captured is not None:
            break
    else:
        return DecodeResult(heard=False)

    announcement = spec.format is TopicFormat.AVAILABILITY
    try:
        if announcement:
            result = _availability(spec, topic, payload, state)
        else:
            result = _values(profile, spec, captured, payload, state, now)
    except PayloadError as exc:
        result = DecodeResult(rejected=[f"{topic}: {exc}"])
        state.rejected_messages += 1
        state.last_reason = result.rejected[0]
    if result.heard:
        _heard(result, state, topic, now, announcement=announcement)
    return result


def _heard(
    result: DecodeResult,
    state: DeviceState,
    topic: str,
    now: float,
    *,
    announcement: bool,
) -> None:
    """Any message from the device shows it is alive, even one that is garbage."""
    state.messages += 1
    state.last_message_at = now
    if not announcement and state.online is not True:
        state.online = result.online = True
        result.reason = f"message received on {topic}"


def _availability(
    spec: TopicSpec, topic: str, payload: bytes, state: DeviceState
) -> DecodeResult:
    text = payload_text(payload).strip()
    try:
        parsed = parse_json(text)
    except PayloadError:
        parsed = text
    if isinstance(parsed, dict) and spec.state_key is not None:
        parsed = parsed.get(spec.state_key)
    word = ("true" if parsed else "false") if isinstance(parsed, bool) else str(parsed)
    if word.lower() in (item.lower() for item in spec.online):
        online = True
    elif word.lower() in (item.lower() for item in spec.offline):
        online = False
    else:
        raise PayloadError(f"availability {word!r} is neither online nor offline")
    result = DecodeResult()
    if state.online is not online:
        state.online = result.online = online
        result.reason = f"device announced {word!r} on {topic}"
    return result


def _values(
    profile: MqttProfile,
    spec: TopicSpec,
    captured: list[str],
    payload: bytes,
    state: DeviceState,
    now: float,
) -> DecodeResult:
    patch = _patch(profile, spec, captured, payload)
    if patch is None:
        return DecodeResult(heard=spec.format is not TopicFormat.VALUE)
    _merge(state.document, patch)

    result = DecodeResult()
    for point in profile.points:
        for matched_key, raw in _lookup(patch, point.path, point.path_text, None):
            name = point.point_name(matched_key)
            path = _path_text(point, matched_key)
            result.items.extend(_point(point, name, path, raw, state, now, result))
    return result


def _patch(
    profile: MqttProfile, spec: TopicSpec, captured: list[str], payload: bytes
) -> dict[str, Any] | None:
    """The part of the document this message replaces; None to ignore the message."""
    text = payload_text(payload)
    at = spec.at.format("", *captured) if spec.at else ""
    if spec.format is TopicFormat.VALUE:
        if not _known_key(profile, at):
            return None
        return {at: _bare_value(text)}

    body = parse_json(text)
    if not isinstance(body, dict):
        raise PayloadError(f"payload is {_shape(body)}, not a JSON object")
    for key, accepted in spec.match.items():
        if str(body.get(key)) not in accepted:
            return None
    for step in spec.select:
        body = body.get(step) if isinstance(body, dict) else None
    if not isinstance(body, dict):
        raise PayloadError(
            f"payload has no object at {'.'.join(map(str, spec.select))}"
        )
    return {at: body} if at else body


def _bare_value(text: str) -> Any:
    """Attribute output sends ``true``, ``12.05`` or ``ON`` (not JSON) as payload."""
    stripped = text.strip()
    if not stripped:
        raise PayloadError("payload is empty")
    try:
        return parse_json(stripped)
    except PayloadError:
        return stripped


def _known_key(profile: MqttProfile, key: str) -> bool:
    return any(point.path[0] in (key, WILDCARD) for point in profile.points)


def _merge(document: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            _merge(document[key], value)
        else:
            document[key] = value


def _lookup(
    node: object, steps: tuple[PathStep, ...], where: str, matched: str | None
) -> Iterator[tuple[str | None, object]]:
    """Every (wildcard key, value) the path reaches; nothing when a key is absent."""
    if not steps:
        yield matched, node
        return
    step, rest = steps[0], steps[1:]
    if step == WILDCARD:
        if isinstance(node, dict):
            for key, child in node.items():
                if not rest or isinstance(child, dict | list):
                    yield from _lookup(child, rest, where, key)
        return
    if node is None:
        yield matched, None
    elif isinstance(step, int):
        if not isinstance(node, list):
            yield matched, _Fault(f"is {_shape(node)}, not a list")
        elif step >= len(node):
            yield matched, _Fault(f"has {len(node)} items, no item {step}")
        else:
            yield from _lookup(node[step], rest, where, matched)
    elif not isinstance(node, dict):
        yield matched, _Fault(f"is {_shape(node)}, not an object")
    elif step in node:
        yield from _lookup(node[step], rest, where, matched)


def _path_text(point: PointSpec, matched_key: str | None) -> str:
    if matched_key is None:
        return point.path_text
    return point.path_text.replace(WILDCARD, matched_key, 1)


def _shape(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"the value {value}"


# --- one point ----------------------------------------------------------------------


def _point(
    point: PointSpec,
    name: str,
    path: str,
    raw: object,
    state: DeviceState,
    now: float,
    result: DecodeResult,
) -> list[Item]:
    value, quality, reason = _convert(point, name, path, raw)
    memory = state.points.setdefault(name, PointState())
    memory.last_seen = now
    reading = Reading(
        state.device_id, name, value, point.unit, quality=quality, reason=reason
    )
    if quality is not Quality.GOOD:
        if raw is not None:
            state.rejected_values += 1
            state.last_reason = reason
            result.rejected.append(str(reason))
        return [reading]

    if memory.stale_on_repeat and memory.value == value:
        return [replace(reading, quality=Quality.STALE, reason=memory.stale)]

    items: list[Item] = [reading]
    items.extend(_transitions(point, name, value, memory, state.device_id))
    if not memory.known or memory.value != value:
        memory.last_changed = now
    memory.value, memory.known = value, True
    memory.stale, memory.stale_on_repeat = None, False
    return items


def _convert(
    point: PointSpec, name: str, path: str, raw: object
) -> tuple[Value, Quality, str | None]:
    where = f"{name} ({path})"
    if raw is None:
        return None, Quality.UNAVAILABLE, f"{where} is null in the payload"
    if isinstance(raw, _Fault):
        return None, Quality.UNAVAILABLE, f"{where} {raw.problem}"
    try:
        if point.kind is PointKind.BOOL:
            return as_bool(raw) != point.invert, Quality.GOOD, None
        if point.kind is PointKind.STATE:
            return _as_state(raw), Quality.GOOD, None
        number = as_number(raw) * point.scale
    except BadValueError as exc:
        return None, Quality.UNAVAILABLE, f"{where}: {exc}"
    return _ranged(point, where, number)


def _as_state(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, NotANumber):
        raise BadValueError(f"{raw.token} is not a state")
    raise BadValueError(f"{_shape(raw)} is not a state")


def _ranged(
    point: PointSpec, where: str, number: Decimal
) -> tuple[Value, Quality, str | None]:
    if point.range is None or point.range[0] <= number <= point.range[1]:
        return number, Quality.GOOD, None
    unit = f" {point.unit}" if point.unit else ""
    low, high = point.range
    reason = (
        f"{where} = {number}{unit} is outside the plausible range {low}..{high}{unit}"
    )
    if point.range_note:
        reason += f" ({point.range_note})"
    return number, Quality.OUT_OF_RANGE, reason


def _transitions(
    point: PointSpec, name: str, value: Value, memory: PointState, device_id: str
) -> Iterator[DeviceEvent]:
    """Alarm raise/clear and named events, once per change, never per heartbeat."""
    if point.alarm is not None:
        active = value != point.alarm_clear
        if active != memory.alarm_active and (active or memory.alarm_active):
            data = {
                "type": point.alarm,
                "state": "active" if active else "cleared",
                "point": name,
            }
            # A clear is as urgent as the raise: both travel at alarm priority.
            yield DeviceEvent(device_id, "alarm", data=data, alarm=True)
        memory.alarm_active = active
    if point.events and memory.known and memory.value != value:
        kind = point.events.get(bool(value))
        if kind is not None:
            yield DeviceEvent(device_id, kind, data={"point": name})


# --- silence ------------------------------------------------------------------------


@dataclass(slots=True)
class SilenceResult:
    items: list[Item] = field(default_factory=list)
    offline_reason: str | None = None


def check_silence(
    profile: MqttProfile, state: DeviceState, *, now: float, context: str = ""
) -> SilenceResult:
    """Mark a silent device offline and points that stopped arriving or changing stale.

    Each is reported once; a fresh value clears it. ``context`` is appended to the
    device reason (for example that the broker connection is down).
    """
    result = SilenceResult()
    since = state.last_message_at
    quiet_for = now - (since if since is not None else state.started_at)
    if quiet_for > profile.max_silence_s:
        if state.online is not False:
            heard = "since the last message" if since is not None else "since start"
            reason = (
                f"no message for {quiet_for:.0f} s {heard} "
                f"(max_silence_s {profile.max_silence_s:g}){context}"
            )
            state.online = False
            result.offline_reason = reason
            result.items.extend(_stale_all(profile, state, reason))
        return result

    for name, memory in state.points.items():
        point = _spec_for(profile, name)
        if point is None or not memory.known or memory.stale is not None:
            continue
        unchanged = _unchanged_reason(point, name, memory, now)
        why = unchanged or _missing_reason(profile, point, name, memory, now)
        if why is not None:
            memory.stale, memory.stale_on_repeat = why, unchanged is not None
            result.items.append(_stale(state.device_id, point, name, memory, why))
    return result


def _unchanged_reason(
    point: PointSpec, name: str, memory: PointState, now: float
) -> str | None:
    """A plug that reports only big changes repeats 33 W after the load is gone."""
    limit = point.max_unchanged_s
    if limit is None or memory.last_changed is None:
        return None
    unchanged_for = now - memory.last_changed
    if unchanged_for <= limit:
        return None
    unit = f" {point.unit}" if point.unit else ""
    return (
        f"{name} unchanged at {memory.value}{unit} for {unchanged_for:.0f} s "
        f"(max_unchanged_s {limit:g})"
    )


def _missing_reason(
    profile: MqttProfile, point: PointSpec, name: str, memory: PointState, now: float
) -> str | None:
    """A key that stopped arriving while the device still reports (sensor unplugged).

    Heartbeat-optional keys are exempt: their last state holds while the device lives.
    """
    if point.heartbeat_optional or memory.last_seen is None:
        return None
    missing_for = now - memory.last_seen
    if missing_for <= profile.max_silence_s:
        return None
    return (
        f"{name} not reported for {missing_for:.0f} s while the device is "
        f"reporting (max_silence_s {profile.max_silence_s:g})"
    )


def _stale_all(profile: MqttProfile, state: DeviceState, reason: str) -> list[Item]:
    items: list[Item] = []
    for name, memory in state.points.items():
        if memory.known and memory.stale is None:
            memory.stale = reason
            point = _spec_for(profile, name)
            items.append(_stale(state.device_id, point, name, memory, reason))
    return items


def _stale(
    device_id: str,
    point: PointSpec | None,
    name: str,
    memory: PointState,
    reason: str,
) -> Reading:
    unit = point.unit if point is not None else None
    return Reading(
        device_id, name, memory.value, unit, quality=Quality.STALE, reason=reason
    )


def _spec_for(profile: MqttProfile, name: str) -> PointSpec | None:
    for point in profile.points:
        if point.name == name:
            return point
    for point in profile.points:
        if point.has_wildcard:
            prefix, _, suffix = point.name.partition("{*}")
            if name.startswith(prefix) and name.endswith(suffix):
                return point
    return None
