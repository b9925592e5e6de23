"""Modbus firmware profiles: the TOML register map of one device model, validated.

A profile that cannot be right is refused when it is loaded, with a ``ProfileError``
that names the profile, the point and the problem, so a word swap on a 16-bit value or
two points sharing a register never reach a meter. The file format is described in
``firmware_profiles/README.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from drivers.errors import ProfileError
from firmware_profiles import profile_path

MAX_READ_REGISTERS = 125  # Modbus application protocol, FC 03 / FC 04
MAX_READ_BITS = 2000  # FC 01 / FC 02
LAST_ADDRESS = 0xFFFF

_E = TypeVar("_E", bound=StrEnum)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Table(StrEnum):
    """The four Modbus data tables, named as in the profile files."""

    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def read_function(self) -> int:
        return _READ_FUNCTION[self]

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING)


_READ_FUNCTION = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}


class DataType(StrEnum):
    """How the registers of a point encode its raw value."""

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
        """Registers (or, for ``bool``, bits) one value occupies."""
        return _REGISTERS[self]

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)

    @property
    def is_integer(self) -> bool:
        return not self.is_float and self is not DataType.BOOL

    @property
    def is_signed(self) -> bool:
        return self in (DataType.INT16, DataType.INT32, DataType.INT64)

    @property
    def integer_bounds(self) -> tuple[int, int]:
        bits = 16 * self.registers
        if self.is_signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1


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
    """Byte order of a value on the wire; A is the most significant byte.

    ``CDAB`` sends the lowest word first, ``BADC`` swaps the bytes in each word,
    ``DCBA`` does both. For 64-bit values the same rule applies to four words.
    """

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
    COUNTER = "counter"  # only grows: energy, volume
    STATE = "state"


class Access(StrEnum):
    READ = "r"
    READ_WRITE = "rw"


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """One value of a device: where it lives, how it is encoded, what it means.

    ``address`` is the wire address (0-based), whatever numbering the file used.
    ``mask`` selects bits of a 16-bit register; the raw value is shifted down to the
    mask's lowest bit. ``states`` maps raw values to text for ``kind = "state"``.
    """

    name: str
    table: Table
    address: int
    type: DataType
    order: ByteOrder = ByteOrder.ABCD
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    unit: str | None = None
    no_value: tuple[int, ...] = ()
    no_value_nan: bool = False
    valid_range: tuple[Decimal, Decimal] | None = None
    kind: PointKind = PointKind.GAUGE
    access: Access = Access.READ
    states: tuple[tuple[int, str], ...] = ()
    mask: int | None = None

    @property
    def registers(self) -> int:
        """Registers this point occupies (bits, in the coil and discrete tables)."""
        return self.type.registers

    @property
    def end(self) -> int:
        """First address after this point."""
        return self.address + self.registers

    @property
    def writable(self) -> bool:
        return self.access is Access.READ_WRITE

    def state_text(self, raw: int) -> str | None:
        return dict(self.states).get(raw)

    def state_raw(self, text: str) -> int | None:
        return {name: raw for raw, name in self.states}.get(text)


@dataclass(frozen=True, slots=True)
class ModbusProfile:
    """A device model's register map and the quirks the poller must respect."""

    id: str
    manufacturer: str
    model: str
    kind: str
    sources: tuple[str, ...]
    points: tuple[ModbusPoint, ...]
    address_base: int = 0
    default_order: ByteOrder = ByteOrder.ABCD
    max_registers: int = MAX_READ_REGISTERS
    single_point_reads: bool = False
    frame_gap_ms: float = 0.0
    max_gap: int = 10

    def point(self, name: str) -> ModbusPoint:
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(f"profile {self.id} has no point named {name!r}")


def load_profile(profile_id_or_path: str | Path) -> ModbusProfile:
    """Load and validate a profile by id (``"eastron_sdm120"``) or by file path.

    The file's ``[profile].id`` must equal its file name without ``.toml``.
    """
    path = _resolve(profile_id_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"profile file {path} cannot be read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile file {path} is not valid TOML: {exc}") from exc
    return parse_profile(document, expected_id=path.stem)


def parse_profile(
    document: Mapping[str, Any], *, expected_id: str | None = None
) -> ModbusProfile:
    """Validate a parsed profile document (the TOML as a dict)."""
    header = _table(document, "profile", "the profile")
    profile_id = header.get("id")
    if not isinstance(profile_id, str) or not _NAME.match(profile_id):
        raise ProfileError(
            f"profile id {profile_id!r} must be a lower-case name like 'eastron_sdm120'"
        )
    return _ProfileParser(profile_id, document).parse(expected_id)


