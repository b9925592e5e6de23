"""One simulated Modbus device: its register datastore and its PDU handler.

The datastore is built from the profile: each table maps a wire address to the point
that covers it, and holds the words the model's state encodes to. The handler answers
the eight data function codes the way a field device does, exception codes included;
the transports (``rtu``, ``tcp``) only frame what it returns.

Reads follow the profile. A request that splits a multi-register point, touches a
refused address, or covers no point at all gets exception 2. Registers the profile does
not define, between or around the points a request covers, read as zero (as the SDM230
in register_maps.md G answers an 80-register block), unless the device is built with
``gaps="refuse"``, which refuses any register the profile does not define.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import IntEnum
from typing import Literal

from sim.clock import SYSTEM_CLOCK, Clock
from sim.errors import EncodeError, FaultError, RefusedWriteError
from sim.modbus import encoder
from sim.modbus.faults import DeviceFaults
from sim.modbus.meters import Binding, MeterModel, Quantity, Value, bind, constant_value
from sim.modbus.profile import ModbusPoint, ModbusProfile, PointKind, Table

logger = logging.getLogger(__name__)

GapPolicy = Literal["fill", "refuse"]


class ExceptionCode(IntEnum):
    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    GATEWAY_TARGET_FAILED = 0x0B


class FunctionCode(IntEnum):
    READ_COILS = 0x01
    READ_DISCRETE_INPUTS = 0x02
    READ_HOLDING_REGISTERS = 0x03
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_COIL = 0x05
    WRITE_SINGLE_REGISTER = 0x06
    WRITE_MULTIPLE_COILS = 0x0F
    WRITE_MULTIPLE_REGISTERS = 0x10


READ_TABLES = {
    FunctionCode.READ_COILS: Table.COIL,
    FunctionCode.READ_DISCRETE_INPUTS: Table.DISCRETE,
    FunctionCode.READ_HOLDING_REGISTERS: Table.HOLDING,
    FunctionCode.READ_INPUT_REGISTERS: Table.INPUT,
}
WRITE_CODES = frozenset(
    {
        FunctionCode.WRITE_SINGLE_COIL,
        FunctionCode.WRITE_SINGLE_REGISTER,
        FunctionCode.WRITE_MULTIPLE_COILS,
        FunctionCode.WRITE_MULTIPLE_REGISTERS,
    }
)
MAX_READ_BITS = 2000
MAX_WRITE_BITS = 1968
MAX_WRITE_REGISTERS = 123


class ModbusRefusal(Exception):  # noqa: N818 - it is a refusal, not an error of ours
    """Raised inside the handler to answer with an exception code."""

    def __init__(self, code: ExceptionCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reply:
    """A response PDU and how the transport should send it."""

    pdu: bytes
    delay_s: float = 0.0
    corrupt_crc: bool = False


@dataclass(frozen=True, slots=True)
class ServedValue:
    """The value of a point as the last reply that covered it carried it."""

    value: Value
    monotonic_ns: int


@dataclass(slots=True)
class DeviceStats:
    requests: int = 0
    replies: int = 0
    silent: int = 0
    late: int = 0
    bad_crc: int = 0
    writes: int = 0
    exceptions: Counter[int] = field(default_factory=Counter)
    functions: Counter[int] = field(default_factory=Counter)


class RegisterBank:
    """One table of the datastore: the points covering each address, and its words.

    Masked points share a register as bit fields; storing one leaves the others' bits.
    """

    def __init__(self, points: Iterable[ModbusPoint]) -> None:
        self.points = sorted(points, key=lambda p: p.address)
        self.located: dict[int, list[tuple[ModbusPoint, int]]] = {}
        for point in self.points:
            for index in range(point.registers):
                self.located.setdefault(point.address + index, []).append(
                    (point, index)
                )
        self.words: dict[int, int] = dict.fromkeys(self.located, 0)

    def store(self, point: ModbusPoint, words: Sequence[int]) -> None:
        for index, word in enumerate(words):
            address = point.address + index
            if point.mask is None:
                self.words[address] = word
            else:
                kept = self.words[address] & ~point.mask
                self.words[address] = kept | (word & point.mask)

    def load(self, point: ModbusPoint) -> tuple[int, ...]:
        return tuple(self.words[point.address + i] for i in range(point.registers))


class ModbusDevice:
    """A simulated Modbus device answering PDUs from its profile and its model."""

    def __init__(
        self,
        *,
        device_id: str,
        profile: ModbusProfile,
        unit_id: int,
        model: MeterModel,
        clock: Clock = SYSTEM_CLOCK,
        latency_s: float = 0.0,
        tick_s: float = 0.2,
        gaps: GapPolicy = "fill",
    ) -> None:
        self.device_id = device_id
        self.profile = profile
        self.unit_id = unit_id
        self.model = model
        self.clock = clock
        self.latency_s = latency_s
        self.gaps = gaps
        self.faults = DeviceFaults(clock)
        self.stats = DeviceStats()
        self.bindings = {p.name: bind(p, profile.kind) for p in profile.points}
        self.banks = {
            t: RegisterBank(p for p in profile.points if p.table is t) for t in Table
        }
        self._tick_ns = round(tick_s * 1e9)
        self._refreshed_ns: int | None = None
        self._held: dict[str, Value] = {}
        self._served: dict[str, ServedValue] = {}
        self._unencodable: set[str] = set()

    # --- values ------------------------------------------------------------------

    def value(self, point: str) -> Value:
        """What a correct decoder reads from ``point`` now (before any glitch)."""
        self.refresh()
        found = self.profile.point(point)
        return encoder.decode(found, self.banks[found.table].load(found))

    def values(self) -> dict[str, Value]:
        self.refresh()
        return {
            p.name: encoder.decode(p, self.banks[p.table].load(p))
            for p in self.profile.points
        }

    def physical_value(self, point: str) -> Value:
        """The model's exact value behind ``point``, in the point's unit, unrounded."""
        self.refresh()
        return self._model_value(self.profile.point(point))

    def last_served(self, point: str) -> ServedValue | None:
        """The value the last reply covering ``point`` carried, glitches included."""
        return self._served.get(point)

    def refresh(self, *, force: bool = False) -> None:
        """Advance the model if a tick has passed, apply due events, re-encode."""
        now = self.clock.monotonic_ns()
        ticked = (
            force
            or self._refreshed_ns is None
            or now - self._refreshed_ns >= self._tick_ns
        )
        if ticked:
            self.model.advance(now, self.clock.now())
            self._refreshed_ns = now
        events = self.faults.take_events(now)
        for action in events:
            action()
        if ticked or events:
            self._encode_all()

    # --- faults on the model -----------------------------------------------------

    def refuse_points(self, names: Iterable[str]) -> None:
        """Answer exception 2 to any request touching these points."""
        for name in names:
            point = self.profile.point(name)
            self.faults.refuse(point.table, range(point.address, point.end))

    def roll_over(self, point: str, *, before: int = 10, after_s: float = 0) -> None:
        """Bring an integer counter to ``before`` raw steps short of its wrap."""
        found = self.profile.point(point)
        if (
            found.kind is not PointKind.COUNTER
            or found.type.is_float
            or found.table.is_bits
        ):
            raise FaultError(
                f"{self.device_id} point {point}: only integer counters roll over "
                f"(it is a {found.kind} {found.type})"
            )
        bits = found.type.bits - (1 if found.type.is_signed else 0)
        target = (Decimal((1 << bits) - before) * found.scale) + found.offset

        def roll() -> None:
            self._set_counter(found, target)
            logger.info(
                "%s %s set %d steps before rollover", self.device_id, point, before
            )

        self.faults.schedule(roll, after_s=after_s)

    def replace_meter(self, *, after_s: float = 0) -> None:
        """A new meter in the old one's place: counters restart from zero."""

        def replace() -> None:
            self.model.replace()
            logger.info("%s replaced: counters restart from zero", self.device_id)

        self.faults.schedule(replace, after_s=after_s)

    # --- requests ----------------------------------------------------------------

    def answer(self, pdu: bytes) -> Reply | None:
        """The reply to a request PDU with faults applied; None means silence."""
        now = self.clock.monotonic_ns()
        self.stats.requests += 1
        if self.faults.silent(now):
            self.stats.silent += 1
            logger.debug("%s silent: request %s dropped", self.device_id, pdu.hex())
            return None
        response = self.process(pdu)
        if response is None:
            return None
        delay = self.faults.take_delay(now)
        corrupt = self.faults.take_bad_crc(now)
        self.stats.replies += 1
        self.stats.late += delay > 0
        self.stats.bad_crc += corrupt
        return Reply(response, delay_s=self.latency_s + delay, corrupt_crc=corrupt)

    def process(self, pdu: bytes) -> bytes | None:
        """The response PDU to ``pdu``, exceptions included; None for an empty PDU."""
        if not pdu:
            return None
        function = pdu[0]
        self.stats.functions[function] += 1
        try:
            self.refresh()
            return self._dispatch(function, pdu[1:])
        except ModbusRefusal as refusal:
            self.stats.exceptions[refusal.code] += 1
            logger.debug(
                "%s function %d refused with exception %d: %s",
                self.device_id,
                function,
                refusal.code,
                refusal.reason,
            )
            return bytes([function | 0x80, refusal.code])

    def _dispatch(self, function: int, body: bytes) -> bytes:
        if function in READ_TABLES:
            start, count = _fields(body, 4, ">HH")
            return self._read(
                FunctionCode(function),
                READ_TABLES[FunctionCode(function)],
                start,
                count,
            )
        if function == FunctionCode.WRITE_SINGLE_REGISTER:
            address, word = _fields(body, 4, ">HH")
            self._write_registers(address, [word])
            return bytes([function]) + body[:4]
        if function == FunctionCode.WRITE_MULTIPLE_REGISTERS:
            return bytes([function]) + self._write_multiple_registers(body)
        if function == FunctionCode.WRITE_SINGLE_COIL:
            address, word = _fields(body, 4, ">HH")
            if word not in (0xFF00, 0x0000):
                raise ModbusRefusal(
                    ExceptionCode.ILLEGAL_DATA_VALUE, f"coil value {word:#06x}"
                )
            self._write_bits(address, [word == 0xFF00])
            return bytes([function]) + body[:4]
        if function == FunctionCode.WRITE_MULTIPLE_COILS:
            return bytes([function]) + self._write_multiple_coils(body)
        raise ModbusRefusal(ExceptionCode.ILLEGAL_FUNCTION, f"function code {function}")

    # --- reads -------------------------------------------------------------------

    def _read(
        self, function: FunctionCode, table: Table, start: int, count: int
    ) -> bytes:
        limit = MAX_READ_BITS if table.is_bits else self.profile.max_registers
        if not 1 <= count <= limit:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_VALUE,
                f"quantity {count} outside 1 to {limit}",
            )
        covered = self._covered(table, start, count)
        bank = self.banks[table]
        words = [bank.words.get(address, 0) for address in range(start, start + count)]
        now = self.clock.monotonic_ns()
        for name in self.faults.take_glitches(now, (p.name for p in covered)):
            point = self.profile.point(name)
            offset = point.address - start
            words[offset : offset + point.registers] = [0] * point.registers
            logger.info("%s %s served as zero (glitch)", self.device_id, name)
        for point in covered:
            offset = point.address - start
            value = encoder.decode(point, words[offset : offset + point.registers])
            self._served[point.name] = ServedValue(value, now)
        data = _pack_bits(words) if table.is_bits else encoder.words_to_bytes(words)
        return bytes([function, len(data)]) + data

    def _covered(self, table: Table, start: int, count: int) -> list[ModbusPoint]:
        """The points a read covers; refuses splits, refused and undefined addresses."""
        end = start + count
        if end > 0x10000:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{start}+{count} past 65535"
            )
        if self.faults.refused(table, start, count):
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"{table} {start}+{count} touches refused addresses",
            )
        located = self.banks[table].located
        covered: list[ModbusPoint] = []
        address = start
        while address < end:
            if address not in located:
                hole = address
                while address < end and address not in located:
                    address += 1
                if self.gaps == "refuse":
                    raise ModbusRefusal(
                        ExceptionCode.ILLEGAL_DATA_ADDRESS,
                        f"{table} {hole}..{address - 1} is not defined by profile "
                        f"{self.profile.id}",
                    )
                continue
            point, index = located[address][0]
            if index != 0 or point.end > end:
                raise ModbusRefusal(
                    ExceptionCode.ILLEGAL_DATA_ADDRESS,
                    f"{table} {start}+{count} splits point {point.name}",
                )
            covered.extend(sharing for sharing, _ in located[address])
            address = point.end
        if not covered:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"{table} {start}+{count} covers no point of profile {self.profile.id}",
            )
        if self.profile.single_point_reads and (
            len({p.address for p in covered}) != 1 or count != covered[0].registers
        ):
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"{table} {start}+{count}: this device reads one point per request",
            )
        return covered

    # --- writes ------------------------------------------------------------------

    def _write_multiple_registers(self, body: bytes) -> bytes:
        address, count, byte_count = _fields(body, 5, ">HHB")
        if not 1 <= count <= MAX_WRITE_REGISTERS or byte_count != 2 * count:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_VALUE,
                f"quantity {count} with byte count {byte_count}",
            )
        if len(body) != 5 + byte_count:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_VALUE, "data shorter than its byte count"
            )
        self._write_registers(address, encoder.bytes_to_words(body[5:]))
        return body[:4]

    def _write_multiple_coils(self, body: bytes) -> bytes:
        address, count, byte_count = _fields(body, 5, ">HHB")
        if not 1 <= count <= MAX_WRITE_BITS or byte_count != (count + 7) // 8:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_VALUE,
                f"quantity {count} with byte count {byte_count}",
            )
        if len(body) != 5 + byte_count:
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_VALUE, "data shorter than its byte count"
            )
        bits = [bool(body[5 + i // 8] >> (i % 8) & 1) for i in range(count)]
        self._write_bits(address, bits)
        return body[:4]

    def _write_registers(self, address: int, words: Sequence[int]) -> None:
        bank = self.banks[Table.HOLDING]
        touched = self._writable(bank, Table.HOLDING, address, len(words))
        for point in touched:
            current = list(bank.load(point))
            for index in range(point.registers):
                if address <= point.address + index < address + len(words):
                    current[index] = words[point.address + index - address]
            self._apply_write(point, encoder.decode(point, current))

    def _write_bits(self, address: int, bits: Sequence[bool]) -> None:
        bank = self.banks[Table.COIL]
        touched = self._writable(bank, Table.COIL, address, len(bits))
        for point in touched:
            self._apply_write(point, bits[point.address - address])

    def _writable(
        self, bank: RegisterBank, table: Table, address: int, count: int
    ) -> list[ModbusPoint]:
        if address + count > 0x10000 or self.faults.refused(table, address, count):
            raise ModbusRefusal(
                ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{table} {address}+{count}"
            )
        touched: list[ModbusPoint] = []
        for target in range(address, address + count):
            writable = [p for p, _ in bank.located.get(target, []) if p.writable]
            if not writable:
                raise ModbusRefusal(
                    ExceptionCode.ILLEGAL_DATA_ADDRESS,
                    f"{table} {target} is not a writable point",
                )
            touched.extend(p for p in writable if p not in touched)
        return touched

    def _apply_write(self, point: ModbusPoint, value: Value) -> None:
        binding = self.bindings[point.name]
        try:
            if binding.quantity is Quantity.CONSTANT:
                self._held[point.name] = value
            else:
                self.model.write(binding, _to_base(binding, value))
        except RefusedWriteError as exc:
            raise ModbusRefusal(ExceptionCode.ILLEGAL_DATA_VALUE, str(exc)) from exc
        self.stats.writes += 1
        logger.info("%s %s written: %s", self.device_id, point.name, value)
        self._encode_all()

    # --- encoding ----------------------------------------------------------------

    def _encode_all(self) -> None:
        for point in self.profile.points:
            value = self._model_value(point)
            rounding = (
                ROUND_FLOOR if point.kind is PointKind.COUNTER else ROUND_HALF_EVEN
            )
            try:
                words = encoder.encode(
                    point,
                    value,
                    rounding=rounding,
                    wrap=point.kind is PointKind.COUNTER,
                )
            except EncodeError as exc:
                if point.name not in self._unencodable:
                    self._unencodable.add(point.name)
                    logger.warning(
                        "%s %s keeps its last value: %s",
                        self.device_id,
                        point.name,
                        exc,
                    )
                continue
            self.banks[point.table].store(point, words)

    def _model_value(self, point: ModbusPoint) -> Value:
        binding = self.bindings[point.name]
        if binding.quantity is Quantity.CONSTANT:
            return self._held.get(point.name, constant_value(point))
        value = self.model.value(binding)
        if isinstance(value, Decimal) and binding.factor != 1:
            return value / binding.factor
        return value

    def _set_counter(self, point: ModbusPoint, value: Decimal) -> None:
        binding = self.bindings[point.name]
        self.model.set_counter(binding, value * binding.factor)
        self._encode_all()


def _to_base(binding: Binding, value: Value) -> Value:
    if isinstance(value, Decimal) and binding.factor != 1:
        return value * binding.factor
    return value


def _fields(body: bytes, size: int, layout: str) -> tuple[int, ...]:
    if len(body) < size:
        raise ModbusRefusal(
            ExceptionCode.ILLEGAL_DATA_VALUE, f"request body of {len(body)} bytes"
        )
    return struct.unpack(layout, body[:size])


def _pack_bits(bits: Sequence[int]) -> bytes:
    packed = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            packed[index // 8] |= 1 << (index % 8)
    return bytes(packed)
