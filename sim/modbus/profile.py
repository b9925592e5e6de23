"""The simulator's own reading of Modbus firmware profiles (see firmware_profiles/).

The gateway's drivers read the same TOML files with their own code; keeping two readers
means a misreading in either shows up as a test failure instead of being mirrored.
Addresses are turned into wire addresses here, once, so the rest of the simulator never
sees manual numbering.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from firmware_profiles import PROFILE_DIR
from sim.errors import ProfileError

ADDRESS_SPACE = 0x10000
MAX_READ_REGISTERS = 125

_E = TypeVar("_E", bound=StrEnum)


class Table(StrEnum):
    """The four Modbus data tables, named as profiles name them."""

    INPUT = "input"
    HOLDING = "holding"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOL = "bool"

    @property
    def registers(self) -> int:
        """Registers the type fills (a bool fills one register, or one bit)."""
        return _REGISTERS[self]

    @property
    def bits(self) -> int:
        return 16 * self.registers

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)

    @property
    def is_signed(self) -> bool:
        return self in (DataType.INT16, DataType.INT32, DataType.INT64)


_REGISTERS = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.BOOL: 1,
}


class ByteOrder(StrEnum):
    """Bytes of a 32-bit value as they appear on the wire, A most significant."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swaps_words(self) -> bool:
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)

    @property
    def swaps_bytes(self) -> bool:
        return self in (ByteOrder.BADC, ByteOrder.DCBA)


class PointKind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """One point of a profile, with its wire address and every default filled in."""

    name: str
    table: Table
    address: int
    type: DataType
    order: ByteOrder = ByteOrder.ABCD
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    unit: str | None = None
    kind: PointKind = PointKind.GAUGE
    writable: bool = False
    states: Mapping[int, str] = field(default_factory=dict)
    value_range: tuple[Decimal, Decimal] | None = None
    no_value: tuple[int | str, ...] = ()
    mask: int | None = None

    @property
    def shift(self) -> int:
        """How far the masked bits lie above bit 0 (0 without a mask)."""
        return (self.mask & -self.mask).bit_length() - 1 if self.mask else 0

    @property
    def registers(self) -> int:
        """Registers (or bits, in the bit tables) the point spans."""
        return 1 if self.table.is_bits else self.type.registers

    @property
    def end(self) -> int:
        """First address after the point."""
        return self.address + self.registers


@dataclass(frozen=True, slots=True)
class ModbusProfile:
    id: str
    manufacturer: str
    model: str
    kind: str
    points: tuple[ModbusPoint, ...]
    address_base: int = 0
    default_order: ByteOrder = ByteOrder.ABCD
    max_registers: int = MAX_READ_REGISTERS
    single_point_reads: bool = False
    frame_gap_ms: int = 0
    max_gap: int = 10

    def point(self, name: str) -> ModbusPoint:
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(f"profile {self.id} has no point named {name!r}")

    def has_point(self, name: str) -> bool:
        return any(point.name == name for point in self.points)


def find_profile(profile_id: str, dirs: Sequence[Path] | None = None) -> Path:
    """The profile file for ``profile_id``: the first match in ``dirs``, then PAMS's."""
    for folder in [*(dirs or ()), PROFILE_DIR]:
        candidate = Path(folder) / f"{profile_id}.toml"
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in [*(dirs or ()), PROFILE_DIR])
    raise ProfileError(f"profile {profile_id!r} not found (searched {searched})")


def load_profile(profile_id: str, dirs: Sequence[Path] | None = None) -> ModbusProfile:
    """Read and check the Modbus profile ``profile_id``."""
    path = find_profile(profile_id, dirs)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path}: not valid TOML: {exc}") from exc
    profile = parse_profile(data, source=str(path))
    if profile.id != path.stem:
        raise ProfileError(
            f"profile {path}: [profile].id is {profile.id!r}, "
            f"but the file name says {path.stem!r}"
        )
    return profile


