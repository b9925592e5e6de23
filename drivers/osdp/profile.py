"""OSDP profiles and the configuration of one reader on a bus.

A profile (``firmware_profiles/<id>.toml``, ``protocol = "osdp"``) says how a model
is wired and what counts as an alarm: which input is the door contact, which output
drives the lock, the card formats to interpret. A ``ReaderConfig`` is one installed
reader: a profile plus its own device id, bus address and secure channel key.
Loading refuses, naming the profile or reader, whatever cannot be right.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from drivers.errors import ProfileError
from drivers.osdp.cards import WIEGAND_FORMATS
from firmware_profiles import profile_path

ALARM_KINDS = frozenset({"door_forced", "door_held_open", "tamper"})
MAX_TIMER_S = 25.5
"""libosdp's Python binding carries output and LED timers as one byte of 100 ms."""
BROADCAST_ADDRESS = 0x7F


@dataclass(frozen=True, slots=True)
class OsdpProfile:
    id: str
    door_input: int | None
    door_open_when_active: bool
    tamper_input: int | None
    relay_output: int | None
    unlock_s: float
    held_open_s: float
    card_formats: tuple[str, ...]
    alarms: frozenset[str]


def load_profile(profile_id: str) -> OsdpProfile:
    """Read and check ``firmware_profiles/<profile_id>.toml``."""
    path = profile_path(profile_id)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(
            f"OSDP profile {profile_id!r} cannot be read: {exc}"
        ) from exc
    return parse_profile(document, expected_id=profile_id)


def parse_profile(document: Mapping[str, Any], *, expected_id: str) -> OsdpProfile:
    header = document.get("profile", {})
    if header.get("id") != expected_id:
        raise ProfileError(
            f"OSDP profile {expected_id!r} declares id {header.get('id')!r}"
        )
    if header.get("protocol") != "osdp":
        raise ProfileError(
            f"profile {expected_id!r} has protocol {header.get('protocol')!r}, "
            "not 'osdp'"
        )
    section = document.get("osdp")
    if not isinstance(section, Mapping):
        raise ProfileError(f"OSDP profile {expected_id!r} has no [osdp] table")
    try:
        profile = _profile_from_section(expected_id, section)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"OSDP profile {expected_id!r}: {exc}") from exc
    _check(profile)
    return profile


def _profile_from_section(profile_id: str, section: Mapping[str, Any]) -> OsdpProfile:
    open_when = section.get("door_open_when", "active")
    if open_when not in ("active", "inactive"):
        raise ValueError(f"door_open_when is {open_when!r}, not 'active' or 'inactive'")
    return OsdpProfile(
        id=profile_id,
        door_input=_optional_int(section, "door_contact_input"),
        door_open_when_active=open_when == "active",
        tamper_input=_optional_int(section, "tamper_input"),
        relay_output=_optional_int(section, "lock_output"),
        unlock_s=float(section.get("unlock_s", 5)),
        held_open_s=float(section.get("held_open_s", 30)),
        card_formats=tuple(section.get("card_formats", ("h10301",))),
        alarms=frozenset(section.get("alarms", ALARM_KINDS)),
    )


