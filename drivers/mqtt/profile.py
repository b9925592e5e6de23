"""MQTT firmware profiles: the topics a device publishes and how its JSON fills points.

A profile is data (``firmware_profiles/<id>.toml``, ``protocol = "mqtt"``). Loading
checks everything that can be checked without a device, so that a profile that
cannot be right is refused once, at start, naming the profile and the entry.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from drivers.errors import ProfileError
from firmware_profiles import profile_path

WILDCARD = "*"
"""A path step that matches every key of an object (Tasmota sensor names vary)."""

PathStep = str | int


class TopicFormat(StrEnum):
    """How the payload of one topic becomes part of the device's document."""

    JSON = "json"
    """A JSON object; with ``select`` a part of it, placed at ``at``."""
    VALUE = "value"
    """A bare value (Zigbee2MQTT attribute output): ``true``, ``12.05``, ``ON``."""
    AVAILABILITY = "availability"
    """The device's own online/offline announcement (LWT)."""


class PointKind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    """Only grows (energy); resets and wraps are judged by the gateway."""
    STATE = "state"
    """Text, such as a sensitivity setting."""
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic a device publishes, relative to its base topic (``{base}``)."""

    pattern: str
    format: TopicFormat
    at: str = ""
    select: tuple[PathStep, ...] = ()
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    online: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()
    state_key: str | None = None

    def subscription(self, base_topic: str) -> str:
        return self.pattern.replace("{base}", base_topic)

    def captures(self, base_topic: str, topic: str) -> list[str] | None:
        """The levels that ``+`` matched, or None when ``topic`` is not this one."""
        wanted = self.subscription(base_topic).split("/")
        levels = topic.split("/")
        if len(wanted) != len(levels):
            return None
        captured: list[str] = []
        for want, level in zip(wanted, levels, strict=True):
            if want == "+":
                captured.append(level)
            elif want != level:
                return None
        return captured


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One value a device reports: where it is in the JSON and what it means."""

    name: str
    path: tuple[PathStep, ...]
    path_text: str
    kind: PointKind = PointKind.GAUGE
    unit: str | None = None
    scale: Decimal = Decimal(1)
    range: tuple[Decimal, Decimal] | None = None
    range_note: str | None = None
    invert: bool = False
    alarm: str | None = None
    alarm_clear: bool | str | None = None
    events: Mapping[bool, str] = field(default_factory=dict)
    heartbeat_optional: bool = False
    max_unchanged_s: float | None = None

    @property
    def has_wildcard(self) -> bool:
        return WILDCARD in self.path

    def point_name(self, matched_key: str | None) -> str:
        """The point name, with ``{*}`` replaced by the key the wildcard matched."""
        if matched_key is None:
            return self.name
        slug = re.sub(r"[^0-9a-z]+", "_", matched_key.lower()).strip("_")
        return self.name.replace("{*}", slug)


@dataclass(frozen=True, slots=True)
class MqttProfile:
    id: str
    manufacturer: str
    model: str
    kind: str
    topics: tuple[TopicSpec, ...]
    points: tuple[PointSpec, ...]
    max_silence_s: float
    command_topic: str | None = None
    sources: tuple[str, ...] = ()

    def subscriptions(self, base_topic: str) -> list[str]:
        return [topic.subscription(base_topic) for topic in self.topics]


# --- loading ----------------------------------------------------------------------

_STEP = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def parse_path(text: str) -> tuple[PathStep, ...]:
    """``"ENERGY.Power[0]"`` → ``("ENERGY", "Power", 0)``; ``*`` matches any key."""
    steps: list[PathStep] = []
    for part in text.split("."):
        found = _STEP.fullmatch(part)
        if found is None:
            raise ValueError(f"path {text!r} has an empty or malformed step {part!r}")
        steps.append(found.group(1))
        steps.extend(int(index) for index in re.findall(r"\[(\d+)\]", found.group(2)))
    return tuple(steps)


def load_profile(source: str | Path) -> MqttProfile:
    """Load a profile by id (``"z2m_aqara_sjcgq11lm"``) or from a TOML file path."""
    path = Path(source) if str(source).endswith(".toml") else profile_path(str(source))
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"MQTT profile {source!r} not found at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(
            f"MQTT profile {path.name} is not valid TOML: {exc}"
        ) from exc
    profile = profile_from_dict(document)
    if profile.id != path.stem:
        raise ProfileError(
            f"MQTT profile {path.name} declares id {profile.id!r}; it must equal "
            "the file name"
        )
    return profile