def parse_profile(data: Mapping[str, Any], *, source: str) -> ModbusProfile:
    """Check a profile already read from TOML; errors name ``source`` and the point."""
    header = _table(data, "profile", source)
    profile_id = _text(header, "id", f"{source}: [profile]")
    where = f"profile {profile_id}"
    _known_keys(data, frozenset({"profile", "modbus", "points"}), where)
    _known_keys(header, _HEADER_KEYS, f"{where}: [profile]")
    if header.get("protocol") != "modbus":
        raise ProfileError(
            f"{where}: protocol is {header.get('protocol')!r}, not 'modbus'"
        )
    modbus = _table(data, "modbus", where)
    _known_keys(modbus, _MODBUS_KEYS, f"{where}: [modbus]")
    base = modbus.get("address_base", 0)
    if base not in (0, 1):
        raise ProfileError(
            f"{where}: [modbus].address_base must be 0 or 1, not {base!r}"
        )
    default_order = _enum(
        ByteOrder, modbus.get("default_order", "ABCD"), f"{where}: default_order"
    )
    max_registers = modbus.get("max_registers", MAX_READ_REGISTERS)
    if not isinstance(max_registers, int) or not 1 <= max_registers <= 125:
        raise ProfileError(
            f"{where}: [modbus].max_registers must be 1 to 125, not {max_registers!r}"
        )

    raw_points = data.get("points", [])
    if not isinstance(raw_points, list) or not raw_points:
        raise ProfileError(f"{where}: a Modbus profile needs at least one [[points]]")
    points = tuple(
        _point(raw, where=where, base=base, default_order=default_order)
        for raw in raw_points
    )
    for point in points:
        if point.registers > max_registers:
            raise ProfileError(
                f"{where} point {point.name}: {point.registers} registers are more "
                f"than max_registers = {max_registers}"
            )
    _check_unique_names(points, where)
    _check_overlaps(points, where)
    return ModbusProfile(
        id=profile_id,
        manufacturer=str(header.get("manufacturer", "")),
        model=str(header.get("model", "")),
        kind=str(header.get("kind", "")),
        points=points,
        address_base=base,
        default_order=default_order,
        max_registers=max_registers,
        single_point_reads=bool(modbus.get("single_point_reads", False)),
        frame_gap_ms=int(modbus.get("frame_gap_ms", 0)),
        max_gap=int(modbus.get("max_gap", 10)),
    )


def wire_address(address: int, base: int) -> int:
    """The on-the-wire address of ``address`` written in numbering ``base``.

    With base 1 the address is the one-based register number manuals print
    (Schneider's current I1 is 3000, wire address 2999); Modicon numbers with a
    table prefix (30001) are not used, the point's table says which table.
    """
    return address - base


def _point(raw: Any, *, where: str, base: int, default_order: ByteOrder) -> ModbusPoint:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: every [[points]] entry must be a table")
    name = _text(raw, "name", f"{where}: a point")
    here = f"{where} point {name}"
    _known_keys(raw, _POINT_KEYS, here)
    table = _enum(Table, raw.get("table"), f"{here}: table")
    data_type = _enum(DataType, raw.get("type"), f"{here}: type")
    if table.is_bits and data_type is not DataType.BOOL:
        raise ProfileError(f"{here}: a {table} point must have type bool")

    registers = raw.get("registers")
    expected = 1 if table.is_bits else data_type.registers
    if registers is not None and registers != expected:
        raise ProfileError(
            f"{here}: type {data_type} fills {expected} register(s), "
            f"but registers = {registers!r}"
        )
    # default_order is for values of two or more registers; one word reads ABCD.
    inherited = default_order if expected > 1 else ByteOrder.ABCD
    order = _enum(ByteOrder, raw.get("order", inherited), f"{here}: order")
    if expected == 1 and order.swaps_words:
        raise ProfileError(
            f"{here}: byte order {order} swaps words, but a {data_type} has one word"
        )

    address = raw.get("address")
    if not isinstance(address, int) or isinstance(address, bool):
        raise ProfileError(f"{here}: address must be an integer, not {address!r}")
    wire = wire_address(address, base)
    if wire < 0 or wire + expected > ADDRESS_SPACE:
        raise ProfileError(
            f"{here}: address {address} (wire {wire}) lies outside the address space"
        )
    scale = _decimal(raw.get("scale", 1), f"{here}: scale")
    if scale == 0:
        raise ProfileError(f"{here}: scale must not be 0")
    return ModbusPoint(
        name=name,
        table=table,
        address=wire,
        type=data_type,
        order=order,
        scale=scale,
        offset=_decimal(raw.get("offset", 0), f"{here}: offset"),
        unit=raw.get("unit"),
        kind=_enum(PointKind, raw.get("kind", "gauge"), f"{here}: kind"),
        writable=_access(raw.get("access", "r"), here),
        states=_states(raw.get("states", {}), here),
        value_range=_range(raw.get("range"), here),
        no_value=tuple(raw.get("no_value", ())),
        mask=_mask(raw.get("mask"), data_type, here),
    )


