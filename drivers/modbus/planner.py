"""Which read requests fetch a device's points: few requests, within every limit.

Pure functions. Points of one table are merged into one request while the unused
registers between neighbours stay within ``max_gap`` and the request within the
device's maximum; a point is never split across requests. Merging neighbours
greedily in address order gives the fewest requests, because every limit only ever
gets easier for a shorter run of neighbours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from drivers.modbus.profile import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    ModbusPoint,
    ModbusProfile,
    Table,
)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[ModbusPoint, ...]

    @property
    def function_code(self) -> int:
        return self.table.read_function

    def describe(self) -> str:
        unit = "bits" if self.table.is_bits else "registers"
        return (
            f"FC {self.function_code:02d} {self.table} {self.address}"
            f"..{self.address + self.count - 1} ({self.count} {unit})"
        )

    def slice_for(self, point: ModbusPoint) -> slice:
        start = point.address - self.address
        return slice(start, start + point.registers)


def plan_reads(
    points: Iterable[ModbusPoint],
    *,
    max_registers: int = MAX_READ_REGISTERS,
    max_bits: int = MAX_READ_BITS,
    max_gap: int = 10,
    single_point_reads: bool = False,
    skip: Collection[str] = (),
) -> list[ReadRequest]:
    """The fewest read requests that cover every point not named in ``skip``."""
    if not 1 <= max_registers <= MAX_READ_REGISTERS:
        raise ValueError(
            f"max_registers {max_registers} is not 1..{MAX_READ_REGISTERS}"
        )
    if not 1 <= max_bits <= MAX_READ_BITS:
        raise ValueError(f"max_bits {max_bits} is not 1..{MAX_READ_BITS}")
    wanted = [point for point in points if point.name not in skip]
    requests: list[ReadRequest] = []
    for table in Table:
        ordered = sorted(
            (point for point in wanted if point.table is table),
            key=lambda point: (point.address, point.end),
        )
        limit = max_bits if table.is_bits else max_registers
        if single_point_reads:
            requests.extend(_request([point]) for point in ordered)
        else:
            requests.extend(_merge(ordered, limit=limit, max_gap=max_gap))
    return requests


def plan_profile(
    profile: ModbusProfile,
    *,
    max_registers: int | None = None,
    skip: Collection[str] = (),
) -> list[ReadRequest]:
    """``plan_reads`` with the quirks a profile states (and an optional lower cap)."""
    cap = profile.max_registers
    if max_registers is not None:
        cap = min(cap, max_registers)
    return plan_reads(
        profile.points,
        max_registers=cap,
        max_gap=profile.max_gap,
        single_point_reads=profile.single_point_reads,
        skip=skip,
    )


def split_request(
    request: ReadRequest, *, per_point: bool = False
) -> list[ReadRequest]:
    """Smaller requests covering the same points: two halves, or one per point.

    Used when a device refuses a merged block (exception 2 or 3): halving finds the
    refused point in a few steps while the other points keep arriving.
    """
    if len(request.points) < 2:
        raise ValueError(
            f"a request for one point cannot be split: {request.describe()}"
        )
    points = sorted(request.points, key=lambda point: (point.address, point.end))
    if per_point:
        return [_request([point]) for point in points]
    half = len(points) // 2
    return [_request(points[:half]), _request(points[half:])]


def _merge(
    ordered: Sequence[ModbusPoint], *, limit: int, max_gap: int
) -> list[ReadRequest]:
    requests: list[ReadRequest] = []
    run: list[ModbusPoint] = []
    start = end = 0
    for point in ordered:
        if point.registers > limit:
            raise ValueError(
                f"point {point.name!r} takes {point.registers}, over the limit {limit}"
            )
        if (
            run
            and point.address - end <= max_gap
            and max(end, point.end) - start <= limit
        ):
            run.append(point)
            end = max(end, point.end)
            continue
        if run:
            requests.append(_request(run))
        run, start, end = [point], point.address, point.end
    if run:
        requests.append(_request(run))
    return requests


def _request(points: Sequence[ModbusPoint]) -> ReadRequest:
    start = min(point.address for point in points)
    end = max(point.end for point in points)
    return ReadRequest(points[0].table, start, end - start, tuple(points))