def profile_from_dict(document: Mapping[str, Any]) -> MqttProfile:
    """Build and check a profile from its parsed TOML."""
    header = document.get("profile", {})
    profile_id = str(header.get("id", "?"))
    if header.get("protocol") != "mqtt":
        raise ProfileError(f"profile {profile_id} is not an MQTT profile")
    mqtt = document.get("mqtt", {})
    try:
        topics = tuple(_topic(entry) for entry in mqtt.get("topics", []))
        points = tuple(_point(entry) for entry in document.get("points", []))
        max_silence_s = float(mqtt["max_silence_s"])
    except KeyError as exc:
        raise ProfileError(
            f"MQTT profile {profile_id}: the required key {exc} is missing"
        ) from exc
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ProfileError(f"MQTT profile {profile_id}: {exc}") from exc
    _check(profile_id, topics, points, max_silence_s)
    return MqttProfile(
        id=profile_id,
        manufacturer=str(header.get("manufacturer", "")),
        model=str(header.get("model", "")),
        kind=str(header.get("kind", "sensor")),
        topics=topics,
        points=points,
        max_silence_s=max_silence_s,
        command_topic=mqtt.get("command_topic"),
        sources=tuple(header.get("sources", ())),
    )


def _topic(entry: Mapping[str, Any]) -> TopicSpec:
    pattern = str(entry["topic"])
    if "#" in pattern or "{base}" not in pattern:
        raise ValueError(f"topic {pattern!r} must contain {{base}} and no '#'")
    match = {str(key): _strings(value) for key, value in entry.get("match", {}).items()}
    return TopicSpec(
        pattern=pattern,
        format=TopicFormat(entry.get("format", "json")),
        at=str(entry.get("at", "")),
        select=parse_path(entry["select"]) if entry.get("select") else (),
        match=match,
        online=_strings(entry.get("online", ())),
        offline=_strings(entry.get("offline", ())),
        state_key=entry.get("state_key"),
    )


def _strings(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(item) for item in value)


def _point(entry: Mapping[str, Any]) -> PointSpec:
    name = str(entry["name"])
    path_text = str(entry["path"])
    low_high = entry.get("range")
    events = entry.get("events", {})
    unchanged = entry.get("max_unchanged_s")
    return PointSpec(
        name=name,
        path=parse_path(path_text),
        path_text=path_text,
        kind=PointKind(entry.get("kind", "gauge")),
        unit=entry.get("unit"),
        scale=Decimal(str(entry.get("scale", "1"))),
        range=(Decimal(str(low_high[0])), Decimal(str(low_high[1])))
        if low_high
        else None,
        range_note=entry.get("range_note"),
        invert=bool(entry.get("invert", False)),
        alarm=entry.get("alarm"),
        alarm_clear=entry.get("alarm_clear"),
        events={_event_key(key): str(kind) for key, kind in events.items()},
        heartbeat_optional=bool(entry.get("heartbeat_optional", False)),
        max_unchanged_s=float(unchanged) if unchanged is not None else None,
    )


def _event_key(key: str) -> bool:
    if key not in ("true", "false"):
        raise ValueError(f"event keys are 'true' and 'false', not {key!r}")
    return key == "true"


def _check(
    profile_id: str,
    topics: Sequence[TopicSpec],
    points: Sequence[PointSpec],
    max_silence_s: float,
) -> None:
    def refuse(message: str) -> ProfileError:
        return ProfileError(f"MQTT profile {profile_id}: {message}")

    if not topics:
        raise refuse("declares no [[mqtt.topics]]")
    if max_silence_s <= 0:
        raise refuse(f"max_silence_s must be positive, not {max_silence_s}")
    names = [point.name for point in points]
    for name in names:
        if names.count(name) > 1:
            raise refuse(f"point {name!r} is declared twice")
    for point in points:
        _check_point(point, refuse)


def _check_point(point: PointSpec, refuse: Callable[[str], ProfileError]) -> None:
    wildcards = point.path.count(WILDCARD)
    if wildcards > 1 or (wildcards == 1) != ("{*}" in point.name):
        raise refuse(
            f"point {point.name!r}: a path with one '*' needs '{{*}}' in the name "
            "and only then"
        )
    if point.alarm is not None and point.kind not in (PointKind.BOOL, PointKind.STATE):
        raise refuse(f"point {point.name!r}: alarms need kind bool or state")
    if point.alarm is not None:
        wanted = bool if point.kind is PointKind.BOOL else str
        if not isinstance(point.alarm_clear, wanted):
            raise refuse(
                f"point {point.name!r}: alarm_clear must be a {wanted.__name__}, "
                f"not {point.alarm_clear!r}"
            )
    if point.events and point.kind is not PointKind.BOOL:
        raise refuse(f"point {point.name!r}: events need kind bool")
    if point.range is not None and point.range[0] > point.range[1]:
        raise refuse(f"point {point.name!r}: range {point.range} is upside down")
    if point.scale == 0:
        raise refuse(f"point {point.name!r}: scale 0 would erase every value")
