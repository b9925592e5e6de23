"""Building scenarios: which devices a simulated building has, and their faults.

A scenario is a TOML file (see sim/scenarios/demo.toml). Its shape is checked by
pydantic models that forbid unknown fields; then the cross-checks pydantic cannot do
(profiles exist, fault points exist in the profile, unit ids are unique on a line) run
here. Every error names the file and the field: ``modbus_rtu[0].meters[2].unit_id``.

Sections ``mqtt``, ``ble`` and ``osdp`` are reserved for the other device families; they
are carried through unchecked until those families add their own models.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import ProfileError, ScenarioError
from sim.modbus.profile import ModbusProfile, PointKind, Table, load_profile

DeviceId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=64)
]
Seconds = Annotated[float, Field(ge=0)]
LoadCurve = Literal["residential", "commercial", "hvac", "flat"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- faults ---------------------------------------------------------------------


class RefuseFault(_Spec):
    """Exception 2 for these points or address ranges (inclusive), from the start."""

    kind: Literal["refuse"]
    points: list[str] = []
    table: Table | None = None
    addresses: list[int | tuple[int, int]] = []

    @model_validator(mode="after")
    def _something_refused(self) -> RefuseFault:
        if not self.points and not self.addresses:
            raise ValueError("a refuse fault needs points or addresses")
        if self.addresses and self.table is None:
            raise ValueError("addresses need a table (input, holding, coil, discrete)")
        return self

    def address_set(self) -> set[int]:
        found: set[int] = set()
        for item in self.addresses:
            low, high = (item, item) if isinstance(item, int) else item
            found.update(range(low, high + 1))
        return found


class LateFault(_Spec):
    kind: Literal["late"]
    delay_ms: Annotated[float, Field(gt=0)]
    count: Annotated[int, Field(ge=1)] = 1
    always: bool = False
    at_s: Seconds = 0


class SilentFault(_Spec):
    kind: Literal["silent"]
    at_s: Seconds = 0
    duration_s: Annotated[float, Field(gt=0)] | None = None


class BadCrcFault(_Spec):
    kind: Literal["bad_crc"]
    count: Annotated[int, Field(ge=1)] = 1
    always: bool = False
    at_s: Seconds = 0


class ZeroGlitchFault(_Spec):
    kind: Literal["zero_glitch"]
    point: str
    at_s: Seconds = 0


class RolloverFault(_Spec):
    kind: Literal["rollover"]
    point: str
    before: Annotated[int, Field(ge=1)] = 10
    at_s: Seconds = 0


class ReplaceFault(_Spec):
    kind: Literal["replace"]
    at_s: Seconds = 0


Fault = Annotated[
    RefuseFault
    | LateFault
    | SilentFault
    | BadCrcFault
    | ZeroGlitchFault
    | RolloverFault
    | ReplaceFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = (
    "refuse",
    "late",
    "silent",
    "bad_crc",
    "zero_glitch",
    "rollover",
    "replace",
)


# --- devices --------------------------------------------------------------------


class ModbusMeterSpec(_Spec):
    id: DeviceId
    profile: str
    unit_id: Annotated[int, Field(ge=1, le=247)]
    latency_ms: Seconds = 0
    load: LoadCurve = "residential"
    rated_power_w: Annotated[Decimal, Field(gt=0)] | None = None
    rated_flow_m3h: Annotated[Decimal, Field(gt=0)] | None = None
    gaps: Literal["fill", "refuse"] = "fill"
    faults: list[Fault] = []


class ModbusTcpSpec(ModbusMeterSpec):
    unit_id: Annotated[int, Field(ge=0, le=255)]
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 0
    endpoint: str | None = None
    absent_unit: Literal["silence", "gateway_exception"] = "silence"


class ModbusRtuLineSpec(_Spec):
    line: DeviceId
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    wire_timing: bool = False
    meters: Annotated[list[ModbusMeterSpec], Field(min_length=1)]


class BuildingSpec(_Spec):
    name: Annotated[str, Field(min_length=1)]
    seed: int = 0
    timezone: str = "UTC"


class ScenarioSpec(_Spec):
    building: BuildingSpec
    modbus_tcp: list[ModbusTcpSpec] = []
    modbus_rtu: list[ModbusRtuLineSpec] = []
    mqtt: Any = None
    ble: Any = None
    osdp: Any = None


# --- the loaded scenario --------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A checked scenario with every Modbus profile it names already loaded."""

    spec: ScenarioSpec
    source: str
    profiles: Mapping[str, ModbusProfile] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.building.name

    @property
    def seed(self) -> int:
        return self.spec.building.seed

    @property
    def timezone(self) -> tzinfo:
        return _zone(self.spec.building.timezone)

    def modbus_meters(self) -> Iterator[tuple[str, ModbusMeterSpec]]:
        """Every Modbus device with the path of its entry in the file."""
        for i, tcp in enumerate(self.spec.modbus_tcp):
            yield f"modbus_tcp[{i}]", tcp
        for i, line in enumerate(self.spec.modbus_rtu):
            for j, meter in enumerate(line.meters):
                yield f"modbus_rtu[{i}].meters[{j}]", meter


