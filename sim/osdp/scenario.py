"""The ``[[osdp]]`` section of a scenario: one RS-485 line and its readers.

```toml
[[osdp]]
line = "doors-east"            # name of the line, unique in the scenario
baudrate = 115200              # what the gateway should open the port with

[[osdp.readers]]
device_id = "door-lobby"
address = 1                    # 0..126
scbk = "00112233445566778899aabbccddeeff"  # the reader's key; omit: no secure channel
profile = "osdp_generic_door"  # inputs and outputs as wired in this profile (default)
inputs = 4                     # how many inputs and outputs the reader reports
outputs = 2
events = [                     # seconds after the reader is first online
  { at = 2, kind = "card", facility = 12, card = 3456, walk_through_s = 3 },
  { at = 4, kind = "card", bits = 75, hex = "09a4494aa3274cd52bc0", wiegand = false },
  { at = 6, kind = "keypad", keys = "1234#" },
  { at = 8, kind = "door_open" },
  { at = 9, kind = "door_close" },
  { at = 12, kind = "forced_door", hold_s = 5 },
  { at = 20, kind = "tamper", active = true },
  { at = 22, kind = "input", input = 2, active = true },
  { at = 30, kind = "offline", duration_s = 10 },
]
```

A card with ``walk_through_s`` is followed, once the gateway unlocks the door, by
the door opening and closing that many seconds later: longer than the profile's
``held_open_s`` makes a door held open. ``forced_door`` opens the door without an
unlock, closing it after ``hold_s`` when given.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware_profiles import profile_path
from sim.osdp.wiegand import encode_h10301, encode_keys

DEFAULT_PROFILE = "osdp_generic_door"
STEP_KINDS = frozenset(
    {
        "card",
        "keypad",
        "door_open",
        "door_close",
        "forced_door",
        "input",
        "tamper",
        "offline",
    }
)


@dataclass(frozen=True, slots=True)
class ScenarioStep:
    at: float
    kind: str
    facility: int = 0
    card: int = 0
    bits: int = 0
    raw_hex: str | None = None
    wiegand: bool = True
    walk_through_s: float | None = None
    keys: str = ""
    input: int = 0
    active: bool = True
    hold_s: float | None = None
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    device_id: str
    address: int
    scbk: bytes | None
    profile: str
    door_input: int
    door_open_when_active: bool
    relay_output: int
    inputs: int
    outputs: int
    steps: tuple[ScenarioStep, ...]


def parse_section(section: Mapping[str, Any]) -> tuple[str, int, list[ReaderSpec]]:
    """(line name, baudrate, readers); raises ValueError naming what is wrong."""
    name = section.get("line")
    if not isinstance(name, str) or not name:
        raise ValueError(f"[[osdp]] section without a line name: {sorted(section)}")
    baudrate = int(section.get("baudrate", 115200))
    entries = section.get("readers", [])
    if not entries:
        raise ValueError(f"OSDP line {name!r} has no readers")
    readers = [_reader(name, entry) for entry in entries]
    addresses = [reader.address for reader in readers]
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"OSDP line {name!r} uses an address twice: {addresses}")
    return name, baudrate, readers


def _reader(line: str, entry: Mapping[str, Any]) -> ReaderSpec:
    device_id = str(entry.get("device_id", ""))
    where = f"OSDP line {line!r}, reader {device_id!r}"
    if not device_id:
        raise ValueError(f"OSDP line {line!r} has a reader without device_id")
    address = int(entry.get("address", -1))
    if not 0 <= address <= 126:
        raise ValueError(f"{where}: address {address} is not 0..126")
    scbk = None if entry.get("scbk") is None else bytes.fromhex(entry["scbk"])
    if scbk is not None and len(scbk) != 16:
        raise ValueError(f"{where}: the SCBK has {len(scbk)} bytes, not 16")
    profile = str(entry.get("profile", DEFAULT_PROFILE))
    wiring = _profile_wiring(profile)
    inputs, outputs = int(entry.get("inputs", 4)), int(entry.get("outputs", 2))
    door_input = int(entry.get("door_input", wiring.get("door_contact_input", 0)))
    relay_output = int(entry.get("relay_output", wiring.get("lock_output", 0)))
    if not (0 <= door_input < inputs and 0 <= relay_output < outputs):
        raise ValueError(f"{where}: door input or lock output beyond the reader's")
    steps = tuple(
        _step(where, index, raw) for index, raw in enumerate(entry.get("events", []))
    )
    for step in steps:
        if step.kind == "input" and not 0 <= step.input < inputs:
            raise ValueError(f"{where}: input {step.input} is beyond the reader's")
    return ReaderSpec(
        device_id=device_id,
        address=address,
        scbk=scbk,
        profile=profile,
        door_input=door_input,
        door_open_when_active=wiring.get("door_open_when", "active") == "active",
        relay_output=relay_output,
        inputs=inputs,
        outputs=outputs,
        steps=steps,
    )


def _profile_wiring(profile_id: str) -> Mapping[str, Any]:
    """The ``[osdp]`` table of a profile, read as data."""
    document = tomllib.loads(profile_path(profile_id).read_text(encoding="utf-8"))
    if "osdp" not in document:
        raise ValueError(f"profile {profile_id!r} has no [osdp] table")
    wiring: Mapping[str, Any] = document["osdp"]
    return wiring


def _step(where: str, index: int, raw: Mapping[str, Any]) -> ScenarioStep:
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        raise ValueError(
            f"{where}, event {index}: kind {kind!r} is not one of {sorted(STEP_KINDS)}"
        )
    try:
        step = ScenarioStep(
            at=float(raw["at"]),
            kind=kind,
            facility=int(raw.get("facility", 0)),
            card=int(raw.get("card", 0)),
            bits=int(raw.get("bits", 0)),
            raw_hex=raw.get("hex"),
            wiegand=bool(raw.get("wiegand", True)),
            walk_through_s=_optional_float(raw.get("walk_through_s")),
            keys=str(raw.get("keys", "")),
            input=int(raw.get("input", 0)),
            active=bool(raw.get("active", True)),
            hold_s=_optional_float(raw.get("hold_s")),
            duration_s=float(raw.get("duration_s", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}, event {index}: {exc}") from exc
    try:
        _encodable(step)
    except ValueError as exc:
        raise ValueError(f"{where}, event {index}: {exc}") from exc
    return step


def _encodable(step: ScenarioStep) -> None:
    if step.kind == "card" and step.raw_hex is None:
        encode_h10301(step.facility, step.card)
    elif step.kind == "card" and step.bits <= 0:
        raise ValueError("a raw card needs its bit count")
    elif step.kind == "card" and len(bytes.fromhex(step.raw_hex or "")) * 8 < step.bits:
        raise ValueError(f"{step.bits} bits do not fit in {step.raw_hex!r}")
    elif step.kind == "keypad":
        encode_keys(step.keys)
    elif step.kind == "offline" and step.duration_s <= 0:
        raise ValueError("offline needs duration_s > 0")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