def _mask(value: Any, data_type: DataType, here: str) -> int | None:
    if value is None:
        return None
    if data_type is not DataType.UINT16:
        raise ProfileError(f"{here}: mask is for uint16 points, not {data_type}")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 0xFFFF:
        raise ProfileError(f"{here}: mask must be 0x0001 to 0xFFFF, not {value!r}")
    return value


def _known_keys(raw: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(unknown)}")


_POINT_KEYS = frozenset(
    {
        "name",
        "table",
        "address",
        "type",
        "registers",
        "order",
        "scale",
        "offset",
        "unit",
        "no_value",
        "range",
        "kind",
        "access",
        "states",
        "mask",
    }
)
_HEADER_KEYS = frozenset(
    {"id", "manufacturer", "model", "protocol", "kind", "sources", "notes"}
)
_MODBUS_KEYS = frozenset(
    {
        "address_base",
        "default_order",
        "max_registers",
        "single_point_reads",
        "frame_gap_ms",
        "max_gap",
    }
)


def _check_unique_names(points: Iterable[ModbusPoint], where: str) -> None:
    seen: set[str] = set()
    for point in points:
        if point.name in seen:
            raise ProfileError(f"{where} point {point.name}: the name is used twice")
        seen.add(point.name)


def _check_overlaps(points: Sequence[ModbusPoint], where: str) -> None:
    """Refuse points sharing a register, unless they are masked bit fields of one
    register with disjoint masks."""
    holders: dict[tuple[Table, int], list[ModbusPoint]] = {}
    for point in points:
        for address in range(point.address, point.end):
            for other in holders.setdefault((point.table, address), []):
                disjoint = point.mask and other.mask and not point.mask & other.mask
                if not disjoint:
                    raise ProfileError(
                        f"{where} point {point.name}: overlaps point {other.name} "
                        f"in the {point.table} table"
                    )
            holders[(point.table, address)].append(point)


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: the [{key}] table is missing")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value


def _enum(kind: type[_E], value: Any, where: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ProfileError(f"{where}: {value!r} is not one of {allowed}") from None


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise ProfileError(f"{where}: {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ProfileError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ProfileError(f"{where}: {value!r} is not a finite number")
    return number


def _access(value: Any, here: str) -> bool:
    if value not in ("r", "rw"):
        raise ProfileError(f"{here}: access must be 'r' or 'rw', not {value!r}")
    return value == "rw"


def _states(value: Any, here: str) -> dict[int, str]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{here}: states must be a table of raw value = text")
    states: dict[int, str] = {}
    for raw, text in value.items():
        try:
            states[int(raw, 0) if isinstance(raw, str) else int(raw)] = str(text)
        except ValueError:
            raise ProfileError(f"{here}: state key {raw!r} is not an integer") from None
    return states


def _range(value: Any, here: str) -> tuple[Decimal, Decimal] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ProfileError(f"{here}: range must be [low, high], not {value!r}")
    low, high = (_decimal(v, f"{here}: range") for v in value)
    if low > high:
        raise ProfileError(f"{here}: range {value!r} has low above high")
    return low, high