def scenario_path(name_or_path: str | Path) -> Path:
    """A file path as given, or the name of a scenario shipped with PAMS ("demo")."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    shipped = resources.files("sim").joinpath("scenarios", f"{name_or_path}.toml")
    packaged = Path(str(shipped))
    return packaged if packaged.exists() else path


def load_scenario(
    path: str | Path,
    *,
    profile_dirs: Sequence[Path] | None = None,
    resolve_profiles: bool = True,
) -> Scenario:
    """Read and check a scenario file (or a packaged scenario's name)."""
    file = scenario_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"scenario {file}: cannot be read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {file}: not valid TOML: {exc}") from exc
    return parse_scenario(
        data,
        source=str(file),
        profile_dirs=profile_dirs,
        resolve_profiles=resolve_profiles,
    )


def parse_scenario(
    data: Mapping[str, Any],
    *,
    source: str = "<scenario>",
    profile_dirs: Sequence[Path] | None = None,
    resolve_profiles: bool = True,
) -> Scenario:
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(source, exc)) from None
    _check_building(spec, source)
    _check_unique(spec, source)
    profiles: dict[str, ModbusProfile] = {}
    scenario = Scenario(spec=spec, source=source, profiles=profiles)
    if resolve_profiles:
        for where, meter in scenario.modbus_meters():
            profile = _profile(
                meter, profiles, profile_dirs, f"scenario {source}: {where}"
            )
            _check_faults(meter, profile, f"scenario {source}: {where}")
    for i, tcp in enumerate(spec.modbus_tcp):
        for j, fault in enumerate(tcp.faults):
            if isinstance(fault, BadCrcFault):
                raise ScenarioError(
                    f"scenario {source}: modbus_tcp[{i}].faults[{j}].kind: "
                    "bad_crc applies only to Modbus RTU (TCP frames carry no CRC)"
                )
    return scenario


