"""BLE firmware profiles: which decoded quantities become which points, and how.

A profile names the advertisement format, the bindkey policy, the dedupe rule, the
points (with units and plausibility ranges), the alarms raised on a point's
transition and the device events passed on. Everything a profile may name is checked
when it is loaded, so a typo fails at start-up instead of silently never reporting.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from drivers.ble.bthome import BTHOME_EVENT_SOURCES, BTHOME_SOURCES
from drivers.ble.ruuvi import DF5_SOURCES
from drivers.errors import ProfileError
from firmware_profiles import profile_path


class BleFormat(StrEnum):
    BTHOME_V2 = "bthome_v2"
    RUUVI_DF5 = "ruuvi_df5"


class BindkeyPolicy(StrEnum):
    """Whether a device of this model must, may or must not have a bindkey."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


class Dedupe(StrEnum):
    """What identifies a repeated packet, on top of what bthome-ble drops itself."""

    PACKET_ID = "packet_id"  # BTHome object 0x00, or the whole frame when absent
    MEASUREMENT_SEQUENCE = "measurement_sequence"  # Ruuvi DF5 bytes 16-17
    NONE = "none"


POINT_KINDS = frozenset({"gauge", "counter", "state"})
_DEDUPE_FOR_FORMAT = {
    BleFormat.BTHOME_V2: {Dedupe.PACKET_ID, Dedupe.NONE},
    BleFormat.RUUVI_DF5: {Dedupe.MEASUREMENT_SEQUENCE, Dedupe.NONE},
}
_INDEX_SUFFIX = re.compile(r"_\d+$")
_Choice = TypeVar("_Choice", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class BlePoint:
    name: str
    source: str  # decoder key: "temperature", "binary:moisture", "humidity_2" ...
    unit: str | None = None
    range: tuple[Decimal, Decimal] | None = None  # plausible values, inclusive
    kind: str = "gauge"


@dataclass(frozen=True, slots=True)
class BleAlarm:
    """Raise ``name`` when ``point`` becomes ``when``, clear it when it leaves."""

    name: str
    point: str
    when: bool = True


@dataclass(frozen=True, slots=True)
class BleEventMap:
    """Decoder events from ``source`` (and ``source_N``) become events of ``kind``."""

    source: str
    kind: str


@dataclass(frozen=True, slots=True)
class BleProfile:
    id: str
    manufacturer: str
    model: str
    format: BleFormat
    bindkey: BindkeyPolicy
    dedupe: Dedupe
    repeat_window_s: float  # a packet repeating the last one within this is dropped
    offline_after_s: float  # no valid advertisement for this long → offline
    points: tuple[BlePoint, ...]
    alarms: tuple[BleAlarm, ...] = ()
    events: tuple[BleEventMap, ...] = ()

    def point(self, name: str) -> BlePoint:
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(name)


def load_ble_profile(profile: str | Path) -> BleProfile:
    """Load a profile by id (``"ruuvitag_df5"``) or by path to its TOML file."""
    path = profile if isinstance(profile, Path) else profile_path(profile)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"BLE profile file {path} does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"BLE profile {path} is not valid TOML: {exc}") from exc
    return parse_ble_profile(document, expected_id=path.stem)


def parse_ble_profile(
    document: dict[str, Any], *, expected_id: str | None = None
) -> BleProfile:
    """Build a profile from a parsed TOML document, refusing what cannot be right."""
    header = _table(document, "profile", "?")
    profile_id = _text(header, "id", "?", "[profile]")
    if expected_id is not None and profile_id != expected_id:
        raise ProfileError(
            f"Profile id {profile_id!r} does not match its file name {expected_id!r}."
        )
    if header.get("protocol") != "ble":
        raise ProfileError(
            f"Profile {profile_id}: protocol is {header.get('protocol')!r}, not 'ble'."
        )
    ble = _table(document, "ble", profile_id)
    fmt = _choice(ble, "format", BleFormat, None, profile_id)
    dedupe = _choice(ble, "dedupe", Dedupe, Dedupe.NONE, profile_id)
    if dedupe not in _DEDUPE_FOR_FORMAT[fmt]:
        raise ProfileError(
            f"Profile {profile_id}: dedupe {dedupe.value!r} does not apply to {fmt}."
        )
    points = tuple(
        _point(entry, fmt, profile_id) for entry in document.get("points", [])
    )
    _refuse_duplicates([p.name for p in points], "point", profile_id)
    return BleProfile(
        id=profile_id,
        manufacturer=str(header.get("manufacturer", "")),
        model=str(header.get("model", "")),
        format=fmt,
        bindkey=_choice(
            ble, "bindkey", BindkeyPolicy, BindkeyPolicy.OPTIONAL, profile_id
        ),
        dedupe=dedupe,
        repeat_window_s=_seconds(ble, "repeat_window_s", 4.0, profile_id),
        offline_after_s=_seconds(ble, "offline_after_s", 900.0, profile_id),
        points=points,
        alarms=tuple(_alarm(e, points, profile_id) for e in document.get("alarms", [])),
        events=tuple(_event(e, fmt, profile_id) for e in document.get("events", [])),
    )


def _point(entry: dict[str, Any], fmt: BleFormat, profile_id: str) -> BlePoint:
    name = _text(entry, "name", profile_id, "[[points]]")
    where = f"point {name!r}"
    source = _text(entry, "source", profile_id, where)
    if not _source_known(source, fmt):
        raise ProfileError(
            f"Profile {profile_id}, {where}: source {source!r} is not a quantity "
            f"the {fmt} decoder produces."
        )
    kind = str(entry.get("kind", "gauge"))
    if kind not in POINT_KINDS:
        raise ProfileError(
            f"Profile {profile_id}, {where}: kind {kind!r} is not one of "
            f"{sorted(POINT_KINDS)}."
        )
    unit = entry.get("unit")
    return BlePoint(
        name=name,
        source=source,
        unit=None if unit is None else str(unit),
        range=_range(entry.get("range"), profile_id, where),
        kind=kind,
    )


def _source_known(source: str, fmt: BleFormat) -> bool:
    if fmt is BleFormat.RUUVI_DF5:
        return source in DF5_SOURCES
    return _INDEX_SUFFIX.sub("", source) in BTHOME_SOURCES


def _alarm(
    entry: dict[str, Any], points: tuple[BlePoint, ...], profile_id: str
) -> BleAlarm:
    name = _text(entry, "name", profile_id, "[[alarms]]")
    point = _text(entry, "point", profile_id, f"alarm {name!r}")
    if point not in {p.name for p in points}:
        raise ProfileError(
            f"Profile {profile_id}, alarm {name!r}: point {point!r} is not defined."
        )
    when = entry.get("when", True)
    if not isinstance(when, bool):
        raise ProfileError(
            f"Profile {profile_id}, alarm {name!r}: 'when' must be true or false, "
            f"not {when!r}."
        )
    return BleAlarm(name=name, point=point, when=when)


def _event(entry: dict[str, Any], fmt: BleFormat, profile_id: str) -> BleEventMap:
    source = _text(entry, "source", profile_id, "[[events]]")
    if fmt is not BleFormat.BTHOME_V2 or source not in BTHOME_EVENT_SOURCES:
        raise ProfileError(
            f"Profile {profile_id}: event source {source!r} is not an event the "
            f"{fmt} decoder produces."
        )
    return BleEventMap(source=source, kind=_text(entry, "kind", profile_id, source))


def _range(value: Any, profile_id: str, where: str) -> tuple[Decimal, Decimal] | None:
    if value is None:
        return None
    try:
        low, high = (Decimal(str(bound)) for bound in value)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ProfileError(
            f"Profile {profile_id}, {where}: range {value!r} must be [low, high]."
        ) from exc
    if low > high:
        raise ProfileError(
            f"Profile {profile_id}, {where}: range {value!r} has low above high."
        )
    return (low, high)


def _table(document: dict[str, Any], key: str, profile_id: str) -> dict[str, Any]:
    table = document.get(key)
    if not isinstance(table, dict):
        raise ProfileError(f"Profile {profile_id}: the [{key}] table is missing.")
    return table


def _text(table: dict[str, Any], key: str, profile_id: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ProfileError(f"Profile {profile_id}, {where}: {key!r} must be text.")
    return value


def _choice(
    table: dict[str, Any],
    key: str,
    choices: type[_Choice],
    default: _Choice | None,
    profile_id: str,
) -> _Choice:
    raw: Any = table.get(key)
    if raw is None and default is not None:
        return default
    try:
        return choices(str(raw))
    except ValueError as exc:
        raise ProfileError(
            f"Profile {profile_id}: [ble] {key} = {raw!r} is not one of "
            f"{[c.value for c in choices]}."
        ) from exc


def _seconds(table: dict[str, Any], key: str, default: float, profile_id: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ProfileError(
            f"Profile {profile_id}: [ble] {key} = {value!r} must be seconds (≥ 0)."
        )
    return float(value)


def _refuse_duplicates(names: list[str], what: str, profile_id: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ProfileError(
                f"Profile {profile_id}: {what} {name!r} is defined twice."
            )
        seen.add(name)