def _optional_int(section: Mapping[str, Any], key: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{key} is {value!r}, not an integer")
    return value


def _check(profile: OsdpProfile | ReaderConfig) -> None:
    """Refuse settings that cannot be right; the caller names the profile."""
    for name, value in (
        ("door_contact_input", profile.door_input),
        ("tamper_input", profile.tamper_input),
        ("lock_output", profile.relay_output),
    ):
        if value is not None and not 0 <= value <= 255:
            raise ProfileError(f"{_name(profile)}: {name} {value} is not 0..255")
    if profile.door_input is not None and profile.door_input == profile.tamper_input:
        raise ProfileError(
            f"{_name(profile)}: input {profile.door_input} is both door contact "
            "and tamper"
        )
    if not 0 < profile.unlock_s <= MAX_TIMER_S:
        raise ProfileError(
            f"{_name(profile)}: unlock_s {profile.unlock_s} is not within "
            f"0..{MAX_TIMER_S} s"
        )
    if profile.held_open_s <= 0:
        raise ProfileError(
            f"{_name(profile)}: held_open_s {profile.held_open_s} is not > 0"
        )
    unknown_formats = set(profile.card_formats) - set(WIEGAND_FORMATS)
    if unknown_formats:
        raise ProfileError(
            f"{_name(profile)}: card formats {sorted(unknown_formats)} are unknown "
            f"(known: {sorted(WIEGAND_FORMATS)})"
        )
    unknown_alarms = profile.alarms - ALARM_KINDS
    if unknown_alarms:
        raise ProfileError(
            f"{_name(profile)}: alarms {sorted(unknown_alarms)} are not among "
            f"{sorted(ALARM_KINDS)}"
        )


def _name(item: OsdpProfile | ReaderConfig) -> str:
    if isinstance(item, OsdpProfile):
        return f"OSDP profile {item.id!r}"
    return f"reader {item.device_id!r}"


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """One reader on a bus. ``scbk`` is its secure channel base key (16 bytes), or
    None for a reader without a secure channel. The driver never changes a reader's
    key: with a key configured, the secure channel is required."""

    device_id: str
    address: int
    scbk: bytes | None = None
    door_input: int | None = 0
    door_open_when_active: bool = True
    tamper_input: int | None = None
    relay_output: int | None = 0
    unlock_s: float = 5.0
    held_open_s: float = 30.0
    card_formats: tuple[str, ...] = ("h10301",)
    alarms: frozenset[str] = ALARM_KINDS

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ProfileError("an OSDP reader has an empty device_id")
        if not 0 <= self.address < BROADCAST_ADDRESS:
            raise ProfileError(
                f"reader {self.device_id!r}: address {self.address} is not 0..126"
            )
        if self.scbk is not None and len(self.scbk) != 16:
            raise ProfileError(
                f"reader {self.device_id!r}: the SCBK has {len(self.scbk)} bytes, "
                "not 16"
            )
        _check(self)

    @classmethod
    def from_profile(
        cls,
        profile: OsdpProfile,
        *,
        device_id: str,
        address: int,
        scbk: bytes | str | None = None,
        **overrides: Any,
    ) -> ReaderConfig:
        reader = cls(
            device_id=device_id,
            address=address,
            scbk=parse_scbk(device_id, scbk),
            door_input=profile.door_input,
            door_open_when_active=profile.door_open_when_active,
            tamper_input=profile.tamper_input,
            relay_output=profile.relay_output,
            unlock_s=profile.unlock_s,
            held_open_s=profile.held_open_s,
            card_formats=profile.card_formats,
            alarms=profile.alarms,
        )
        return replace(reader, **overrides) if overrides else reader

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> ReaderConfig:
        """From site configuration or simulator wiring: ``device_id``, ``address``,
        ``scbk`` (hex text or bytes), optionally ``profile`` (an id) and any field
        of this class as an override."""
        known = {item.name for item in fields(cls)} | {"profile"}
        unknown = set(entry) - known
        device_id = str(entry.get("device_id", ""))
        if unknown:
            raise ProfileError(f"reader {device_id!r}: unknown keys {sorted(unknown)}")
        settings = {key: value for key, value in entry.items() if key in known}
        settings["scbk"] = parse_scbk(device_id, settings.get("scbk"))
        for key in ("card_formats",):
            if key in settings:
                settings[key] = tuple(settings[key])
        if "alarms" in settings:
            settings["alarms"] = frozenset(settings["alarms"])
        profile_id = settings.pop("profile", None)
        if profile_id is None:
            return cls(**settings)
        device_id = settings.pop("device_id")
        address = settings.pop("address")
        scbk = settings.pop("scbk")
        return cls.from_profile(
            load_profile(profile_id),
            device_id=device_id,
            address=address,
            scbk=scbk,
            **settings,
        )


def parse_scbk(device_id: str, scbk: bytes | str | None) -> bytes | None:
    if scbk is None or isinstance(scbk, bytes):
        return scbk
    try:
        return bytes.fromhex(scbk)
    except ValueError as exc:
        # The message must not quote the key.
        raise ProfileError(f"reader {device_id!r}: the SCBK is not hex text") from exc