def _describe(source: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        path = ""
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif (
                part in FAULT_KINDS and path.endswith("]") and ".faults[" in f".{path}"
            ):
                continue  # pydantic adds the union tag; the reader knows the kind
            else:
                path += f".{part}" if path else str(part)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ".kind"
        shown = error.get("input")
        got = "" if isinstance(shown, dict | list | tuple) else f" (got {shown!r})"
        lines.append(f"{path or '(top)'}: {error['msg']}{got}")
    return f"scenario {source}: " + "; ".join(lines)


def _check_building(spec: ScenarioSpec, source: str) -> None:
    try:
        _zone(spec.building.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScenarioError(
            f"scenario {source}: building.timezone: {spec.building.timezone!r} "
            "is not a known time zone"
        ) from None


def _check_unique(spec: ScenarioSpec, source: str) -> None:
    seen: dict[str, str] = {}
    scenario = Scenario(spec=spec, source=source)
    for where, meter in scenario.modbus_meters():
        if meter.id in seen:
            raise ScenarioError(
                f"scenario {source}: {where}.id: {meter.id!r} is already used by "
                f"{seen[meter.id]}"
            )
        seen[meter.id] = where
    lines: dict[str, int] = {}
    for i, line in enumerate(spec.modbus_rtu):
        if line.line in lines:
            raise ScenarioError(
                f"scenario {source}: modbus_rtu[{i}].line: {line.line!r} is "
                f"already the name of modbus_rtu[{lines[line.line]}]"
            )
        lines[line.line] = i
        _check_units(
            (
                (f"modbus_rtu[{i}].meters[{j}]", m.unit_id)
                for j, m in enumerate(line.meters)
            ),
            source,
        )
    _check_endpoints(spec, source)


def _check_endpoints(spec: ScenarioSpec, source: str) -> None:
    groups: dict[str, list[tuple[str, ModbusTcpSpec]]] = {}
    for i, tcp in enumerate(spec.modbus_tcp):
        groups.setdefault(endpoint_key(i, tcp), []).append((f"modbus_tcp[{i}]", tcp))
    ports: dict[int, str] = {}
    for members in groups.values():
        first_where, first = members[0]
        for where, tcp in members[1:]:
            for name in ("host", "port", "absent_unit"):
                if getattr(tcp, name) != getattr(first, name):
                    raise ScenarioError(
                        f"scenario {source}: {where}.{name}: "
                        f"{getattr(tcp, name)!r} differs from {first_where} "
                        f"on the same endpoint {first.endpoint!r}"
                    )
        _check_units(((where, tcp.unit_id) for where, tcp in members), source)
        if first.port and first.port in ports:
            raise ScenarioError(
                f"scenario {source}: {first_where}.port: {first.port} is already "
                f"used by {ports[first.port]}; give both the same endpoint name "
                "to share it"
            )
        ports[first.port] = first_where


def endpoint_key(index: int, tcp: ModbusTcpSpec) -> str:
    """Devices with the same ``endpoint`` name share one TCP server."""
    return f"endpoint:{tcp.endpoint}" if tcp.endpoint else f"device:{index}"


def _check_units(entries: Iterable[tuple[str, int]], source: str) -> None:
    seen: dict[int, str] = {}
    for where, unit in entries:
        if unit in seen:
            raise ScenarioError(
                f"scenario {source}: {where}.unit_id: {unit} is already used by "
                f"{seen[unit]} on the same line or endpoint"
            )
        seen[unit] = where


def _profile(
    meter: ModbusMeterSpec,
    profiles: dict[str, ModbusProfile],
    dirs: Sequence[Path] | None,
    where: str,
) -> ModbusProfile:
    if meter.profile not in profiles:
        try:
            profiles[meter.profile] = load_profile(meter.profile, dirs)
        except ProfileError as exc:
            raise ScenarioError(f"{where}.profile: {exc}") from exc
    return profiles[meter.profile]


def _check_faults(meter: ModbusMeterSpec, profile: ModbusProfile, where: str) -> None:
    for j, fault in enumerate(meter.faults):
        here = f"{where}.faults[{j}]"
        names = [*fault.points] if isinstance(fault, RefuseFault) else []
        if isinstance(fault, ZeroGlitchFault | RolloverFault):
            names.append(fault.point)
        for name in names:
            if not profile.has_point(name):
                field_name = "points" if isinstance(fault, RefuseFault) else "point"
                raise ScenarioError(
                    f"{here}.{field_name}: profile {profile.id} has no point {name!r}"
                )
        if isinstance(fault, RolloverFault | ZeroGlitchFault):
            point = profile.point(fault.point)
            if point.kind is not PointKind.COUNTER:
                raise ScenarioError(
                    f"{here}.point: {fault.point} is a {point.kind}, not a counter"
                )
            if isinstance(fault, RolloverFault) and point.type.is_float:
                raise ScenarioError(
                    f"{here}.point: {fault.point} is a {point.type}; "
                    "only integer counters roll over"
                )


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)
