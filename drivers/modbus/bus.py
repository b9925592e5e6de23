"""Modbus TCP and RTU buses and the devices polled through them.

    DriverError
    └── CommandError   a write could not be encoded, was refused or went unanswered

A bus owns one pymodbus client and ONE task that puts requests on the wire, one at a
time, in order (writes first). A serial line can carry one frame at a time, and many
Modbus TCP servers and TCP-to-RTU gateways answer one transaction at a time too, so a
TCP connection is serialised the same way.

Devices never raise for what a device or the bus does: ``poll()`` returns one reading
per point, unavailable ones carrying the reason (timeout, exception code and name, CRC
error, connection refused). A device that refuses part of a merged block gets the
block split until only the refused points are left out; those are remembered as
unsupported and retried rarely. A device that stops answering is backed off with a
capped exponential delay so it cannot starve the bus.

On RTU, a reply that arrives after its timeout must never be taken as the answer to
the next request. Three things see to that: after a timeout the line is left quiet for
a guard period (a late reply lands in it and is discarded), the input is flushed
before every request, and a reply must match the request's unit, function code, byte
count and CRC. Over TCP, pymodbus matches the transaction id.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerRTU, FramerType
from pymodbus.pdu import ModbusPDU

from drivers.errors import DriverError
from drivers.modbus.decode import decode_point, encode_point
from drivers.modbus.planner import ReadRequest, plan_profile, split_request
from drivers.modbus.profile import ModbusPoint, ModbusProfile, Table
from drivers.types import Quality, Reading

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    7: "NEGATIVE ACKNOWLEDGE",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}
# Exception codes that say "not this address / not this many": split and retry.
_SPLIT_ON = frozenset({2, 3})

# Every pymodbus call is bounded by our own asyncio.timeout; pymodbus' own timer only
# has to be longer than any of ours, so that its retry and disconnect logic never runs.
_PYMODBUS_BACKSTOP_S = 3600.0
_WRITE, _READ = 0, 1  # queue priorities: a valve command overtakes queued polls


class CommandError(DriverError):
    """A write could not be encoded, was refused by the device, or went unanswered."""


class FailureKind(StrEnum):
    TIMEOUT = "timeout"  # nothing came back
    EXCEPTION = "exception"  # the device answered with a Modbus exception
    GARBLED = "garbled"  # bytes came back that were not a valid frame (CRC error)
    MISMATCH = "mismatch"  # a valid frame that does not answer this request
    CONNECTION = "connection"  # port or connection not usable


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a request got no usable reply."""

    kind: FailureKind
    reason: str
    exception_code: int | None = None

    @property
    def device_silent(self) -> bool:
        """Nothing useful will come from this device in this poll: stop asking."""
        return self.kind in (FailureKind.TIMEOUT, FailureKind.CONNECTION)


@dataclass(slots=True)
class BusStats:
    """Counters of one bus since it was opened."""

    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    exceptions: int = 0
    garbled: int = 0
    mismatched: int = 0
    late_replies: int = 0  # complete frames that came while no request was waiting
    discarded_bytes: int = 0  # unread input flushed before a request
    connects: int = 0
    connect_failures: int = 0


@dataclass(frozen=True, slots=True)
class _Write:
    table: Table
    address: int
    payload: list[int] | bool

    def describe(self) -> str:
        return f"write {self.table} {self.address}"


_Operation = ReadRequest | _Write


@dataclass(slots=True)
class _Job:
    operation: _Operation
    unit_id: int
    timeout_s: float
    frame_gap_s: float
    future: asyncio.Future[ModbusPDU | Failure]