def _resolve(profile_id_or_path: str | Path) -> Path:
    if isinstance(profile_id_or_path, Path):
        return profile_id_or_path
    if "/" in profile_id_or_path or profile_id_or_path.endswith(".toml"):
        return Path(profile_id_or_path)
    return profile_path(profile_id_or_path)


def _table(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key)
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where} has no [{key}] table")
    return value


_HEADER_KEYS = {"id", "manufacturer", "model", "protocol", "kind", "sources", "notes"}
_MODBUS_KEYS = {
    "address_base",
    "default_order",
    "max_registers",
    "single_point_reads",
    "frame_gap_ms",
    "max_gap",
}
_POINT_KEYS = {
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


@dataclass(frozen=True, slots=True)
class _Quirks:
    address_base: int
    default_order: ByteOrder
    max_registers: int
    single_point_reads: bool
    frame_gap_ms: float
    max_gap: int


class _ProfileParser:
    """Turns one document into a ModbusProfile; every refusal names where it was."""

    def __init__(self, profile_id: str, document: Mapping[str, Any]) -> None:
        self.profile_id = profile_id
        self.document = document

    def fail(self, message: str, point: str | None = None) -> ProfileError:
        where = f"profile {self.profile_id}"
        if point is not None:
            where += f", point {point!r}"
        return ProfileError(f"{where}: {message}")

    def parse(self, expected_id: str | None) -> ModbusProfile:
        if expected_id is not None and expected_id != self.profile_id:
            raise self.fail(f"the id must equal the file name {expected_id!r}")
        header = self.header()
        quirks = self.quirks()
        raw_points = self.document.get("points")
        if not isinstance(raw_points, list) or not raw_points:
            raise self.fail("the profile has no [[points]]")
        points = tuple(
            self.point(raw, index, quirks) for index, raw in enumerate(raw_points)
        )
        self.check_unique_names(points)
        self.check_overlaps(points)
        return ModbusProfile(
            id=self.profile_id,
            manufacturer=str(header.get("manufacturer", "")),
            model=str(header.get("model", "")),
            kind=str(header.get("kind", "")),
            sources=tuple(header["sources"]),
            points=points,
            address_base=quirks.address_base,
            default_order=quirks.default_order,
            max_registers=quirks.max_registers,
            single_point_reads=quirks.single_point_reads,
            frame_gap_ms=quirks.frame_gap_ms,
            max_gap=quirks.max_gap,
        )

    def header(self) -> Mapping[str, Any]:
        header = _table(self.document, "profile", f"profile {self.profile_id}")
        self.check_keys(header, _HEADER_KEYS, "[profile]")
        if header.get("protocol") != "modbus":
            raise self.fail(f"protocol is {header.get('protocol')!r}, not 'modbus'")
        sources = header.get("sources")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s.strip() for s in sources)
        ):
            raise self.fail("[profile].sources must list where the facts came from")
        return header

    def quirks(self) -> _Quirks:
        modbus = _table(self.document, "modbus", f"profile {self.profile_id}")
        self.check_keys(modbus, _MODBUS_KEYS, "[modbus]")
        address_base = modbus.get("address_base", 0)
        if address_base not in (0, 1) or isinstance(address_base, bool):
            raise self.fail(f"address_base must be 0 or 1, not {address_base!r}")
        max_registers = self.integer(
            modbus.get("max_registers", MAX_READ_REGISTERS), "max_registers", None
        )
        if not 1 <= max_registers <= MAX_READ_REGISTERS:
            raise self.fail(
                f"max_registers is {max_registers}; Modbus allows 1 to "
                f"{MAX_READ_REGISTERS} registers per read"
            )
        single = modbus.get("single_point_reads", False)
        if not isinstance(single, bool):
            raise self.fail(f"single_point_reads must be true or false, not {single!r}")
        frame_gap_ms = modbus.get("frame_gap_ms", 0)
        if (
            not isinstance(frame_gap_ms, int | float)
            or isinstance(frame_gap_ms, bool)
            or not 0 <= frame_gap_ms <= 10_000
        ):
            raise self.fail(f"frame_gap_ms must be 0 to 10000, not {frame_gap_ms!r}")
        max_gap = self.integer(modbus.get("max_gap", 10), "max_gap", None)
        if not 0 <= max_gap <= MAX_READ_REGISTERS:
            raise self.fail(f"max_gap must be 0 to {MAX_READ_REGISTERS}, not {max_gap}")
        default_order = modbus.get("default_order", "ABCD")
        return _Quirks(
            address_base=address_base,
            default_order=self.enum(ByteOrder, default_order, None, "default_order"),
            max_registers=max_registers,
            single_point_reads=single,
            frame_gap_ms=float(frame_gap_ms),
            max_gap=max_gap,
        )

    def point(self, raw: Any, index: int, quirks: _Quirks) -> ModbusPoint:
        if not isinstance(raw, Mapping):
            raise self.fail(f"[[points]] entry {index + 1} is not a table")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.fail(
                f"[[points]] entry {index + 1} has name {name!r}; names are lower-case "
                "letters, digits and _ (at most 64)"
            )
        self.check_keys(raw, _POINT_KEYS, "this point", name)
        table, data_type = self.location(raw, name, quirks)
        meaning = self.meaning(raw, name, table, data_type)
        return ModbusPoint(
            name=name,
            table=table,
            address=self.address(
                raw.get("address"), quirks.address_base, data_type, name
            ),
            type=data_type,
            order=self.order(raw.get("order"), data_type, quirks.default_order, name),
            mask=self.mask(raw.get("mask"), data_type, name),
            valid_range=self.valid_range(raw.get("range"), name),
            **meaning,
        )

    def location(
        self, raw: Mapping[str, Any], name: str, quirks: _Quirks
    ) -> tuple[Table, DataType]:
        """The table and type, and whether the registers they take can be read."""
        table = self.enum(Table, raw.get("table"), name, "table")
        data_type = self.enum(DataType, raw.get("type"), name, "type")
        if (data_type is DataType.BOOL) != table.is_bits:
            raise self.fail(
                f"type {data_type} cannot live in the {table} table: bool points "
                "belong in the coil or discrete table, and those tables hold only bool",
                name,
            )
        registers = raw.get("registers", data_type.registers)
        if registers != data_type.registers or isinstance(registers, bool):
            counted = "bit" if table.is_bits else "registers"
            raise self.fail(
                f"registers = {registers!r} does not fit type {data_type}, which "
                f"takes {data_type.registers} {counted}",
                name,
            )
        if not table.is_bits and data_type.registers > quirks.max_registers:
            raise self.fail(
                f"type {data_type} takes {data_type.registers} registers, more than "
                f"max_registers = {quirks.max_registers}",
                name,
            )
        return table, data_type

    def meaning(
        self, raw: Mapping[str, Any], name: str, table: Table, data_type: DataType
    ) -> dict[str, Any]:
        """Scale, kind, states, access, markers and unit, checked against each other."""
        scale = self.decimal(raw.get("scale", 1), "scale", name)
        if scale == 0:
            raise self.fail("scale must not be 0", name)
        offset = self.decimal(raw.get("offset", 0), "offset", name)
        kind = self.enum(PointKind, raw.get("kind", "gauge"), name, "kind")
        states = self.states(raw.get("states"), data_type, name)
        if states and kind is not PointKind.STATE:
            raise self.fail(f'states are given but kind is "{kind}", not "state"', name)
        if states and (scale != 1 or offset != 0):
            raise self.fail(
                "a point with states cannot also have scale or offset", name
            )
        if kind is PointKind.COUNTER and data_type is DataType.BOOL:
            raise self.fail("a counter must be numeric, not bool", name)
        access = self.enum(Access, raw.get("access", "r"), name, "access")
        if access is Access.READ_WRITE and not table.writable:
            raise self.fail(
                f"access = 'rw' but the {table} table is read-only in Modbus", name
            )
        no_value, no_value_nan = self.no_value(raw.get("no_value", []), data_type, name)
        unit = raw.get("unit")
        if unit is not None and (not isinstance(unit, str) or len(unit) > 16):
            raise self.fail(
                f"unit must be text of at most 16 characters: {unit!r}", name
            )
        return {
            "scale": scale,
            "offset": offset,
            "unit": unit,
            "no_value": no_value,
            "no_value_nan": no_value_nan,
            "kind": kind,
            "access": access,
            "states": states,
        }

    def address(
        self, raw: Any, address_base: int, data_type: DataType, name: str
    ) -> int:
        number = self.integer(raw, "address", name)
        if number < address_base:
            raise self.fail(
                f"address {number} is below address_base = {address_base}", name
            )
        wire = number - address_base
        last = wire + data_type.registers - 1
        if last > LAST_ADDRESS:
            raise self.fail(
                f"address {number} with {data_type.registers} registers ends at wire "
                f"address {last}, past the end of the address space ({LAST_ADDRESS})",
                name,
            )
        return wire

    def order(
        self, raw: Any, data_type: DataType, default_order: ByteOrder, name: str
    ) -> ByteOrder:
        if data_type is DataType.BOOL:
            if raw is not None:
                raise self.fail("a bool point has no byte order", name)
            return ByteOrder.ABCD
        if data_type.registers == 1:
            # default_order describes multi-register values; a lone register is
            # big-endian unless the point itself says BADC.
            order = ByteOrder.ABCD if raw is None else self.enum(ByteOrder, raw, name)
            if order.swaps_words:
                raise self.fail(
                    f"order {order} swaps words, but {data_type} is a single "
                    "register; use ABCD or BADC",
                    name,
                )
            return order
        return default_order if raw is None else self.enum(ByteOrder, raw, name)

    def mask(self, raw: Any, data_type: DataType, name: str) -> int | None:
        if raw is None:
            return None
        mask = self.integer(raw, "mask", name)
        if data_type is not DataType.UINT16:
            raise self.fail(f"mask is only for uint16 points, not {data_type}", name)
        if not 0 < mask <= 0xFFFF:
            raise self.fail(f"mask {mask:#x} must select bits of one register", name)
        return mask

    def states(
        self, raw: Any, data_type: DataType, name: str
    ) -> tuple[tuple[int, str], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping) or not raw:
            raise self.fail("states must be a table of raw value = text", name)
        if data_type.is_float:
            raise self.fail(
                f"states need an integer or bool type, not {data_type}", name
            )
        states: dict[int, str] = {}
        for key, text in raw.items():
            if not re.fullmatch(r"-?[0-9]+", str(key)):
                raise self.fail(f"state key {key!r} is not a decimal integer", name)
            value = int(key)
            if not isinstance(text, str) or not text:
                raise self.fail(f"state {key} must map to text, not {text!r}", name)
            if text in states.values():
                raise self.fail(f"state text {text!r} is used twice", name)
            states[value] = text
        return tuple(sorted(states.items()))

    def no_value(
        self, raw: Any, data_type: DataType, name: str
    ) -> tuple[tuple[int, ...], bool]:
        if not isinstance(raw, list):
            raise self.fail(f"no_value must be a list, not {raw!r}", name)
        markers: list[int] = []
        nan = False
        for item in raw:
            if isinstance(item, str) and item.lower() == "nan":
                if not data_type.is_float:
                    raise self.fail(
                        f'"nan" as no_value needs a float type, not {data_type}', name
                    )
                nan = True
            elif isinstance(item, int) and not isinstance(item, bool):
                markers.append(item)
            else:
                raise self.fail(
                    f'no_value entries are integers or "nan", not {item!r}', name
                )
        return tuple(markers), nan

    def valid_range(self, raw: Any, name: str) -> tuple[Decimal, Decimal] | None:
        if raw is None:
            return None
        if not isinstance(raw, list) or len(raw) != 2:
            raise self.fail(f"range must be [low, high], not {raw!r}", name)
        low = self.decimal(raw[0], "range", name)
        high = self.decimal(raw[1], "range", name)
        if low > high:
            raise self.fail(f"range [{low}, {high}] has low above high", name)
        return low, high

    def decimal(self, raw: Any, key: str, name: str) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise self.fail(
                f"{key} must be a number or decimal string, not {raw!r}", name
            )
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise self.fail(f"{key} {raw!r} is not a number", name) from None
        if not value.is_finite():
            raise self.fail(f"{key} {raw!r} is not a finite number", name)
        return value

    def integer(self, raw: Any, key: str, name: str | None) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(f"{key} must be an integer, not {raw!r}", name)
        return raw

    def enum(
        self, kind: type[_E], raw: Any, name: str | None, key: str = "order"
    ) -> _E:
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.fail(
                f"unknown {key} {raw!r}; expected one of {allowed}", name
            ) from None

    def check_keys(
        self,
        raw: Mapping[str, Any],
        allowed: set[str],
        where: str,
        name: str | None = None,
    ) -> None:
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise self.fail(
                f"unknown key {', '.join(unknown)} in {where} (a typo would "
                "silently change what is read)",
                name,
            )

    def check_unique_names(self, points: tuple[ModbusPoint, ...]) -> None:
        seen: set[str] = set()
        for point in points:
            if point.name in seen:
                raise self.fail("the name is used by two points", point.name)
            seen.add(point.name)

    def check_overlaps(self, points: tuple[ModbusPoint, ...]) -> None:
        """Two points may share registers only as disjoint bit masks of one register."""
        ordered = sorted(points, key=lambda p: (p.table, p.address))
        for index, point in enumerate(ordered):
            for other in ordered[index + 1 :]:
                if other.table != point.table or other.address >= point.end:
                    break
                if (
                    point.mask is not None
                    and other.mask is not None
                    and point.address == other.address
                    and not point.mask & other.mask
                ):
                    continue
                raise self.fail(
                    f"overlaps point {point.name!r} in the {point.table} table "
                    f"(wire addresses {point.address}..{point.end - 1} and "
                    f"{other.address}..{other.end - 1})",
                    other.name,
                )
