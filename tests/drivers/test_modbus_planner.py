"""The read planner: few requests, every point covered once, never past a limit."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus import DataType, ModbusPoint, ReadRequest, Table, load_profile
from drivers.modbus.planner import plan_profile, plan_reads, split_request

REGISTER_TYPES = [t for t in DataType if t is not DataType.BOOL]


@st.composite
def point_sets(draw: st.DrawFn) -> list[ModbusPoint]:
    """Non-overlapping points scattered over the four tables."""
    points: list[ModbusPoint] = []
    for table in Table:
        address = draw(st.integers(0, 200))
        for index in range(draw(st.integers(0, 12))):
            data_type = (
                DataType.BOOL
                if table.is_bits
                else draw(st.sampled_from(REGISTER_TYPES))
            )
            points.append(ModbusPoint(f"{table}_{index}", table, address, data_type))
            address += data_type.registers + draw(st.integers(0, 30))
    return points


def fewest_requests(points: list[ModbusPoint], limit: int, max_gap: int) -> int:
    """The optimum by dynamic programming over runs of neighbours, per table."""
    total = 0
    for table in Table:
        ordered = sorted(
            (p for p in points if p.table is table), key=lambda p: p.address
        )
        best = [0] + [len(ordered) + 1] * len(ordered)
        for end in range(1, len(ordered) + 1):
            for start in range(end):
                run = ordered[start:end]
                gaps_ok = all(
                    b.address - a.end <= max_gap for a, b in itertools.pairwise(run)
                )
                if gaps_ok and run[-1].end - run[0].address <= limit:
                    best[end] = min(best[end], best[start] + 1)
        total += best[-1]
    return total


def assert_covers_once(requests: list[ReadRequest], points: list[ModbusPoint]) -> None:
    covered = [point.name for request in requests for point in request.points]
    assert sorted(covered) == sorted(point.name for point in points)
    for request in requests:
        for point in request.points:
            assert point.table is request.table
            assert request.address <= point.address
            assert point.end <= request.address + request.count


@settings(max_examples=150, deadline=None)
@given(
    point_sets(),
    st.integers(4, 125),
    st.integers(0, 20),
    st.integers(1, 2000),
)
def test_plan_respects_limits_and_covers_every_point_once(
    points: list[ModbusPoint], max_registers: int, max_gap: int, max_bits: int
) -> None:
    requests = plan_reads(
        points, max_registers=max_registers, max_gap=max_gap, max_bits=max_bits
    )

    assert_covers_once(requests, points)
    for request in requests:
        limit = max_bits if request.table.is_bits else max_registers
        assert 1 <= request.count <= limit
        assert request.address + request.count - 1 <= 0xFFFF
    assert len(requests) == fewest_requests(points, max_registers, max_gap) or any(
        p.table.is_bits for p in points
    )


@settings(max_examples=100, deadline=None)
@given(point_sets(), st.integers(4, 125), st.integers(0, 20))
def test_plan_is_minimal(
    points: list[ModbusPoint], max_registers: int, max_gap: int
) -> None:
    registers_only = [p for p in points if not p.table.is_bits]

    requests = plan_reads(registers_only, max_registers=max_registers, max_gap=max_gap)

    assert len(requests) == fewest_requests(registers_only, max_registers, max_gap)


@settings(max_examples=100, deadline=None)
@given(point_sets(), st.data())
def test_skipped_points_are_not_read(
    points: list[ModbusPoint], data: st.DataObject
) -> None:
    names = [point.name for point in points]
    skip = (
        set(data.draw(st.lists(st.sampled_from(names), unique=True)))
        if names
        else set()
    )

    requests = plan_reads(points, skip=skip)

    assert_covers_once(requests, [p for p in points if p.name not in skip])


@settings(max_examples=100, deadline=None)
@given(point_sets())
def test_single_point_reads_ask_for_exactly_one_point(
    points: list[ModbusPoint],
) -> None:
    requests = plan_reads(points, single_point_reads=True)

    assert len(requests) == len(points)
    for request in requests:
        (point,) = request.points
        assert (request.address, request.count) == (point.address, point.registers)


@settings(max_examples=100, deadline=None)
@given(point_sets(), st.booleans())
def test_split_keeps_every_point_in_a_smaller_request(
    points: list[ModbusPoint], per_point: bool
) -> None:
    for request in plan_reads(points, max_gap=40):
        if len(request.points) < 2:
            continue
        parts = split_request(request, per_point=per_point)

        assert len(parts) == (len(request.points) if per_point else 2)
        assert_covers_once(parts, list(request.points))
        for part in parts:
            assert part.count <= request.count
            assert len(part.points) < len(request.points)


def test_merges_neighbours_within_the_gap() -> None:
    a = ModbusPoint("a", Table.INPUT, 0, DataType.FLOAT32)
    b = ModbusPoint("b", Table.INPUT, 12, DataType.FLOAT32)  # 10 unused between
    c = ModbusPoint("c", Table.INPUT, 25, DataType.FLOAT32)  # 11 unused between

    requests = plan_reads([c, a, b], max_gap=10)

    assert [(r.address, r.count, [p.name for p in r.points]) for r in requests] == [
        (0, 14, ["a", "b"]),
        (25, 2, ["c"]),
    ]


def test_never_splits_a_field_at_the_register_limit() -> None:
    points = [
        ModbusPoint(f"p{i}", Table.HOLDING, 4 * i, DataType.INT64) for i in range(3)
    ]

    requests = plan_reads(points, max_registers=10)

    assert [(r.address, r.count) for r in requests] == [(0, 8), (8, 4)]


def test_coils_merge_up_to_2000_bits() -> None:
    points = [
        ModbusPoint(f"c{i}", Table.COIL, i * 10, DataType.BOOL) for i in range(250)
    ]

    requests = plan_reads(points)

    assert [(r.address, r.count) for r in requests] == [(0, 1991), (2000, 491)]


def test_sdm120_needs_three_requests() -> None:
    requests = plan_profile(load_profile("eastron_sdm120"))

    assert [(r.function_code, r.address, r.count) for r in requests] == [
        (4, 0, 32),
        (4, 70, 10),
        (4, 342, 4),
    ]


def test_a_single_point_cannot_be_split() -> None:
    point = ModbusPoint("a", Table.INPUT, 0, DataType.FLOAT32)

    with pytest.raises(ValueError, match="cannot be split"):
        split_request(ReadRequest(Table.INPUT, 0, 2, (point,)))