class _ModbusBus:
    """What TCP and RTU buses share: the owner task, connection and bookkeeping."""

    _frames_have_crc = False

    def __init__(
        self,
        *,
        name: str,
        timeout_s: float,
        frame_gap_s: float,
        late_reply_guard_s: float | None,
        unsupported_retry_s: float,
        backoff_after: int,
        backoff_base_s: float,
        backoff_max_s: float,
        clock: Callable[[], float],
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        if frame_gap_s < 0:
            raise ValueError(f"frame_gap_s must not be negative, not {frame_gap_s}")
        if backoff_after < 1 or backoff_base_s <= 0 or backoff_max_s < backoff_base_s:
            raise ValueError("backoff needs after >= 1 and 0 < base_s <= max_s")
        self.name = name
        self.timeout_s = timeout_s
        self.frame_gap_s = frame_gap_s
        self.late_reply_guard_s = late_reply_guard_s
        self.unsupported_retry_s = unsupported_retry_s
        self.backoff_after = backoff_after
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self.stats = BusStats()
        self._devices: dict[str, ModbusDevice] = {}
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._queue: asyncio.PriorityQueue[tuple[int, int, _Job]] | None = None
        self._sequence = itertools.count()
        self._owner: asyncio.Task[None] | None = None
        self._in_flight = False
        self._rx_during_request = b""
        self._last_frame_end = 0.0
        self._last_timed_out: float | None = None  # guard length after a timeout
        self._timeouts_in_a_row = 0
        self._connect_error: BaseException | None = None
        self._connect_retry_at = 0.0
        self._connect_delay_s = 0.0

    # --- lifecycle ------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._client = self._make_client()
        self._record_connect_errors(self._client)
        self._queue = asyncio.PriorityQueue()
        failure = await self._ensure_connected(self.timeout_s)
        if failure is not None:
            log.warning(
                "%s: %s; devices stay unavailable until it works",
                self.name,
                failure.reason,
            )
        self._owner = asyncio.create_task(self._serve(), name=f"modbus bus {self.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._owner is not None:
            self._owner.cancel()
            await asyncio.wait([self._owner])  # our own cancel still propagates
            self._owner = None
        if self._queue is not None:
            while not self._queue.empty():
                _, _, job = self._queue.get_nowait()
                if not job.future.done():
                    job.future.set_result(
                        Failure(FailureKind.CONNECTION, f"bus {self.name} was closed")
                    )
        if self._client is not None:
            self._client.close()
            self._client = None
        log.info("%s: closed", self.name)

    def add_device(
        self,
        device_id: str,
        unit_id: int,
        profile: ModbusProfile,
        *,
        timeout_s: float | None = None,
        frame_gap_s: float | None = None,
    ) -> ModbusDevice:
        """A device on this bus; ``timeout_s``/``frame_gap_s`` override the bus's."""
        if not device_id:
            raise ValueError("device_id must not be empty")
        if device_id in self._devices:
            raise ValueError(f"device {device_id!r} is already on bus {self.name}")
        self._check_unit_id(unit_id)
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(
                f"{device_id}: timeout_s must be positive, not {timeout_s}"
            )
        own_gap = profile.frame_gap_ms / 1000 if frame_gap_s is None else frame_gap_s
        device = ModbusDevice(
            self,
            device_id,
            unit_id,
            profile,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            frame_gap_s=max(self.frame_gap_s, own_gap),
        )
        self._devices[device_id] = device
        return device

    @property
    def devices(self) -> tuple[ModbusDevice, ...]:
        return tuple(self._devices.values())

    # --- what TCP and RTU do differently ---------------------------------------

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        raise NotImplementedError

    def _check_unit_id(self, unit_id: int) -> None:
        raise NotImplementedError

    def _describe_connect_error(self, error: BaseException | None) -> str:
        raise NotImplementedError

    def _after_timeouts(self) -> None:
        """Called after each timeout; TCP drops a connection that went quiet."""

    # --- the owner task ----------------------------------------------------------

    async def submit(
        self, device: ModbusDevice, operation: _Operation, *, urgent: bool = False
    ) -> ModbusPDU | Failure:
        """Queue one request for ``device`` and wait for its reply or failure."""
        if self._queue is None or self._owner is None:
            raise RuntimeError(f"bus {self.name} is not open; use it as 'async with'")
        future: asyncio.Future[ModbusPDU | Failure] = (
            asyncio.get_running_loop().create_future()
        )
        job = _Job(
            operation, device.unit_id, device.timeout_s, device.frame_gap_s, future
        )
        priority = _WRITE if urgent else _READ
        self._queue.put_nowait((priority, next(self._sequence), job))
        return await future

    async def _serve(self) -> None:
        assert self._queue is not None
        me = asyncio.current_task()
        assert me is not None
        while True:
            if me.cancelling():
                # On Python 3.11 pymodbus's asyncio.wait_for can swallow a cancel
                # that lands as the reply arrives; the bus must still close.
                raise asyncio.CancelledError
            _, _, job = await self._queue.get()
            if job.future.done():  # the caller gave up while it was queued
                continue
            try:
                outcome = await self._transact(job)
            except Exception as exc:  # never let one request kill the bus
                log.exception(
                    "%s: unexpected error on %s", self.name, job.operation.describe()
                )
                outcome = Failure(FailureKind.CONNECTION, f"unexpected error: {exc!r}")
            if not job.future.done():
                job.future.set_result(outcome)

    async def _transact(self, job: _Job) -> ModbusPDU | Failure:
        failure = await self._ensure_connected(job.timeout_s)
        if failure is not None:
            return failure
        await self._wait_for_quiet_line(job)
        self._last_timed_out = None
        self._discard_input()

        assert self._client is not None
        loop = asyncio.get_running_loop()
        self.stats.requests += 1
        self._in_flight = True
        self._rx_during_request = b""
        try:
            async with asyncio.timeout(job.timeout_s):
                reply = await _send(self._client, job.operation, job.unit_id)
        except TimeoutError:
            self._last_timed_out = job.timeout_s
            return self._timeout_failure(job)
        except ModbusIOException as exc:
            self.stats.mismatched += 1
            return Failure(FailureKind.MISMATCH, f"unusable reply: {exc}")
        except (ConnectionException, OSError) as exc:
            self._client.close()
            return Failure(FailureKind.CONNECTION, f"connection lost: {exc}")
        finally:
            self._in_flight = False
            self._last_frame_end = loop.time()
        self._timeouts_in_a_row = 0
        return self._checked(job, reply)

    async def _ensure_connected(self, timeout_s: float) -> Failure | None:
        assert self._client is not None
        if self._client.connected:
            return None
        now = self.clock()
        if now < self._connect_retry_at:
            return Failure(
                FailureKind.CONNECTION,
                f"{self._describe_connect_error(self._connect_error)} "
                f"(next attempt in {self._connect_retry_at - now:.1f} s)",
            )
        self._connect_error = None
        try:
            async with asyncio.timeout(timeout_s):
                connected = await self._client.connect()
        except TimeoutError as exc:
            self._connect_error = exc
            connected = False
        if connected:
            self.stats.connects += 1
            self._connect_delay_s = 0.0
            self._connect_retry_at = 0.0
            log.info("%s: connected", self.name)
            return None
        self.stats.connect_failures += 1
        self._connect_delay_s = min(max(2 * self._connect_delay_s, 0.5), 30.0)
        self._connect_retry_at = now + self._connect_delay_s
        return Failure(
            FailureKind.CONNECTION, self._describe_connect_error(self._connect_error)
        )

    def _record_connect_errors(
        self, client: AsyncModbusTcpClient | AsyncModbusSerialClient
    ) -> None:
        """Keep the OSError that pymodbus' connect() logs and swallows, to name it."""
        create = client.ctx.call_create

        async def create_recording() -> Any:
            try:
                return await create()
            except OSError as exc:
                self._connect_error = exc
                raise

        client.ctx.call_create = create_recording

    async def _wait_for_quiet_line(self, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        ready_at = self._last_frame_end + job.frame_gap_s
        if self._last_timed_out is not None and self.late_reply_guard_s != 0:
            guard = (
                self._last_timed_out
                if self.late_reply_guard_s is None
                else self.late_reply_guard_s
            )
            ready_at = max(ready_at, self._last_frame_end + guard)
        if ready_at > loop.time():
            await asyncio.sleep(ready_at - loop.time())

    def _discard_input(self) -> None:
        """Drop whatever arrived since the last request: it answers nothing we ask."""
        assert self._client is not None
        ctx = self._client.ctx
        serial_port = getattr(ctx.transport, "sync_serial", None)
        waiting = len(ctx.recv_buffer)
        if serial_port is not None:
            waiting += serial_port.in_waiting
            serial_port.reset_input_buffer()
        ctx.recv_buffer = b""
        if waiting:
            self.stats.discarded_bytes += waiting
            log.debug(
                "%s: discarded %d stray bytes before a request", self.name, waiting
            )

    def _timeout_failure(self, job: _Job) -> Failure:
        received = self._rx_during_request
        what = f"unit {job.unit_id} {job.operation.describe()}"
        if not received:
            self.stats.timeouts += 1
            self._timeouts_in_a_row += 1
            self._after_timeouts()
            return Failure(
                FailureKind.TIMEOUT,
                f"timeout: no reply within {job.timeout_s:g} s to {what}",
            )
        self.stats.garbled += 1
        if (
            self._frames_have_crc
            and len(received) >= 4
            and not FramerRTU.check_CRC(
                received[:-2], int.from_bytes(received[-2:], "big")
            )
        ):
            problem = f"CRC error in the {len(received)} bytes received"
        else:
            problem = f"{len(received)} bytes received that form no valid reply"
        return Failure(
            FailureKind.GARBLED, f"{problem} ({received.hex(' ')}) to {what}"
        )

    def _checked(self, job: _Job, reply: ModbusPDU) -> ModbusPDU | Failure:
        operation = job.operation
        if reply.isError():
            self.stats.exceptions += 1
            code = reply.exception_code
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            return Failure(
                FailureKind.EXCEPTION,
                f"exception {code} ({name}) from unit {job.unit_id} to "
                f"{operation.describe()}",
                code,
            )
        problem = _mismatch(job, reply)
        if problem is not None:
            self.stats.mismatched += 1
            return Failure(
                FailureKind.MISMATCH,
                f"reply does not match {operation.describe()} to unit "
                f"{job.unit_id}: {problem}",
            )
        self.stats.replies += 1
        return reply

    # --- pymodbus trace hooks ---------------------------------------------------

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending and self._in_flight:
            self._rx_during_request = data
        return data

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending and not self._in_flight:
            self.stats.late_replies += 1
            log.debug(
                "%s: discarded a reply that came after its timeout: %s", self.name, pdu
            )
        elif not sending:
            self._rx_during_request = b""
        return pdu


async def _send(
    client: AsyncModbusTcpClient | AsyncModbusSerialClient,
    operation: _Operation,
    unit_id: int,
) -> ModbusPDU:
    if isinstance(operation, ReadRequest):
        read = {
            Table.COIL: client.read_coils,
            Table.DISCRETE: client.read_discrete_inputs,
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
        }[operation.table]
        return await read(operation.address, count=operation.count, device_id=unit_id)
    payload = operation.payload
    if isinstance(payload, bool):
        return await client.write_coil(operation.address, payload, device_id=unit_id)
    if len(payload) == 1:
        return await client.write_register(
            operation.address, payload[0], device_id=unit_id
        )
    return await client.write_registers(operation.address, payload, device_id=unit_id)


def _mismatch(job: _Job, reply: ModbusPDU) -> str | None:
    """What makes a well-formed reply not the answer to this job, if anything."""
    operation = job.operation
    if job.unit_id and reply.dev_id != job.unit_id:
        return f"it comes from unit {reply.dev_id}"
    if isinstance(operation, ReadRequest):
        if reply.function_code != operation.function_code:
            return f"function code {reply.function_code}"
        if operation.table.is_bits:
            expected_bits = (operation.count + 7) // 8 * 8
            if len(reply.bits) != expected_bits:
                return f"{len(reply.bits)} bits instead of {operation.count}"
        elif len(reply.registers) != operation.count:
            return f"{len(reply.registers)} registers instead of {operation.count}"
        return None
    payload = operation.payload
    expected: tuple[object, ...]
    got: tuple[object, ...]
    if isinstance(payload, bool):
        expected = (5, operation.address, [payload])
        got = (reply.function_code, reply.address, list(reply.bits[:1]))
    elif len(payload) == 1:
        expected = (6, operation.address, payload)
        got = (reply.function_code, reply.address, list(reply.registers))
    else:
        expected = (16, operation.address, len(payload))
        got = (reply.function_code, reply.address, reply.count)
    if got != expected:
        return f"the echo (function, address, value) is {got}, expected {expected}"
    return None


class ModbusTcpBus(_ModbusBus):
    """One Modbus TCP connection (to a meter or a TCP-to-RTU gateway).

    After ``reconnect_after_timeouts`` timeouts in a row with no reply at all, the
    connection is dropped and made again on the next request: a half-open TCP
    connection otherwise times out forever.
    """

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        timeout_s: float = 1.0,
        frame_gap_s: float = 0.0,
        reconnect_after_timeouts: int = 3,
        unsupported_retry_s: float = 600.0,
        backoff_after: int = 3,
        backoff_base_s: float = 10.0,
        backoff_max_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            name=f"modbus tcp {host}:{port}",
            timeout_s=timeout_s,
            frame_gap_s=frame_gap_s,
            late_reply_guard_s=0.0,  # transaction ids match replies to requests
            unsupported_retry_s=unsupported_retry_s,
            backoff_after=backoff_after,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.reconnect_after_timeouts = reconnect_after_timeouts

    def _make_client(self) -> AsyncModbusTcpClient:
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            name=self.name,
            reconnect_delay=0,  # we reconnect on the next request, with our backoff
            timeout=_PYMODBUS_BACKSTOP_S,
            retries=0,
            trace_packet=self._trace_packet,
            trace_pdu=self._trace_pdu,
        )
        client.set_max_no_responses(1 << 30)
        return client

    def _check_unit_id(self, unit_id: int) -> None:
        if not 0 <= unit_id <= 255:
            raise ValueError(f"a Modbus TCP unit id is 0 to 255, not {unit_id}")

    def _describe_connect_error(self, error: BaseException | None) -> str:
        where = f"{self.host}:{self.port}"
        if isinstance(error, ConnectionRefusedError):
            return f"connection refused by {where}"
        if isinstance(error, TimeoutError):
            return f"connecting to {where} timed out"
        if error is not None:
            return f"cannot connect to {where}: {error}"
        return f"cannot connect to {where}"

    def _after_timeouts(self) -> None:
        if self._timeouts_in_a_row >= self.reconnect_after_timeouts and self._client:
            log.warning(
                "%s: %d timeouts in a row; reconnecting",
                self.name,
                self._timeouts_in_a_row,
            )
            self._timeouts_in_a_row = 0
            self._client.close()


class ModbusRtuBus(_ModbusBus):
    """One RS-485 line (a serial port path such as ``/dev/ttyUSB0``) in Modbus RTU.

    ``frame_gap_s`` is the silence kept before each frame; by default 3.5 character
    times at the baud rate (at least 1.75 ms, as the RTU specification fixes above
    19200 baud). ``late_reply_guard_s`` is the silence kept after a timeout, so that a
    slow device's late reply is discarded instead of read as the next answer; by
    default it equals the timeout that expired.
    """

    _frames_have_crc = True

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        timeout_s: float = 1.0,
        frame_gap_s: float | None = None,
        late_reply_guard_s: float | None = None,
        unsupported_retry_s: float = 600.0,
        backoff_after: int = 3,
        backoff_base_s: float = 10.0,
        backoff_max_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if baudrate <= 0:
            raise ValueError(f"baudrate must be positive, not {baudrate}")
        if parity not in ("N", "E", "O"):
            raise ValueError(f"parity is N, E or O, not {parity!r}")
        if stopbits not in (1, 2) or bytesize not in (7, 8):
            raise ValueError(
                f"{bytesize} data bits and {stopbits} stop bits make no RTU frame"
            )
        if frame_gap_s is None:
            bits_per_char = 1 + bytesize + (parity != "N") + stopbits
            frame_gap_s = max(3.5 * bits_per_char / baudrate, 0.00175)
        super().__init__(
            name=f"modbus rtu {port}",
            timeout_s=timeout_s,
            frame_gap_s=frame_gap_s,
            late_reply_guard_s=late_reply_guard_s,
            unsupported_retry_s=unsupported_retry_s,
            backoff_after=backoff_after,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            clock=clock,
        )
        self.port = port
        self.baudrate = baudrate
        self.parity = parity
        self.stopbits = stopbits
        self.bytesize = bytesize

    def _make_client(self) -> AsyncModbusSerialClient:
        return AsyncModbusSerialClient(
            self.port,
            framer=FramerType.RTU,
            baudrate=self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
            name=self.name,
            reconnect_delay=0,
            timeout=_PYMODBUS_BACKSTOP_S,
            retries=0,
            trace_packet=self._trace_packet,
            trace_pdu=self._trace_pdu,
        )

    def _check_unit_id(self, unit_id: int) -> None:
        if not 1 <= unit_id <= 247:
            raise ValueError(f"a Modbus RTU unit id is 1 to 247, not {unit_id}")

    def _describe_connect_error(self, error: BaseException | None) -> str:
        if error is not None:
            return f"cannot open serial port {self.port}: {error}"
        return f"cannot open serial port {self.port}"


@dataclass(slots=True)
class _Refusal:
    reason: str
    retry_at: float


@dataclass(slots=True)
class _PollState:
    asked: bool = False
    answered: bool = False
    silent: Failure | None = None  # set when the device stopped answering this poll
    last_failure: Failure | None = None
    readings: dict[str, Reading] = field(default_factory=dict)


class ModbusDevice:
    """One unit on a bus, polled with its profile. Create with ``bus.add_device``."""

    def __init__(
        self,
        bus: _ModbusBus,
        device_id: str,
        unit_id: int,
        profile: ModbusProfile,
        *,
        timeout_s: float,
        frame_gap_s: float,
    ) -> None:
        self.bus = bus
        self.device_id = device_id
        self.unit_id = unit_id
        self.profile = profile
        self.timeout_s = timeout_s
        self.frame_gap_s = frame_gap_s
        self.online = False
        self.last_error: str | None = None
        self.consecutive_failures = 0
        self._resume_at = 0.0
        self._unsupported: dict[str, _Refusal] = {}
        # The requests of the last poll, with refused blocks replaced by the parts
        # that worked; None when it must be planned from the profile again.
        self._plan: list[ReadRequest] | None = None
        self._polling = asyncio.Lock()

    @property
    def unsupported(self) -> dict[str, str]:
        """Points the device refused (exception 2/3), with the reason."""
        return {name: refusal.reason for name, refusal in self._unsupported.items()}

    async def poll(self) -> list[Reading]:
        """One reading per point of the profile, in profile order; never raises
        for what the device or the bus does. Concurrent polls of one device run one
        after the other."""
        async with self._polling:
            return await self._poll()

    async def _poll(self) -> list[Reading]:
        now = self.bus.clock()
        if now < self._resume_at:
            return self._all_unavailable(
                f"not polled: unit {self.unit_id} failed {self.consecutive_failures} "
                f"polls in a row, next attempt in {self._resume_at - now:.1f} s "
                f"(last error: {self.last_error})"
            )
        due = [
            name
            for name, refusal in self._unsupported.items()
            if now >= refusal.retry_at
        ]
        if self._plan is None:
            self._plan = plan_profile(self.profile, skip=self._unsupported.keys())

        state = _PollState()
        learned: list[ReadRequest] = []
        for request in self._plan:
            learned += await self._read(request, state)
        self._plan = learned
        for name in due:
            await self._read(_single(self.profile.point(name)), state)
            if name not in self._unsupported:
                self._plan = None  # it answers again: merge it with its neighbours anew
        for name, refusal in self._unsupported.items():
            state.readings.setdefault(name, self._unavailable(name, refusal.reason))
        if state.asked:
            self._update_health(state)
        return [state.readings[point.name] for point in self.profile.points]

    async def write(self, point_name: str, value: object) -> Reading:
        """Write ``value`` to an ``access = "rw"`` point, then read it back.

        Coils go out as FC 05, one register as FC 06, more as FC 16. Returns the
        read-back reading (unavailable, with the reason, if the read-back failed after
        the write was acknowledged). Raises ``CommandError`` if the point is unknown or
        read-only, the value does not fit, or the device refused or did not answer.
        """
        try:
            point = self.profile.point(point_name)
        except KeyError as exc:
            raise CommandError(f"{self.device_id}: {exc.args[0]}") from None
        if not point.writable:
            raise CommandError(f"{self.device_id}: point {point_name!r} is read-only")
        try:
            payload = encode_point(point, value)
        except (TypeError, ValueError) as exc:
            raise CommandError(f"{self.device_id}: {exc}") from exc

        outcome = await self.bus.submit(
            self, _Write(point.table, point.address, payload), urgent=True
        )
        if isinstance(outcome, Failure):
            log.warning(
                "%s: writing %s = %r failed: %s",
                self.device_id,
                point_name,
                value,
                outcome.reason,
            )
            raise CommandError(
                f"{self.device_id}: writing {value!r} to {point_name!r} failed: "
                f"{outcome.reason}"
            )
        log.info("%s: wrote %s = %r", self.device_id, point_name, value)

        readback = await self.bus.submit(self, _single(point), urgent=True)
        if isinstance(readback, Failure):
            return self._unavailable(
                point_name, f"written, but the read-back failed: {readback.reason}"
            )
        return self._decode(point, _single(point), readback)

    # --- polling steps ---------------------------------------------------------

    async def _read(self, request: ReadRequest, state: _PollState) -> list[ReadRequest]:
        """Read one request into ``state``; return the requests worth repeating.

        That is the request itself, unless the device refused it: then the parts of it
        that worked, so the next poll neither asks for the refused registers again nor
        splits the same block again.
        """
        if state.silent is not None:
            self._mark_unavailable(request, state.silent.reason, state)
            return [request]
        state.asked = True
        outcome = await self.bus.submit(self, request)
        if not isinstance(outcome, Failure):
            state.answered = True
            for point in request.points:
                state.readings[point.name] = self._decode(point, request, outcome)
                self._forget_refusal(point.name)
            return [request]
        if outcome.kind is FailureKind.EXCEPTION:
            state.answered = True
            if outcome.exception_code in _SPLIT_ON:
                return await self._refused(request, outcome, state)
        if outcome.device_silent:
            state.silent = outcome
        state.last_failure = outcome
        self._mark_unavailable(request, outcome.reason, state)
        return [request]

    async def _refused(
        self, request: ReadRequest, failure: Failure, state: _PollState
    ) -> list[ReadRequest]:
        """Split a refused block until only the refused points are left out."""
        if len(request.points) > 1:
            log.debug("%s: %s; splitting the block", self.device_id, failure.reason)
            kept: list[ReadRequest] = []
            for part in split_request(request):
                kept += await self._read(part, state)
            return kept
        point = request.points[0]
        retry_s = self.bus.unsupported_retry_s
        reason = f"unsupported: {failure.reason}; retried every {retry_s:g} s"
        if point.name not in self._unsupported:
            log.warning("%s: point %s %s", self.device_id, point.name, reason)
        self._unsupported[point.name] = _Refusal(reason, self.bus.clock() + retry_s)
        state.readings[point.name] = self._unavailable(point.name, reason)
        return []

    def _forget_refusal(self, name: str) -> None:
        if self._unsupported.pop(name, None) is not None:
            log.info("%s: point %s answers again", self.device_id, name)

    def _decode(
        self, point: ModbusPoint, request: ReadRequest, reply: ModbusPDU
    ) -> Reading:
        part = request.slice_for(point)
        raw = reply.bits[part] if request.table.is_bits else reply.registers[part]
        return decode_point(self.device_id, point, raw)

    def _update_health(self, state: _PollState) -> None:
        if state.answered:
            if self.consecutive_failures:
                log.info(
                    "%s: unit %d answers again after %d failed polls",
                    self.device_id,
                    self.unit_id,
                    self.consecutive_failures,
                )
            elif not self.online:
                log.info("%s: unit %d online", self.device_id, self.unit_id)
            self.online = True
            self.consecutive_failures = 0
            self._resume_at = 0.0
            self.last_error = state.last_failure.reason if state.last_failure else None
            return

        failure = state.silent or state.last_failure
        reason = failure.reason if failure else "no reply"
        self.online = False
        self.last_error = reason
        self.consecutive_failures += 1
        if self.consecutive_failures == 1:
            log.warning("%s: no answer, points unavailable: %s", self.device_id, reason)
        else:
            log.debug(
                "%s: still no answer (%d): %s",
                self.device_id,
                self.consecutive_failures,
                reason,
            )
        if self.consecutive_failures >= self.bus.backoff_after:
            steps = self.consecutive_failures - self.bus.backoff_after
            delay = min(self.bus.backoff_base_s * 2**steps, self.bus.backoff_max_s)
            self._resume_at = self.bus.clock() + delay
            if steps == 0:
                log.info("%s: backing off, next attempt in %g s", self.device_id, delay)

    def _mark_unavailable(
        self, request: ReadRequest, reason: str, state: _PollState
    ) -> None:
        for point in request.points:
            state.readings[point.name] = self._unavailable(point.name, reason)

    def _unavailable(self, name: str, reason: str) -> Reading:
        unit = self.profile.point(name).unit
        return Reading(self.device_id, name, None, unit, Quality.UNAVAILABLE, reason)

    def _all_unavailable(self, reason: str) -> list[Reading]:
        return [self._unavailable(point.name, reason) for point in self.profile.points]


def _single(point: ModbusPoint) -> ReadRequest:
    return ReadRequest(point.table, point.address, point.registers, (point,))
